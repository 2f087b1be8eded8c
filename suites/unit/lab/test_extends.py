"""`extends:` chains: read order, cycles, missing files, file options, and where problems point."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.catalog import TOPOLOGY_DIR, shipped_topologies
from lab.errors import TopologyError
from lab.extends import read_document
from lab.schema import load_topology
from lab.services import KINDS

pytestmark = pytest.mark.unit

BASE = """\
name: base
links:
  - name: a
    subnet: 10.0.1.0/24
    endpoints:
      - {node: h, ifname: eth0, address: 10.0.1.10}
      - {node: r, ifname: eth-a, address: 10.0.1.1}
nodes:
  h:
    routes: [{to: default, via: 10.0.1.1}]
  r:
    role: router
"""


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def problems(path: Path) -> list[tuple[str, int | None, str, str]]:
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    return [(Path(i.file).name, i.line, i.path, i.message) for i in caught.value.issues]


def test_a_topology_is_its_bases_with_its_own_overlay(tmp_path: Path) -> None:
    write(tmp_path, {"base.yaml": BASE, "top.yaml": """\
extends: base.yaml
name: top
links:
  - name: b
    subnet: 10.0.2.0/24
    endpoints:
      - {node: r, ifname: eth-b, address: 10.0.2.1}
      - {node: s, ifname: eth0, address: 10.0.2.10}
nodes:
  s: {role: server, before: h}
"""})
    topo = load_topology(tmp_path / "top.yaml")
    assert topo.name == "top"
    assert [n.name for n in topo.nodes] == ["s", "h", "r"]
    assert [i.name for i in topo.node("r").interfaces] == ["eth-a", "eth-b"]
    assert topo.source == tmp_path / "top.yaml"


def test_a_base_two_overlays_share_is_laid_once(tmp_path: Path) -> None:
    # Laid twice, base.yaml's dns would undo left.yaml's.
    write(tmp_path, {
        "base.yaml": BASE + "dns: [10.0.1.1]\n",
        "left.yaml": "extends: base.yaml\ndns: [10.0.1.10]\n",
        "right.yaml": "extends: base.yaml\nnodes: {h: {role: server}}\n",
        "top.yaml": "extends: [left.yaml, right.yaml]\n",
    })
    topo = load_topology(tmp_path / "top.yaml")
    assert [str(a) for a in topo.dns] == ["10.0.1.10"]
    assert topo.node("h").role == "server"


def test_circular_extends_is_reported_where_it_closes(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": "extends: b.yaml\n" + BASE, "b.yaml": "extends: [a.yaml]\n"})
    assert problems(tmp_path / "a.yaml") == [
        ("b.yaml", 1, "extends[0]", "circular extends: a.yaml -> b.yaml -> a.yaml")]


def test_every_missing_or_bad_base_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, {"base.yaml": "name: [\n", "top.yaml": """\
extends:
  - base.yaml
  - nowhere.yaml
  - {file: x.yaml}
"""})
    found = problems(tmp_path / "top.yaml")
    assert [(f, line, path) for f, line, path, _ in found] == [
        ("base.yaml", 2, "(yaml)"), ("top.yaml", 3, "extends[1]"), ("top.yaml", 4, "extends[2]")]
    assert found[1][3].startswith("cannot read ")
    assert found[2][3] == "must name a topology file"


def test_a_problem_is_reported_in_the_file_and_at_the_path_it_was_written(
        tmp_path: Path) -> None:
    write(tmp_path, {"base.yaml": BASE, "top.yaml": """\
extends: base.yaml
links:
  - name: a
    endpoints:
      - {node: h, ifname: eth0, address: 10.0.9.10}
nodes:
  r:
    routes: [{to: default, via: 10.0.1.99}]
"""})
    assert problems(tmp_path / "top.yaml") == [
        ("base.yaml", 10, "nodes.h.routes[0].via", "10.0.1.1 is not on any link of 'h'"),
        ("top.yaml", 5, "links[0].endpoints[0].address",
         "10.0.9.10/24 is not in subnet 10.0.1.0/24 of link 'a'"),
        ("top.yaml", 8, "nodes.r.routes[0].via",
         "route to 0.0.0.0/0 via 10.0.1.99: no node owns 10.0.1.99"),
    ]


def test_problems_in_the_base_come_first_and_name_the_base(tmp_path: Path) -> None:
    write(tmp_path, {"base.yaml": BASE.replace("role: router", "role: rooter"),
                     "top.yaml": "extends: base.yaml\nnodes: {h: {role: hst}}\n"})
    found = problems(tmp_path / "top.yaml")
    assert [(f, line, path) for f, line, path, _ in found] == [
        ("base.yaml", 12, "nodes.r.role"), ("top.yaml", 2, "nodes.h.role")]


def test_a_file_option_is_relative_to_the_file_it_is_written_in(tmp_path: Path) -> None:
    write(tmp_path, {
        "parts/base.yaml": BASE + "    services: [{kind: zpa-cloud, listen: 10.0.1.1, "
                                  "policy: ../policies/p.yaml}]\n",
        "policies/p.yaml": "{}\n",
        "top.yaml": "extends: parts/base.yaml\n",
    })
    topo = load_topology(tmp_path / "top.yaml")
    assert topo.node("r").services[0].option("policy") == "policies/p.yaml"


def test_a_missing_file_option_names_the_base_line(tmp_path: Path) -> None:
    write(tmp_path, {
        "parts/base.yaml": BASE + "    services: [{kind: zpa-cloud, listen: 10.0.1.1, "
                                  "policy: p.yaml}]\n",
        "top.yaml": "extends: parts/base.yaml\n",
    })
    assert problems(tmp_path / "top.yaml") == [
        ("base.yaml", 13, "nodes.r.services[0].policy", "file not found: parts/p.yaml")]


@pytest.mark.parametrize("name", shipped_topologies())
def test_a_shipped_topology_uses_only_what_docker_mounts(name: str) -> None:
    # The docker backend mounts the topology's folder, and nothing else, in every node.
    path = TOPOLOGY_DIR / f"{name}.yaml"
    assert all(Path(f).resolve().is_relative_to(TOPOLOGY_DIR.resolve())
               for f in read_document(path.read_text(), path).files)
    topo = load_topology(path)
    files = [s.option(key) for n in topo.nodes for s in n.services for key in KINDS[s.kind].files]
    assert all(not f.startswith(("/", "..")) for f in files), files


def test_a_control_character_in_a_base_is_a_problem_on_its_line(tmp_path: Path) -> None:
    """YAML allows no control character: a problem placed in the base's file and line,
    not an exception out of the YAML reader."""
    write(tmp_path, {"base.yaml": BASE.replace("role: router", "role: rou\x07ter"),
                     "top.yaml": "extends: base.yaml\n"})
    line = BASE.splitlines().index(next(s for s in BASE.splitlines() if "role: router" in s))
    assert problems(tmp_path / "top.yaml") == [
        ("base.yaml", line + 1, "(yaml)", "not valid YAML: unacceptable character #x0007: "
         "special characters are not allowed")]
