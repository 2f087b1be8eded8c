"""`cclab attack`'s pure half: which attacks are aimed where, what the rules say of each
(against what the shipped topologies are documented to allow), the matrix's verdict
and exit code, and `cclab diff`'s opens and closes."""

from __future__ import annotations

from ipaddress import IPv4Network
from xml.etree import ElementTree

import pytest
from scapy.layers.inet import IP, TCP

from lab.attack.catalog import ATTACKS
from lab.attack.diff import compare, render
from lab.attack.expect import NoAttackSurface, Plan, plan
from lab.attack.matrix import Matrix, Row, junit, markdown
from lab.attack.replay import arrivals
from lab.catalog import topology_path
from lab.lint.roles import connector_roles
from lab.schema import load_topology

pytestmark = pytest.mark.unit


def planned(name: str) -> Plan:
    path = topology_path(name)
    topo = load_topology(path)
    return plan(topo, connector_roles(topo, path.parent))


def through(p: Plan) -> set[str]:
    return {c.key for c in p.cells if c.expected}


def test_the_seeds_rules_keep_every_attack_out() -> None:
    """The recommended designs (docs/topologies.md): nothing from the internet gets to a
    connector."""
    for name in ("aws-no-natgw", "azure-no-natgw", "aws-natgw", "aws-partial-natgw"):
        p = planned(name)
        assert p.cells, name
        assert through(p) == set(), name


def test_the_insecure_rules_let_the_internet_in_but_not_a_spoofed_workload() -> None:
    """`insecure` opens SSH on the management interface and everything on the service
    interface to 0.0.0.0/0; the internet gateway's anti-spoofing still drops a VPC source
    (but cannot tell a spoofed public one), it maps no private destination, and the
    management interface still has no DNS rule."""
    p = planned("insecure")
    expected = {f"{a} {cc}/eth-svc" for cc in ("cc1", "cc2")
                for a in ("ssh-service", "dns-resolver", "dns-reflection", "health-port",
                          "service-https", "geneve-injection", "spoofed-public",
                          "licence-inflation", "ack-probe", "dns-fragments")}
    expected |= {f"{a} {cc}/eth-mgmt" for cc in ("cc1", "cc2")
                 for a in ("ssh-management", "ack-probe")}
    assert through(p) == expected
    spoofed = [c for c in p.cells if c.attack.id in ("spoofed-workload", "spoofed-rfc1918")]
    assert {c.attack.id for c in spoofed} == {"spoofed-workload", "spoofed-rfc1918"}
    assert all("anti-spoofing" in c.rule for c in spoofed)


def test_each_attack_is_aimed_at_its_roles_with_a_port_of_its_own() -> None:
    p = planned("aws-no-natgw")
    # the forged Cloud DNS source needs GCP's forwarder tag: noted, not replayed
    assert {c.attack.id for c in p.cells} == {a.id for a in ATTACKS} - {"dns-cloud-dns-forged"}
    assert p.notes == ("dns-cloud-dns-forged: no `cloud-dns` address to spoof: not replayed",)
    assert {c.target.role for c in p.cells if c.attack.id == "ssh-management"} == {"management"}
    assert {c.target.role for c in p.cells if c.attack.id == "dns-resolver"} == \
        {"management", "service"}
    assert len({c.sport for c in p.cells}) == len(p.cells)
    health = [c for c in p.cells if c.attack.id == "health-port"]
    assert {c.port for c in health} == {50000}
    assert {c.mode for c in p.cells if c.attack.id == "dns-reflection"} == {"victim"}
    assert {str(c.source) for c in p.cells if c.attack.id == "dns-reflection"} == \
        {"198.18.66.66"}  # the victim


def test_the_new_sources_and_destinations_are_the_ones_the_seed_names() -> None:
    """A spoofed public source is the victim's, seen where it lands; licence inflation
    comes from an address of the attacker's link that no node holds; a private
    destination is the connector's own private address, handed to the internet gateway,
    which maps no such address."""
    p = planned("aws-no-natgw")
    cells = {c.key: c for c in p.cells}
    spoofed = cells["spoofed-public cc1/eth-svc"]
    assert (str(spoofed.source), spoofed.mode) == ("198.18.66.66", "arrival")
    held = {str(i.address.ip) for n in load_topology(topology_path("aws-no-natgw")).nodes
            for i in n.interfaces}
    licence = cells["licence-inflation cc1/eth-svc"].source
    assert str(licence) not in held
    assert licence in IPv4Network("198.18.0.0/15")
    forged = cells["spoofed-rfc1918 cc1/eth-svc"].source
    assert forged.is_private
    assert forged not in IPv4Network("10.10.0.0/16")  # the VPC (cloud/base.yaml)
    private = cells["private-destination cc2/eth-svc"]
    assert (str(private.destination), str(private.via)) == ("10.10.3.32", "198.18.0.1")
    assert "internet gateway igw: no public address maps 10.10.3.32" in private.rule
    assert not [c for c in p.cells if c.attack.answerable and c.attack.id in
                ("dns-fragments", "private-destination", "spoofed-public")]


def test_a_nat_gateway_design_is_attacked_at_the_gateway_for_an_answer() -> None:
    p = planned("aws-natgw")
    assert {c.target.node for c in p.cells} == {"natgw"}
    assert {c.mode for c in p.cells} <= {"answer", "victim"}
    assert not [c for c in p.cells if c.attack.spoof == "workload"]
    assert all("NAT gateway" in c.rule for c in p.cells)


def test_a_topology_without_an_internet_side_has_nothing_to_attack() -> None:
    with pytest.raises(NoAttackSurface):
        planned("minimal")


def row(key: str, expected: bool, observed: bool, sent: bool | None = True) -> Row:
    attack, target = key.split(" ")
    return Row(key, attack, attack.upper(), target, "tcp", 22, "198.18.99.99", expected,
               "the rule", "security_groups.x.inbound[0]", observed, sent, "evidence")


def test_an_arrival_is_the_probe_itself_not_the_labs_own_traffic_on_its_ports() -> None:
    """The lab GWLB probes the health port every second from ephemeral ports; a probe
    connection whose port equals the cell's (five packets) once made a blocked attack
    read as "gets through". Only the cell's source on the cell's ports counts."""
    cell = next(c for c in planned("insecure").cells
                if c.mode == "arrival" and c.attack.id == "health-port")
    probe = IP(src=str(cell.source), dst="10.0.2.10") / TCP(sport=cell.sport, dport=cell.port)
    lab_own = IP(src="10.0.1.5", dst="10.0.2.10") / TCP(sport=cell.sport, dport=cell.port)
    other_port = IP(src=str(cell.source), dst="10.0.2.10") / TCP(sport=cell.sport + 1,
                                                                 dport=cell.port)
    assert arrivals(cell, [lab_own, lab_own, other_port]) == []
    assert arrivals(cell, [lab_own, probe, other_port]) == [probe]


def test_the_matrix_counts_and_exits_by_what_the_packets_did() -> None:
    blocked = Matrix("t", (row("a cc1/eth-mgmt", False, False),
                           row("b cc1/eth-svc", True, False)))
    assert blocked.summary() == ("2 attacks blocked, 0 succeeded, 1 where expectation and "
                                 "packets disagree")
    assert blocked.exit_code() == 0
    open_ = Matrix("t", (row("a cc1/eth-mgmt", True, True),))
    assert open_.exit_code() == 1
    unsent = Matrix("t", (row("a cc1/eth-mgmt", False, False, sent=False),))
    assert unsent.exit_code() == 2
    assert "never reached the internet gateway" in unsent.summary()


def test_the_matrix_reads_back_what_it_wrote() -> None:
    m = Matrix("t", (row("a cc1/eth-mgmt", True, False), row("b cc2/eth-svc", False, False,
                                                            sent=None)), ("a note",))
    assert Matrix.from_json(m.to_json()) == m


def test_the_reports_mark_disagreements_and_failures() -> None:
    m = Matrix("t", (row("a cc1/eth-mgmt", True, False), row("b cc1/eth-svc", True, True),
                     row("c cc2/eth-svc", False, False)))
    text = markdown(m)
    assert text.count("**DISAGREE**") == 1
    assert "`security_groups.x.inbound[0]`" in text
    suite = ElementTree.fromstring(junit(m).split("\n", 1)[1])
    assert suite.get("tests") == "3"
    assert suite.get("failures") == "2"
    failed = [c.get("classname") for c in suite if c.find("failure") is not None]
    assert failed == ["attack.a", "attack.b"]


def test_diff_names_what_opens_and_closes_by_attack_and_interface() -> None:
    before = Matrix("before", (row("ssh cc1/eth-mgmt", False, False),
                               row("dns cc1/eth-svc", True, True),
                               row("geneve cc1/eth-svc", False, False)))
    after = Matrix("after", (row("ssh cc1/eth-mgmt", True, True),
                             row("dns cc1/eth-svc", False, False),
                             row("geneve cc1/eth-svc", False, False),
                             row("new cc2/eth-svc", True, True)))
    diff = compare(before, after)
    assert [c.key for c in diff.opened] == ["ssh cc1/eth-mgmt", "new cc2/eth-svc"]
    assert [c.key for c in diff.closed] == ["dns cc1/eth-svc"]
    assert diff.same == 1
    assert diff.exit_code() == 1
    assert [c.key for c in compare(after, before).opened] == ["dns cc1/eth-svc"]
    assert compare(before, before).exit_code() == 0
    assert "OPENS   SSH: cc1/eth-mgmt" in render(diff)
