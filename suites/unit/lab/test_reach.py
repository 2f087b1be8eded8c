"""The static evaluator (`lab.reach`): the cloud semantics lab's cases, and the shipped
cloud topologies' attack table, decided from the rules alone, each naming its control."""

from __future__ import annotations

import pytest

from lab.catalog import TOPOLOGY_DIR
from lab.reach import Probe, evaluate, forward
from lab.schema import load_topology
from suites.functional.lab.test_cloud_semantics import ADDRESS, CASES, TOPOLOGY

pytestmark = pytest.mark.unit

ATTACKER = "198.18.99.99"


@pytest.mark.parametrize(("client", "server", "proto", "passes", "why"), CASES,
                         ids=[f"{c}-{s}-{p}" for c, s, p, _, _ in CASES])
def test_the_semantics_lab_cases_are_expected_as_the_packets_show(
        client: str, server: str, proto: str, passes: bool, why: str) -> None:
    topo = load_topology(TOPOLOGY)
    probe = Probe(proto, str(topo.node(client).interfaces[0].address.ip), ADDRESS[server],
                  80 if proto == "tcp" else 7)
    verdict = evaluate(topo, client, probe, reply=True)
    assert verdict.reached == passes, (why, verdict.explain())


def test_a_udr_widening_virtualnetwork_is_named_with_its_route() -> None:
    topo = load_topology(TOPOLOGY)
    verdict = evaluate(topo, "x1", Probe("udp", "10.99.0.11", ADDRESS["vm"], 7), reply=True)
    decision = verdict.deciding()
    assert decision is not None
    assert "AllowVnetInBound" in decision.what
    assert "widened by route 'rt-c/to-outside' (nodes.fabric.routes[0])" in decision.what


def test_a_stateless_acl_judges_the_reply_and_names_the_entry() -> None:
    topo = load_topology(TOPOLOGY)
    verdict = evaluate(topo, "a2", Probe("tcp", "10.30.1.12", ADDRESS["d1"], 80), reply=True)
    assert not verdict.reached
    blocked = verdict.blocked
    assert blocked is not None
    assert blocked.path == "network_acls.acl-d.outbound[1]"  # sorted by number: 100 first
    assert "rule 100 'not to a2'" in blocked.what


@pytest.mark.parametrize(("topology", "target", "port", "reached", "control"), [
    ("aws-no-natgw", "203.0.113.21", 22, False, "security group cc-mgmt (cc1/eth-mgmt in)"),
    ("insecure", "203.0.113.21", 22, True, "cc-mgmt inbound[0] 'ssh from anywhere'"),
    ("aws-natgw", "203.0.113.5", 22, False, "NAT gateway natgw: unsolicited"),
    ("aws-natgw", "203.0.113.21", 22, False, "no public address maps 203.0.113.21"),
    ("azure-insecure", "203.0.113.31", 53, True, "'everything from the internet'"),
])
def test_shipped_topologies_attack_table_statically(topology: str, target: str, port: int,
                                                     reached: bool, control: str) -> None:
    topo = load_topology(TOPOLOGY_DIR / f"{topology}.yaml")
    proto = "tcp" if port == 22 else "udp"
    verdict = evaluate(topo, "attacker", Probe(proto, ATTACKER, target, port), reply=True)
    decision = verdict.deciding()
    assert (verdict.reached, decision is not None) == (reached, True), verdict.explain()
    assert decision is not None
    assert control in decision.what


def test_spoofed_vpc_source_is_dropped_at_the_internet_gateway() -> None:
    topo = load_topology(TOPOLOGY_DIR / "insecure.yaml")
    verdict = forward(topo, "attacker", Probe("tcp", "10.10.1.11", "203.0.113.31", 53))
    assert verdict.blocked is not None
    assert "anti-spoofing" in verdict.blocked.what


def test_management_dns_goes_out_by_the_nat_gateway_and_its_answer_comes_back() -> None:
    topo = load_topology(TOPOLOGY_DIR / "aws-natgw.yaml")
    verdict = evaluate(topo, "cc1", Probe("udp", "10.10.2.21", "198.18.53.53", 53), reply=True)
    assert verdict.reached, verdict.explain()
    assert "(nat gateway: 10.10.2.21 -> 10.10.5.10)" in verdict.hops
    assert "(nat gateway: back to 10.10.2.21)" in verdict.hops


def test_workload_traffic_reaches_a_connector_through_the_gwlb_in_geneve() -> None:
    topo = load_topology(TOPOLOGY_DIR / "aws-no-natgw.yaml")
    verdict = forward(topo, "workload1", Probe("tcp", "10.10.1.11", "198.18.10.10", 80))
    assert (verdict.reached, verdict.node) == (True, "cc1")
    assert verdict.packet.dport == 6081  # the GENEVE outer packet
