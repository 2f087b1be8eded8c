"""The compose model of a topology: sealed networks, the node's sysctls, stable names."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from lab.backends.docker_fabric import rule6_specs, rule_specs
from lab.catalog import TOPOLOGY_DIR
from lab.compose import ComposePaths, bridge_name, host_side_address, render_compose
from lab.plan import build_plan, steps_for_node
from lab.schema import load_topology, parse_topology
from lab.steps import StartService, WaitReady

pytestmark = pytest.mark.unit

PATHS = ComposePaths("/topo", "gwlb.yaml", "/run/cclab/x")


@pytest.fixture(scope="module")
def gwlb() -> dict:
    return render_compose(load_topology(TOPOLOGY_DIR / "gwlb.yaml"), "x", PATHS)


def test_every_network_is_internal_and_no_port_is_published(gwlb: dict) -> None:
    assert all(net["internal"] is True for net in gwlb["networks"].values())
    assert not any("ports" in svc or "privileged" in svc or "network_mode" in svc
                   for svc in gwlb["services"].values())
    caps = {name: tuple(svc["cap_add"]) for name, svc in gwlb["services"].items()}
    # cc1's config asks for the GENEVE fast path (a BPF program), and the GWLB runs with
    # its own (`fast-path: "on"`): SYS_ADMIN, as docker 20.10 has no CAP_BPF; cc2's
    # config does not, nor does any other node's
    assert caps.pop("cc1") == ("NET_ADMIN", "SYS_ADMIN")
    assert caps.pop("gwlb") == ("NET_ADMIN", "SYS_ADMIN")
    assert set(caps.values()) == {("NET_ADMIN",)}


def test_a_connector_with_the_routed_fast_path_gets_sys_admin() -> None:
    """minimal's cc1 asks for runtime.routed_fast_path (a BPF program too); no other
    node of that lab loads one."""
    minimal = render_compose(load_topology(TOPOLOGY_DIR / "minimal.yaml"), "x", PATHS)
    caps = {name: tuple(svc["cap_add"]) for name, svc in minimal["services"].items()}
    assert caps.pop("cc1") == ("NET_ADMIN", "SYS_ADMIN")
    assert set(caps.values()) == {("NET_ADMIN",)}


def test_a_gwlb_without_its_fast_path_gets_no_sys_admin() -> None:
    topo = load_topology(TOPOLOGY_DIR / "gwlb.yaml")
    nodes = tuple(replace(n, services=tuple(
        replace(s, options=tuple((k, "off" if k == "fast-path" else v) for k, v in s.options))
        for s in n.services)) if n.name == "gwlb" else n for n in topo.nodes)
    gwlb = render_compose(replace(topo, nodes=nodes), "x", PATHS)["services"]["gwlb"]
    assert tuple(gwlb["cap_add"]) == ("NET_ADMIN",)


def test_each_endpoint_keeps_its_planned_address(gwlb: dict) -> None:
    topo = load_topology(TOPOLOGY_DIR / "gwlb.yaml")
    for node in topo.nodes:
        nets = gwlb["services"][node.name]["networks"]
        assert {k: v["ipv4_address"] for k, v in nets.items()} == {
            i.network: str(i.address.ip) for i in node.interfaces}


def test_tun_only_for_nodes_whose_services_open_it(gwlb: dict) -> None:
    with_tun = {name for name, svc in gwlb["services"].items() if "devices" in svc}
    assert with_tun == {"gwlb", "cc1", "cc2", "zia1", "zia2"}


def test_forwarding_nodes_get_ip_forward_from_compose(gwlb: dict) -> None:
    assert gwlb["services"]["fabric"]["sysctls"]["net.ipv4.ip_forward"] == "1"
    assert "net.ipv4.ip_forward" not in gwlb["services"]["workload1"]["sysctls"]


TWO_HOSTS = """
name: two
links:
  - name: lan
    subnet: 10.99.0.0/29
    endpoints:
      - {node: a, ifname: eth0, address: 10.99.0.6}
      - {node: b, ifname: eth0, address: 10.99.0.5}
nodes:
  a: {role: host}
  b: {role: host}
"""


def test_docker_takes_the_highest_address_no_endpoint_uses() -> None:
    topo = parse_topology(TWO_HOSTS, source=Path("two.yaml"))
    assert host_side_address(topo, topo.networks[0]) == IPv4Address("10.99.0.4")


def test_bridge_names_fit_the_kernel_and_differ_per_instance() -> None:
    names = {bridge_name(i, link) for i in ("a", "b") for link in ("lan", "wan")}
    assert len(names) == 4
    assert all(len(n) <= 15 for n in names)


def test_host_rules_accept_on_the_bridge_refuse_the_host_and_route_nothing_off_it() -> None:
    tag = ["-m", "comment", "--comment", "cclab:lab1"]
    accept = ["-i", "ccb1", "-o", "ccb1", *tag, "-j", "ACCEPT"]
    own = [("FORWARD", accept),
           ("FORWARD", ["-i", "ccb1", "!", "-o", "ccb1", *tag, "-j", "DROP"]),
           ("INPUT", ["-i", "ccb1", *tag, "-j", "DROP"])]
    assert rule_specs(["ccb1"], "lab1", docker_user=False) == own
    assert rule_specs(["ccb1"], "lab1", docker_user=True) == [("DOCKER-USER", accept), *own]


def test_host_ipv6_rules_refuse_the_host_and_route_nothing_off_the_bridge() -> None:
    tag = ["-m", "comment", "--comment", "cclab:lab1"]
    assert rule6_specs(["ccb1"], "lab1") == [
        ("INPUT", ["-i", "ccb1", *tag, "-j", "DROP"]),
        ("FORWARD", ["-i", "ccb1", "!", "-o", "ccb1", *tag, "-j", "DROP"])]


def test_a_node_share_of_the_plan_is_its_own_steps_only() -> None:
    topo = load_topology(TOPOLOGY_DIR / "minimal.yaml")
    share = steps_for_node(build_plan(topo, "x"), "x", "cc1")
    assert all(getattr(s, "ns", "cclab.x.cc1") == "cclab.x.cc1" for s in share)
    assert [s.kind for s in share if isinstance(s, StartService)] == ["connector"]
    assert [s.node for s in share if isinstance(s, WaitReady)] == ["cc1"]


def test_overlapping_isolated_sites_get_a_stand_in_subnet_for_docker() -> None:
    """Docker refuses overlapping networks: the second 192.0.2.0/24 site is attached in
    100.64.0.0/10 at the same offsets, and the node agent puts the planned address back."""
    from lab.compose import docker_address, docker_subnets

    topo = load_topology(TOPOLOGY_DIR / "aws-no-natgw.yaml")
    model = render_compose(topo, "x", PATHS)
    subnets = docker_subnets(topo)
    assert str(subnets["dc-a"]) == "192.0.2.0/24"
    assert str(subnets["dc-b"]) == "100.64.0.0/24"
    given = [IPv4Network(n["ipam"]["config"][0]["subnet"]) for n in model["networks"].values()]
    assert not [(a, b) for i, a in enumerate(given) for b in given[i + 1:] if a.overlaps(b)]
    assert model["services"]["app-b"]["networks"]["dc-b"]["ipv4_address"] == "100.64.0.10"
    assert model["services"]["app-a"]["networks"]["dc-a"]["ipv4_address"] == "192.0.2.10"
    assert docker_address(topo, "internet", IPv4Address("198.19.2.1")) == IPv4Address(
        "198.19.2.1")
