"""The host's wiring of a `cclab up` docker lab (lab.backends.docker_wiring), read against
the topology it wires: one bridge per link, one veth per interface, each container end
under the plan's name in its node's namespace, each host end on its link's bridge."""

from __future__ import annotations

import shlex

import pytest

from lab.backends.docker_wiring import bridge_alias, host_port, wiring_lines
from lab.catalog import shipped_topologies, topology_path
from lab.compose import ComposePaths, bridge_name, render_compose
from lab.schema import load_topology

pytestmark = pytest.mark.unit


def _parsed(lines: list[str]) -> list[list[str]]:
    return [shlex.split(line) for line in lines]


@pytest.mark.parametrize("name", shipped_topologies())
def test_every_interface_gets_a_veth_into_its_node_and_onto_its_links_bridge(name: str) -> None:
    topo = load_topology(topology_path(name))
    pids = {node.name: 1000 + i for i, node in enumerate(topo.nodes)}
    words = _parsed(wiring_lines(topo, "lab1", pids))
    bridges = {w[2] for w in words if w[:2] == ["link", "add"] and w[-2:] == ["type", "bridge"]}
    assert bridges == {bridge_name("lab1", net.name) for net in topo.networks}
    veths = {(w[7], int(w[9])): w[2] for w in words if "veth" in w}  # (peer, pid): host end
    # everything the host makes carries the lab's name: destroy finds it by that alone
    aliased = {w[3] for w in words if w[:2] == ["link", "set"] and "alias" in w}
    assert aliased == bridges | set(veths.values())
    assert all(w[w.index("alias") + 1] == bridge_alias("lab1") for w in words if "alias" in w)
    wanted = {(i.name, pids[node.name]): (node.name, i) for node in topo.nodes
              for i in node.interfaces}
    assert veths.keys() == wanted.keys()
    masters = {w[3]: w[5] for w in words if "master" in w}
    for key, (node, iface) in wanted.items():
        port = veths[key]
        assert port == host_port("lab1", node, iface.name)
        assert masters[port] == bridge_name("lab1", iface.network)
    # a bridge is made before a port is put on it
    order = [w[2] if "bridge" in w else w[3] for w in words if w[1] == "add" or "master" in w]
    assert all(order.index(masters[p]) < order.index(p) for p in masters)


def test_host_ports_fit_a_device_name_and_never_meet_across_labs() -> None:
    triples = {(instance, node.name, iface.name)
               for instance in ("lab1", "lab2", "pt-cloud-aws-natgw-1")
               for name in shipped_topologies()
               for node in load_topology(topology_path(name)).nodes
               for iface in node.interfaces}
    names = {host_port(*triple) for triple in triples}
    assert len(names) == len(triples)  # two labs up at once share no host device name
    assert max(len(n) for n in names) <= 15  # IFNAMSIZ


def test_a_lab_the_host_wires_has_no_docker_network_and_a_users_file_keeps_them() -> None:
    topo = load_topology(topology_path("minimal"))
    wired = render_compose(topo, "m", ComposePaths("/t", "minimal.yaml", "/r",
                                                   wired_by_host=True))
    assert "networks" not in wired
    assert {s["network_mode"] for s in wired["services"].values()} == {"none"}
    assert not any("networks" in s for s in wired["services"].values())
    users = render_compose(topo, "m", ComposePaths("/t", "minimal.yaml", "/r"))
    assert {n["internal"] for n in users["networks"].values()} == {True}
    assert not any("network_mode" in s for s in users["services"].values())
