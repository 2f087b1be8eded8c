"""The cloud suites' docker tier covers what the full matrix covers.

`test_cloud_topologies.py` runs every topology on netns and a subset on docker
(DOCKER_COVER). The subset must reach every overlay file any topology of the suite
is built from (provider, egress variant, shared base) and an open-rules control;
the oracle is the topology files' own `extends:` chains, read here with plain YAML.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.catalog import TOPOLOGY_DIR
from suites.functional.cloud import test_cloud_topologies as cloud
from suites.functional.cloud import test_dns_flood as flood

pytestmark = pytest.mark.unit


def chain(path: Path) -> set[Path]:
    """`path` and every file it extends, transitively."""
    root = yaml.compose(path.read_text(), Loader=yaml.SafeLoader)  # overlay tags untouched
    found = [v for k, v in root.value if k.value == "extends"] if root is not None else []
    bases = [found[0].value] if found and isinstance(found[0].value, str) else [
        item.value for item in (found[0].value if found else [])]
    files = {path.resolve()}
    for base in bases:
        files |= chain(path.parent / base)
    return files


def built_from(names: list[str]) -> set[Path]:
    """Every file the named topologies are built from, themselves included."""
    return set().union(*(chain(TOPOLOGY_DIR / f"{n}.yaml") for n in names))


def test_the_docker_subset_reaches_every_overlay_of_the_cloud_suite() -> None:
    assert set(cloud.DOCKER_COVER) <= set(cloud.TOPOLOGIES)
    shared = {f for f in built_from(cloud.TOPOLOGIES) if f.parent.name == "cloud"}
    assert len(shared) >= 5  # base, two providers, three egress variants
    reached = built_from(cloud.DOCKER_COVER)
    assert shared - reached == set(), sorted(str(f) for f in shared - reached)


def test_the_docker_subset_holds_an_open_rules_control_and_a_closed_one() -> None:
    assert set(cloud.DOCKER_COVER) & cloud.SG_OPEN
    assert set(cloud.DOCKER_COVER) - cloud.SG_OPEN


def test_the_flood_suite_runs_on_docker_where_it_runs_on_netns() -> None:
    assert flood.DOCKER_COVER
    assert set(flood.DOCKER_COVER) <= set(flood.TOPOLOGIES)


def test_the_oracle_sees_a_missing_overlay() -> None:
    """Without the partial-natgw topology the cover misses its egress overlay."""
    without = [n for n in cloud.DOCKER_COVER if "partial" not in n]
    assert (TOPOLOGY_DIR / "cloud" / "partial-natgw.yaml").resolve() not in built_from(without)
