"""IPv6 bypass: a dual-stack workload reaching the internet over IPv6 without the connector.

On aws-natgw-ipv6 the egress-only internet gateway serves only the management
subnet, so the workloads' one way out is 0.0.0.0/0 to the GWLB (blocked); on
aws-natgw-ipv6-connector their ::/0 goes to the GWLB too, which carries it to a
connector in GENEVE (spec G3), where it is dropped (blocked); on
aws-natgw-ipv6-bypass their route table sends ::/0 to the EIGW (attack
succeeded). What each lab must show is read from the design, the VPC router's
routes (`_bypass_route`), never from what the lab did. Seen on the wire: the
workload's packets at the VPC router (they were sent) and at the web server on
the internet (they got out), and the egress-only gateway's counters.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from ipaddress import IPv6Address
from pathlib import Path

import allure
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.utils import rdpcap

from lab.api import LabHandle
from lab.catalog import TOPOLOGY_DIR
from lab.compose import bridge_name
from lab.model import Route, Topology
from lab.schema import load_topology
from lab.wire.geneve import GENEVE_PORT, inner_of
from suites.fixtures.allure_hooks import attach_pcap
from suites.fixtures.bring_up_ahead import lab_recipe, shipped_by_param
from suites.fixtures.each_node import answered_pings
from suites.fixtures.lab import cloud_lab, on_each_backend
from suites.fixtures.nft_counters import nft_packets
from suites.fixtures.windows import connect_window, path_window
from suites.functional.cloud.test_cloud_topologies import record_outcome
from suites.functional.connector.gwlb_helpers import metrics
from suites.functional.lab.sealing import routes_leaving_the_lab

pytestmark = pytest.mark.usefixtures("lab_capable")

TOPOLOGIES = ["aws-natgw-ipv6", "aws-natgw-ipv6-bypass", "aws-natgw-ipv6-connector",
              "azure-natgw-ipv6", "azure-natgw-ipv6-bypass"]
PINGS = 3


# On docker a covering three (suites/unit/test_cloud_matrix.py checks it): each file that
# wires nodes or links of its own (the EIGW route, the GWLB's IPv6 path, Azure's `inet6`
# edge) and both outcomes of the bypass row. aws-natgw-ipv6 and azure-natgw-ipv6 add
# only routes and rules to what these are built from, and run on netns.
DOCKER_COVER = ["aws-natgw-ipv6-bypass", "aws-natgw-ipv6-connector", "azure-natgw-ipv6-bypass"]


@pytest.fixture(scope="module", params=on_each_backend(TOPOLOGIES, docker=DOCKER_COVER))
@lab_recipe(shipped_by_param)
def v6lab(request: pytest.FixtureRequest) -> Iterator[LabHandle]:
    stem = {"bypass": "v6b", "connector": "v6c"}.get(request.param[0].rsplit("-", 1)[-1], "v6s")
    with cloud_lab(request, stem) as handle:
        yield handle


def _v6(topo: Topology, node: str, iface: str | None = None) -> IPv6Address:
    n = topo.node(node)
    chosen = n.interface(iface) if iface else n.interfaces[0]
    assert chosen.address6 is not None, f"{node} has no IPv6 address"
    return chosen.address6.ip


def _workloads_ipv6_default(topo: Topology) -> Route | None:
    """The ::/0 of the workloads' VPC router that applies to the workloads' IPv6 source."""
    source = _v6(topo, "workload1")
    router = next(r for r in topo.node("workload1").routes if r.to.version == 6).via
    owner = topo.owner_of(router)
    assert owner is not None
    return next((route for route in owner[0].routes
                 if route.to.version == 6 and route.to.prefixlen == 0
                 and (route.source is None or source in route.source)), None)


def _next_hop_node(topo: Topology, route: Route | None) -> str | None:
    hop = topo.owner_of(route.via) if route is not None else None
    return hop[0].name if hop is not None else None


def _bypass_route(topo: Topology) -> Route | None:
    """The design's answer: the workloads' ::/0 leads to a gateway (the EIGW), not to
    the connectors' path."""
    route = _workloads_ipv6_default(topo)
    hop = _next_hop_node(topo, route)
    return route if hop is not None and topo.node(hop).gateway is not None else None


def _gateway6(topo: Topology) -> tuple[str, str]:
    """The IPv6 internet edge (AWS's egress-only gateway, Azure's stand-in `inet6`) and
    its outside interface."""
    node = next(n for n in topo.nodes if n.gateway and n.gateway.kind == "egress-only")
    assert node.gateway is not None
    return node.name, node.gateway.outside


def _eigw_counter(lab: LabHandle, name: str) -> int:
    return nft_packets(lab, _gateway6(lab.topology)[0], "cclab_eigw", name, family="inet")


def _echo_requests(pcap: Path, src: IPv6Address, dst: IPv6Address) -> int:
    return sum(1 for p in rdpcap(str(pcap)) if IPv6 in p and ICMPv6EchoRequest in p
               and IPv6Address(p[IPv6].src) == src and IPv6Address(p[IPv6].dst) == dst)


def _pings_seen(lab: LabHandle, tmp_path: Path, sender: str, receiver: str,
                sent_at: tuple[str, str], leak_at: tuple[str, str]) -> tuple[bool, int, int]:
    """`sender` pings `receiver`'s IPv6 address, captured where the pings must pass
    (`sent_at`) and where they would be seen if they got through (`leak_at`): whether
    they were answered, and how many echo requests each capture saw."""
    src, dst = _v6(lab.topology, sender), _v6(lab.topology, receiver)
    pcaps = [tmp_path / f"{node}-{iface}.pcap" for node, iface in (sent_at, leak_at)]
    with lab.capture(*sent_at, pcaps[0]), lab.capture(*leak_at, pcaps[1]):
        answered = _ping6(lab, sender, dst)
        path_window(f"the last echo request reaching {leak_at[0]}, if it does").wait()
    for pcap, (node, iface) in zip(pcaps, (sent_at, leak_at), strict=True):
        attach_pcap(pcap, f"{node} {iface}")
    return answered, _echo_requests(pcaps[0], src, dst), _echo_requests(pcaps[1], src, dst)


def _ping6(lab: LabHandle, node: str, dst: IPv6Address) -> bool:
    done = lab.exec(node, "ping", "-6", "-n", "-c", str(PINGS), "-i", "0.2", "-W", "1",
                    str(dst), check=False)
    return done.returncode == 0


@allure.feature("attacks")
@allure.story("IPv6 bypass")
def test_ipv6_bypass_of_the_connector(v6lab: LabHandle, tmp_path: Path) -> None:
    """A workload pings the web server's IPv6 address: the ping is seen at the VPC router
    either way, and at the web server only where the workloads' route table sends
    ::/0 to the egress-only gateway."""
    expected = _bypass_route(v6lab.topology) is not None
    before = _eigw_counter(v6lab, "outbound")
    answered, sent, arrived = _pings_seen(v6lab, tmp_path, "workload1", "web",
                                          ("fabric", "eth-wl"), ("web", "eth0"))
    assert sent == PINGS, "the workload's pings never reached the VPC router"
    record_outcome(arrived > 0)
    if expected:
        assert (arrived, answered) == (PINGS, True)
        assert _eigw_counter(v6lab, "outbound") >= before + 1  # through the EIGW, not NATed
        return
    assert (arrived, answered) == (0, False)
    assert _eigw_counter(v6lab, "outbound") == before


@allure.feature("cloud")
@allure.story("Egress-only internet gateway")
def test_egress_only_gateway_passes_the_management_subnet_out(v6lab: LabHandle) -> None:
    """The positive control of the blocked case: the EIGW works, for the subnet whose
    route table uses it (the bastion's), so a blocked workload is the route table's doing."""
    before = _eigw_counter(v6lab, "outbound")
    assert _ping6(v6lab, "bastion", _v6(v6lab.topology, "web"))
    assert _eigw_counter(v6lab, "outbound") >= before + 1


@allure.feature("cloud")
@allure.story("Egress-only internet gateway")
def test_egress_only_gateway_drops_inbound_initiated_ipv6(v6lab: LabHandle,
                                                           tmp_path: Path) -> None:
    """The internet opens nothing towards a workload's public IPv6 address: the pings
    reach the gateway's outside and are counted as unsolicited there."""
    before = _eigw_counter(v6lab, "unsolicited")
    answered, sent, arrived = _pings_seen(v6lab, tmp_path, "attacker", "workload1",
                                          _gateway6(v6lab.topology), ("workload1", "eth0"))
    assert sent == PINGS, "the pings never reached the EIGW"
    assert (arrived, answered) == (0, False)
    assert _eigw_counter(v6lab, "unsolicited") >= before + PINGS


@allure.feature("lab")
@allure.story("Sealed")
def test_dual_stack_lab_has_no_route_out_of_the_lab(v6lab: LabHandle) -> None:
    """IPv6 too: every route of every node, both families, stays on the lab's links."""
    assert any(net.subnet6 for net in v6lab.topology.networks)  # the lab is dual stack
    assert routes_leaving_the_lab(v6lab) == []


def _host_ipv6() -> list[tuple[str, str]]:
    """(address, interface) of the host's own IPv6 addresses, loopback left out."""
    out = subprocess.run(["ip", "-j", "-6", "addr"], capture_output=True, text=True,
                         check=True).stdout
    return [(a["local"], link["ifname"]) for link in json.loads(out or "[]")
            for a in link.get("addr_info", []) if a.get("scope") != "host"]


@allure.feature("lab")
@allure.story("Sealed")
def test_the_hosts_side_of_the_lab_answers_no_ipv6(v6lab: LabHandle) -> None:
    """Docker gives the host a side of every lab network, with an IPv6 link-local
    address on its bridge: none answers a ping from any dual-stack node. On netns the
    host has no side at all. (Routes towards the host's uplink, fd00::/64 here, are
    `test_dual_stack_lab_has_no_route_out_of_the_lab`'s.)"""
    bridges = {bridge_name(v6lab.instance, net.name) for net in v6lab.topology.networks}
    on_bridges = [a for a, i in _host_ipv6() if i in bridges]
    if not v6lab.backend.__class__.__name__.lower().startswith("docker"):
        assert on_bridges == []
        return
    assert len(on_bridges) == len(bridges), (on_bridges, sorted(bridges))
    probes = {node.name: [f"{a}%{iface.name}" for a in on_bridges
                          for iface in node.interfaces if iface.address6]
              for node in v6lab.topology.nodes if node.dual_stack}
    answered = answered_pings(v6lab, probes, ipv6=True)  # every node at once
    for node, aims in probes.items():
        with allure.step(f"{node} -> the host's {len(aims)} bridge-side addresses"):
            assert answered[node] == [], f"{node}: {answered[node]}"


CONNECTORS = ("cc1", "cc2")
ZPA_NAME = "app-a.corp.example"  # an app segment of the connectors' config (cloud/base.yaml)


def _to_the_gwlb(topo: Topology) -> bool:
    """The design's answer: the workloads' ::/0 goes to the node running the GWLB."""
    hop = _next_hop_node(topo, _workloads_ipv6_default(topo))
    return hop is not None and any(s.kind == "gwlb" for s in topo.node(hop).services)


def _ipv6_inside_geneve(pcap: Path, connector: str) -> list[IPv6]:
    """The IPv6 packets the GWLB carried to `connector` (GENEVE, UDP 6081, IPv4 outer)."""
    found = []
    for p in rdpcap(str(pcap)):
        if UDP in p and p[UDP].dport == GENEVE_PORT and p[IP].dst == connector:
            inner = inner_of(bytes(p[UDP].payload))
            if inner and inner[0] >> 4 == 6:
                found.append(IPv6(inner))
    return found


def _counted(lab: LabHandle, name: str) -> float:
    return sum(metrics(lab, cc).get(name, 0) for cc in CONNECTORS)


# The designs whose workloads' ::/0 goes to the GWLB, read from the topology files:
# the GWLB tests are collected on those labs only.
GWLB_STEERED = [name for name in TOPOLOGIES
                if _to_the_gwlb(load_topology(TOPOLOGY_DIR / f"{name}.yaml"))]


@pytest.fixture
def gwlb_steered(v6lab: LabHandle) -> LabHandle:
    assert _to_the_gwlb(v6lab.topology), "collected on a lab whose ::/0 avoids the GWLB"
    return v6lab


@allure.feature("attacks")
@allure.story("IPv6 bypass")
@pytest.mark.labs(GWLB_STEERED)
def test_ipv6_sent_to_the_gwlb_reaches_a_connector_and_goes_no_further(  # noqa: PLR0914
        gwlb_steered: LabHandle, tmp_path: Path) -> None:
    """Where the workloads' ::/0 goes to the GWLB: a ping and a TCP connection over IPv6
    reach the VPC router, ride GENEVE to one connector (IPv6 inner, IPv4 outer: spec G3;
    one flow, one connector), are counted there (geneve_rx_ipv6, ipv6_no_path), logged
    once per flow as "IPv6 Not Carried", and nothing reaches the web server."""
    lab = gwlb_steered
    src, dst = _v6(lab.topology, "workload1"), _v6(lab.topology, "web")
    before = {n: _counted(lab, n) for n in ("geneve_rx_ipv6_total", "dropped_ipv6_no_path_total")}
    mark = lab.mark()
    points = [("fabric", "eth-wl"), ("web", "eth0"), *((cc, "eth-svc") for cc in CONNECTORS)]
    pcaps = {p: tmp_path / f"{p[0]}-{p[1]}.pcap" for p in points}
    with contextlib.ExitStack() as stack:
        for point, pcap in pcaps.items():
            stack.enter_context(lab.capture(*point, pcap))
        answered = _ping6(lab, "workload1", dst)
        connected = lab.exec("workload1", "curl", "-s", "-m", connect_window(
                             "a carried handshake and request").as_client_timeout(), "-o",
                             "/dev/null", "-g",
                             f"http://[{dst}]/", check=False).returncode == 0
        path_window("the last packet reaching a connector or the web server").wait()
    for (node, iface), pcap in pcaps.items():
        attach_pcap(pcap, f"{node} {iface}")
    assert _echo_requests(pcaps[points[0]], src, dst) == PINGS, "never reached the VPC router"
    carried = {cc: [p for p in _ipv6_inside_geneve(pcaps[(cc, "eth-svc")], _service(lab, cc))
                    if IPv6Address(p.src) == src and IPv6Address(p.dst) == dst]
               for cc in CONNECTORS}
    pings = {cc: sum(1 for p in got if ICMPv6EchoRequest in p) for cc, got in carried.items()}
    syns = sum(1 for got in carried.values() for p in got if TCP in p and p[TCP].flags.S)
    assert sorted(pings.values()) == [0, PINGS], f"one flow, one connector: {pings}"
    assert syns >= 1, "the TCP connection's SYN never reached a connector"
    grew = _counted(lab, "geneve_rx_ipv6_total") - before["geneve_rx_ipv6_total"]
    assert grew == sum(len(got) for got in carried.values())
    assert _counted(lab, "dropped_ipv6_no_path_total") - before["dropped_ipv6_no_path_total"] \
        == grew
    # The session log, once per flow: the TCP connection's (a fresh source port; the
    # ping's addresses may have been logged by an earlier test of this lab).
    syn_at = {cc: {p[TCP].sport for p in got if TCP in p} for cc, got in carried.items()}
    target = next(cc for cc, ports in syn_at.items() if ports)
    assert len(syn_at[target]) == 1, syn_at
    sport = next(iter(syn_at[target]))
    logged = lab.wait_event(target, "flow.new", lambda e: e["src"] == str(src)
                            and e["sport"] == sport, after=mark)
    assert (logged["method"], logged["rule"], logged["dropped"], logged["proto"],
            logged["dport"]) == ("DROP", "IPv6 Not Carried", "ipv6_no_path", 6, 80)
    assert len([e for e in lab.events(target, "flow.new", after=mark)
                if e["src"] == str(src) and e["sport"] == sport]) == 1, "once per flow"
    at_web = [p for p in rdpcap(str(pcaps[points[1]])) if IPv6 in p
              and IPv6Address(p[IPv6].src) == src]
    assert (at_web, answered, connected) == ([], False, False)
    record_outcome(bool(at_web))


def _service(lab: LabHandle, cc: str) -> str:
    address = lab.topology.node(cc).interface("eth-svc").address
    assert address is not None
    return str(address.ip)


@allure.feature("dns")
@allure.story("IPv6 bypass")
@pytest.mark.labs(GWLB_STEERED)
def test_D2_aaaa_for_a_zpa_name_through_the_gwlb_is_nodata(  # noqa: N802
        gwlb_steered: LabHandle) -> None:
    """A dual-stack workload asks its configured resolver (through the GWLB, so a
    connector answers) for a ZPA name's AAAA: NOERROR, no answer, the SOA (spec D2)."""
    lab = gwlb_steered
    resolver = str(lab.topology.dns[0])
    mark = lab.mark()
    out = lab.exec("workload1", "dig", "+time=2", "+tries=1", "+noall", "+comments",
                   "+answer", "+authority", f"@{resolver}", ZPA_NAME, "AAAA").stdout
    records = [line.split() for line in out.splitlines() if line and not line.startswith(";")]
    assert "status: NOERROR" in out, out
    assert [r[3] for r in records] == ["SOA"], out
    asked = [e for cc in CONNECTORS for e in lab.events(cc, "dns.query", after=mark)
             if e["qname"].rstrip(".") == ZPA_NAME]
    assert [e["qtype"] in ("AAAA", 28) for e in asked] == [True], asked


def _syns(pcap: Path, dst: str, dport: int) -> int:
    """TCP SYNs (not SYN-ACKs) to `dst`:`dport` in a capture, either family."""
    count = 0
    for p in rdpcap(str(pcap)):
        layer = p.getlayer(IPv6) or p.getlayer(IP)
        if layer is not None and TCP in p and layer.dst == dst and p[TCP].dport == dport \
                and p[TCP].flags.S and not p[TCP].flags.A:
            count += 1
    return count


@allure.feature("cloud")
@allure.story("IPv6 security group rules")
def test_security_group_rules_judge_ipv6_by_its_own_family(v6lab: LabHandle,
                                                           tmp_path: Path) -> None:
    """The workloads' group (cloud/ipv6.yaml) allows all from the VPC's IPv4 /16 and, over
    IPv6, only SSH from the management subnet: from the bastion, IPv6 to port 22 and
    IPv4 to port 80 reach workload1; IPv6 to port 80 reaches the switch (it left the VPC
    router's port) and is dropped there, since an IPv4 rule allows no IPv6 (AWS)."""
    lab = v6lab
    assert "workloads" in lab.topology.node("workload1").interface("eth0").security_groups
    v6, v4 = str(_v6(lab.topology, "workload1")), _service_v4(lab, "workload1", "eth0")
    tries = {"v6-22": (v6, 22), "v6-80": (v6, 80), "v4-80": (v4, 80)}
    pcaps = {p: tmp_path / f"{p[0]}-{p[1]}.pcap" for p in (("fabric", "eth-wl"),
                                                            ("workload1", "eth0"))}
    script = " & ".join(f"curl -s -m 2 -o /dev/null -g http://{'[' + a + ']' if ':' in a else a}"
                        f":{port}/" for a, port in tries.values()) + " & wait"
    with lab.capture("fabric", "eth-wl", pcaps[("fabric", "eth-wl")]), \
            lab.capture("workload1", "eth0", pcaps[("workload1", "eth0")]):
        lab.exec("bastion", "sh", "-c", script, check=False)
        path_window("the last SYN reaching workload1, if it does").wait()
    for (node, iface), pcap in pcaps.items():
        attach_pcap(pcap, f"{node} {iface}")
    sent = {k: _syns(pcaps[("fabric", "eth-wl")], *t) for k, t in tries.items()}
    arrived = {k: _syns(pcaps[("workload1", "eth0")], *t) for k, t in tries.items()}
    assert all(n >= 1 for n in sent.values()), f"not all reached the switch: {sent}"
    assert {k: n >= 1 for k, n in arrived.items()} == {"v6-22": True, "v6-80": False,
                                                       "v4-80": True}, arrived


def _service_v4(lab: LabHandle, node: str, iface: str) -> str:
    address = lab.topology.node(node).interface(iface).address
    assert address is not None
    return str(address.ip)


def _gwlb_read(lab: LabHandle) -> int:
    """Packets the kernel handed the GWLB's user space (its TUN's transmit counter)."""
    return int(lab.exec("gwlb", "cat", "/sys/class/net/gwlbtun0/statistics/tx_packets")
               .stdout)


GWLB_VIEW_CHANGES = ("gwlb.target_healthy", "gwlb.target_unhealthy", "gwlb.target_registered",
                     "gwlb.target_deregistered", "gwlb.target_drained")


def _send_udp6(lab: LabHandle, dst: IPv6Address, sport: int, dport: int,
               numbers: range) -> None:
    lab.exec("workload1", "python3", "-c",
             "import socket, time\n"
             "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
             f"s.bind(('', {sport}))\n"
             f"for i in range({numbers.start}, {numbers.stop}):\n"
             f"    s.sendto(b'six %03d' % i, ('{dst}', {dport})); time.sleep(0.01)\n")


@allure.feature("lab")
@allure.story("The lab GWLB carries a known IPv6 flow in the kernel, in the IPv4 outer")
@pytest.mark.labs(GWLB_STEERED)
def test_an_ipv6_flow_through_the_gwlb_is_encapsulated_by_the_kernel_after_its_first(
        gwlb_steered: LabHandle, tmp_path: Path) -> None:
    """The GWLB's fast path carries IPv6 as user space does (spec G3: IPv6 inner, IPv4
    outer): user space reads the flow's first datagram (and one more for each change of
    the group's view meanwhile); all 40 reach one connector in GENEVE with the first's
    outer path and exact header, the inner hop limit lowered by the GWLB once, the inner
    datagram whole (its UDP checksum checked by scapy)."""
    lab = gwlb_steered
    src, dst = _v6(lab.topology, "workload1"), _v6(lab.topology, "web")
    before = _gwlb_read(lab)
    mark = lab.mark()
    pcaps = {cc: tmp_path / f"{cc}-eth-svc.pcap" for cc in CONNECTORS}
    with contextlib.ExitStack() as stack:
        for cc, pcap in pcaps.items():
            stack.enter_context(lab.capture(cc, "eth-svc", pcap))
        _send_udp6(lab, dst, 41006, 5006, range(1))
        lab.wait_event("gwlb", "gwlb.flow", lambda e: e.get("dport") == 5006
                       and e.get("src") == str(src), after=mark)
        _send_udp6(lab, dst, 41006, 5006, range(1, 40))
        path_window("the last datagram reaching a connector").wait()
    for cc, pcap in pcaps.items():
        attach_pcap(pcap, f"{cc} eth-svc")
    frames = {cc: [p for p in rdpcap(str(pcap)) if UDP in p and p[UDP].dport == GENEVE_PORT
                   and (inner := inner_of(bytes(p[UDP].payload))) and inner[0] >> 4 == 6
                   and UDP in IPv6(inner) and IPv6(inner)[UDP].dport == 5006]
              for cc, pcap in pcaps.items()}
    got = [p for found in frames.values() for p in found]
    assert sorted(len(found) for found in frames.values()) == [0, 40], "one flow, one connector"
    read = _gwlb_read(lab) - before
    changes = sum(len(lab.events("gwlb", kind, after=mark)) for kind in GWLB_VIEW_CHANGES)
    assert 1 <= read <= 1 + changes, "user space read the first only"
    first = got[0]
    header_len = 8 + (bytes(first[UDP].payload)[0] & 0x3F) * 4
    assert {(p[IP].src, p[IP].dst, p[UDP].sport, bytes(p[UDP].payload)[:header_len])
            for p in got} == {(first[IP].src, first[IP].dst, GENEVE_PORT,
                               bytes(first[UDP].payload)[:header_len])}
    inners = [IPv6(inner_of(bytes(p[UDP].payload))) for p in got]
    # sent with 64, lowered by the VPC router and by the GWLB's forwarding (user space's
    # first: into its TUN; the rest: by the program), the same for all
    assert {(IPv6Address(i.src), IPv6Address(i.dst), i.hlim) for i in inners} == {
        (src, dst, 62)}, "the hop limit lowered once by the GWLB, as into its TUN"
    assert [bytes(i[UDP].payload) for i in inners] == [b"six %03d" % n for n in range(40)]
    for inner in inners:
        sent = inner[UDP].chksum
        del inner[UDP].chksum
        assert IPv6(bytes(inner))[UDP].chksum == sent
