"""The cloud suites' docker tier covers what the full matrix covers.

`test_cloud_topologies.py` runs every topology on netns and a subset on docker
(DOCKER_COVER). The subset must reach every overlay file any topology of the suite
is built from (provider, egress variant, shared base, a load balancer added to a
provider) and every topology file that wires nodes or links of its own (what docker
builds differently), plus an open-rules control and a closed one (a file that only
changes the rules is covered by those two); the oracle is the topology files' own
`extends:` chains and keys, read here with plain YAML.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.catalog import TOPOLOGY_DIR
from lab.schema import load_topology
from suites.fixtures import lab
from suites.functional.cloud import test_cloud_topologies as cloud
from suites.functional.cloud import test_dns_flood as flood
from suites.functional.cloud import test_ipv6_bypass as ipv6

pytestmark = pytest.mark.unit


WIRING = {"nodes", "links"}  # keys whose content the docker backend builds its own way


def keys(path: Path) -> dict[str, yaml.Node]:
    """The top-level keys of a topology file (overlay tags untouched)."""
    root = yaml.compose(path.read_text(), Loader=yaml.SafeLoader)
    return {k.value: v for k, v in root.value} if root is not None else {}


def chain(path: Path) -> set[Path]:
    """`path` and every file it extends, transitively."""
    found = [v for k, v in keys(path).items() if k == "extends"]
    bases = [found[0].value] if found and isinstance(found[0].value, str) else [
        item.value for item in (found[0].value if found else [])]
    files = {path.resolve()}
    for base in bases:
        files |= chain(path.parent / base)
    return files


def built_from(names: list[str]) -> set[Path]:
    """Every file the named topologies are built from, themselves included."""
    return set().union(*(chain(TOPOLOGY_DIR / f"{n}.yaml") for n in names))


def overlays(names: list[str]) -> set[Path]:
    """The files the docker cover must reach: the shared overlays (cloud/) and every
    topology file of `names`' chains that adds nodes or links of its own."""
    return {f for f in built_from(names)
            if f.parent.name == "cloud" or WIRING & set(keys(f))}


def test_the_docker_subset_reaches_every_overlay_of_the_cloud_suite() -> None:
    assert set(cloud.DOCKER_COVER) <= set(cloud.TOPOLOGIES)
    wanted = overlays(cloud.TOPOLOGIES)
    # base, two providers, three egress variants, the Azure GWLB, the public-LB inbound
    assert len(wanted) >= 8
    reached = built_from(cloud.DOCKER_COVER)
    assert wanted - reached == set(), sorted(str(f) for f in wanted - reached)


def test_the_docker_subset_holds_an_open_rules_control_and_a_closed_one() -> None:
    assert set(cloud.DOCKER_COVER) & cloud.SG_OPEN
    assert set(cloud.DOCKER_COVER) - cloud.SG_OPEN


def test_the_flood_suite_runs_on_docker_where_it_runs_on_netns() -> None:
    assert flood.DOCKER_COVER
    assert set(flood.DOCKER_COVER) <= set(flood.TOPOLOGIES)


def test_the_flood_suite_reaches_every_overlay_of_the_azure_topologies() -> None:
    """Its docstring's choice: every Azure egress design and each added load balancer."""
    azure = [n for n in cloud.TOPOLOGIES if n.startswith("azure-") and n not in cloud.SG_OPEN]
    wanted = overlays(azure)
    missing = wanted - built_from(flood.TOPOLOGIES)
    assert missing == set(), sorted(str(f) for f in missing)


def test_the_ipv6_docker_subset_reaches_every_overlay_and_both_outcomes() -> None:
    """The IPv6 module's docker cover: every wiring file of its five topologies, and the
    bypass row's two answers (read from the routes, as the module reads them)."""
    assert set(ipv6.DOCKER_COVER) <= set(ipv6.TOPOLOGIES)
    missing = overlays(ipv6.TOPOLOGIES) - built_from(ipv6.DOCKER_COVER)
    assert missing == set(), sorted(str(f) for f in missing)
    outcomes = {ipv6._bypass_route(load_topology(TOPOLOGY_DIR / f"{n}.yaml")) is not None
                for n in ipv6.DOCKER_COVER}
    assert outcomes == {True, False}


def test_the_ipv6_oracle_sees_the_gwlb_variant_left_out() -> None:
    without = [n for n in ipv6.DOCKER_COVER if not n.endswith("-connector")]
    missing = overlays(ipv6.TOPOLOGIES) - built_from(without)
    assert (TOPOLOGY_DIR / "aws-natgw-ipv6-connector.yaml").resolve() in missing


def test_the_oracle_sees_a_missing_overlay() -> None:
    """Without the partial-natgw topology the cover misses its egress overlay."""
    without = [n for n in cloud.DOCKER_COVER if "partial" not in n]
    assert (TOPOLOGY_DIR / "cloud" / "partial-natgw.yaml").resolve() not in built_from(without)


@pytest.mark.parametrize(("left_out", "overlay"), [
    ("azure-gwlb-", "cloud/azure-gwlb.yaml"),  # a shared overlay
    ("azure-plb-inbound", "azure-plb-inbound.yaml"),  # a topology wiring its own nodes
])
def test_the_oracle_sees_a_new_load_balancer_left_out(left_out: str, overlay: str) -> None:
    without = [n for n in cloud.DOCKER_COVER if not n.startswith(left_out)]
    missing = overlays(cloud.TOPOLOGIES) - built_from(without)
    assert (TOPOLOGY_DIR / overlay).resolve() in missing


def test_a_file_that_only_changes_the_rules_is_no_wiring_overlay() -> None:
    """insecure.yaml opens the rules of aws-no-natgw and wires nothing: the open-rules
    control stands for it on docker."""
    assert (TOPOLOGY_DIR / "insecure.yaml").resolve() not in overlays(["insecure"])
    assert (TOPOLOGY_DIR / "azure-plb-inbound.yaml").resolve() in overlays(
        ["azure-plb-inbound"])


def test_the_whole_matrix_lifts_every_docker_cover(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test-matrix` (CCLAB_DOCKER_COVER=all): each name on both backends, the
    names a cover leaves out included; `make test`: docker only where the cover says
    (set here either way: the run's own environment may ask for the whole matrix)."""

    def docker_ids() -> list[str]:
        return [p.id for p in lab.on_each_backend(flood.TOPOLOGIES, docker=flood.DOCKER_COVER)
                if p.id.endswith("-docker")]

    monkeypatch.setattr(lab, "WHOLE_MATRIX", False)
    assert docker_ids() == [f"{n}-docker" for n in flood.TOPOLOGIES if n in flood.DOCKER_COVER]
    monkeypatch.setattr(lab, "WHOLE_MATRIX", True)
    assert docker_ids() == [f"{n}-docker" for n in flood.TOPOLOGIES]
    assert [p.id for p in lab.on_each_backend(["azure-no-natgw"], docker=[])] == [
        "azure-no-natgw-netns", "azure-no-natgw-docker"]
