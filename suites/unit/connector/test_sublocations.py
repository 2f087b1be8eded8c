"""Sub-locations (issue 18): flows keyed by the location of their GWLB endpoint, pure.

Two workload VPCs may share one address plan; each sits behind its own GWLB
endpoint, which the data plane maps to a location (`runtime.geneve_locations`).
Expected outcomes come from spec §5.1 (`locations`: a rule naming locations applies
to those only; empty means all) and §5.2 (first match), not from the code.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

import pytest
from scapy.layers.inet import IP, TCP

from connector.core.bindings import LocatedNames, NameBindings, names_in
from connector.core.cluster import BindingLog, ClusterMember
from connector.core.flows import FlowEntry, FlowTable
from connector.core.model import Decision, FlowKey, IpProto, Method, NoNames, NoPools
from connector.core.names import parse_pattern
from connector.core.policy import ForwardingRule
from connector.core.rules import ForwardingPolicy
from connector.core.steering import Dropped, NewFlow, Segment, Steering, ToGeneve, ToKernel
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth
from connector.core.workloads import WorkloadCounter
from connector.io.events import EventLog
from connector.service.counters import Counters
from connector.service.dataplane import GeneveDataPlane
from lab.wire.geneve import geneve_header
from suites.unit.connector.policy_builders import ME, policy, rule

pytestmark = pytest.mark.unit
WORKLOAD, WEB = IPv4Address("10.10.1.11"), IPv4Address("198.18.10.10")
HDR_A, HDR_B, LB = b"A" * 40, b"B" * 40, ("10.10.3.5", 6081)


def _steering(*rules: ForwardingRule, log: list[NewFlow] | None = None,
              workloads: WorkloadCounter | None = None) -> Steering:
    pol = policy(*rules)
    tunnels = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    located = {loc: ForwardingPolicy(pol, replace(ME, location=loc)) for loc in ("loc-a", "loc-b")}
    return Steering(ForwardingPolicy(pol, ME), NoNames(), NoPools(), tunnels,
                    on_new_flow=None if log is None else log.append, workloads=workloads,
                    locations=located)


def _seg(location: str, *, sport: int = 40000, flags: int = 0x02, reply: bool = False,
         proto: int = IpProto.TCP) -> Segment:
    if reply:
        return Segment(FlowKey(proto, WEB, WORKLOAD, 80, sport, location), 60, flags)
    return Segment(FlowKey(proto, WORKLOAD, WEB, sport, 80, location), 60, flags)


# Direct for loc-a only, then Drop for loc-b only: the same flow, decided per location.
PER_SIDE = (rule(1, Method.DIRECT, locations=("loc-a",)),
            rule(2, Method.DROP, locations=("loc-b",)),
            rule(3, Method.DIRECT))


def test_a_rule_naming_a_location_applies_to_that_locations_flows_only() -> None:
    steer = _steering(*PER_SIDE)
    a = steer.inbound(_seg("loc-a"), HDR_A, LB, 0.0)
    b = steer.inbound(_seg("loc-b"), HDR_B, LB, 0.0)
    own = steer.inbound(_seg(""), b"G" * 40, LB, 0.0)
    assert isinstance(a, ToKernel)
    assert a.decision.rule_name == "r1"
    assert isinstance(b, Dropped)
    assert b.decision is not None
    assert b.decision.rule_name == "r2"
    # the connector's own location (vpc-lab) is named by neither: rule 3
    assert isinstance(own, ToKernel)
    assert own.decision.rule_name == "r3"


def test_the_same_5_tuple_in_two_locations_is_two_flows() -> None:
    """loc-a's flow is live; loc-b's identical packet must not ride on it."""
    steer = _steering(*PER_SIDE)
    assert isinstance(steer.inbound(_seg("loc-a"), HDR_A, LB, 0.0), ToKernel)
    assert isinstance(steer.inbound(_seg("loc-b"), HDR_B, LB, 0.1), Dropped)
    assert isinstance(steer.inbound(_seg("loc-b", flags=0x10), HDR_B, LB, 0.2), Dropped)
    assert len(steer.flows) == 2


def test_a_reply_goes_back_with_the_header_of_its_own_location() -> None:
    steer = _steering(rule(1, Method.DIRECT))
    steer.inbound(_seg("loc-a", sport=40000), HDR_A, LB, 0.0)
    steer.inbound(_seg("loc-b", sport=40001), HDR_B, LB, 0.0)
    assert steer.outbound(_seg("", sport=40001, flags=0x12, reply=True), 0.1) == ToGeneve(HDR_B, LB)
    assert steer.outbound(_seg("", sport=40000, flags=0x12, reply=True), 0.1) == ToGeneve(HDR_A, LB)


def test_the_same_5_tuple_carried_in_two_locations_gets_each_reply_home() -> None:
    """Both locations' identical flows are Direct at once. The kernel hands each reply
    back by its location's own TUN (`connector/io/geneve_tuns.py`), so the reply read
    off loc-b's TUN leaves with loc-b's header and loc-a's with loc-a's, whichever
    flow came last; a location's TUN never answers for a port it did not carry."""
    steer = _steering(rule(1, Method.DIRECT))
    assert isinstance(steer.inbound(_seg("loc-a"), HDR_A, LB, 0.0), ToKernel)
    assert isinstance(steer.inbound(_seg("loc-b"), HDR_B, LB, 0.0), ToKernel)
    assert steer.outbound(_seg("loc-a", flags=0x12, reply=True), 0.1) == ToGeneve(HDR_A, LB)
    assert steer.outbound(_seg("loc-b", flags=0x12, reply=True), 0.1) == ToGeneve(HDR_B, LB)
    assert steer.outbound(_seg("loc-a", sport=40001, flags=0x12, reply=True), 0.1) == Dropped(
        "not_from_load_balancer")


def test_a_dropped_locations_flow_gets_no_return_path() -> None:
    """Only a flow that was carried can be answered: loc-b's dropped flow is not
    reachable from the kernel side, while loc-a's (another port) is."""
    steer = _steering(*PER_SIDE)
    steer.inbound(_seg("loc-b", sport=40001), HDR_B, LB, 0.0)
    assert steer.outbound(_seg("", sport=40001, flags=0x12, reply=True), 0.1) == Dropped(
        "not_from_load_balancer")


def test_an_expired_located_flow_loses_its_return_path() -> None:
    steer = _steering(rule(1, Method.DIRECT))
    steer.inbound(_seg("loc-a", proto=IpProto.UDP, flags=0), HDR_A, LB, 0.0)
    assert steer.expire(121.0) == 1
    assert isinstance(steer.outbound(_seg("", reply=True, proto=IpProto.UDP, flags=0), 121.0),
                      Dropped)


def test_a_reply_off_the_own_locations_tun_finds_the_own_flow_not_a_located_twin() -> None:
    """The data plane reads a reply's location off the TUN it came from, so the reply
    finds its own flow exactly (decisions.md, sub-locations): the own location's flow
    answers from the own TUN even while loc-a carries the same 5-tuple."""
    steer = _steering(rule(1, Method.DIRECT))
    own_header = b"G" * 40
    assert isinstance(steer.inbound(_seg(""), own_header, LB, 0.0), ToKernel)
    assert isinstance(steer.inbound(_seg("loc-a"), HDR_A, LB, 0.0), ToKernel)
    assert steer.outbound(_seg("", flags=0x12, reply=True), 0.1) == ToGeneve(own_header, LB)
    assert steer.outbound(_seg("loc-a", flags=0x12, reply=True), 0.1) == ToGeneve(HDR_A, LB)


def test_a_reply_found_through_its_home_keeps_the_located_flow_alive() -> None:
    """G6 timeouts are idle timeouts: a reply from a ZIA tunnel (no location) that finds
    loc-a's flow through its home is activity of that flow, so its 120 s UDP timeout
    runs from the reply, not from the first packet."""
    steer = _steering(rule(1, Method.DIRECT))
    steer.inbound(_seg("loc-a", proto=IpProto.UDP, flags=0), HDR_A, LB, 0.0)
    reply = _seg("", reply=True, proto=IpProto.UDP, flags=0)
    assert steer.outbound(reply, 100.0) == ToGeneve(HDR_A, LB)
    assert steer.expire(121.0) == 0, "idle for 21 s only"
    assert steer.outbound(reply, 121.0) == ToGeneve(HDR_A, LB)
    assert steer.expire(241.1) == 1, "idle for 120 s since the last reply"


def test_an_expired_located_flow_leaves_the_later_locations_return_path() -> None:
    """The same 5-tuple carried in two locations: the later one owns the ZIA return
    path (decisions.md). loc-a's older flow expiring must not take loc-b's with it."""
    steer = _steering(rule(1, Method.DIRECT))
    steer.inbound(_seg("loc-a", proto=IpProto.UDP, flags=0), HDR_A, LB, 0.0)
    steer.inbound(_seg("loc-b", proto=IpProto.UDP, flags=0), HDR_B, LB, 60.0)
    assert steer.expire(121.0) == 1, "loc-a's flow, idle for 121 s"
    reply = _seg("", reply=True, proto=IpProto.UDP, flags=0)
    assert steer.outbound(reply, 121.0) == ToGeneve(HDR_B, LB)


def test_the_session_log_gets_each_flows_location() -> None:
    log: list[NewFlow] = []
    steer = _steering(*PER_SIDE, log=log)
    steer.inbound(_seg("loc-a"), HDR_A, LB, 0.0)
    steer.inbound(_seg("loc-b"), HDR_B, LB, 0.0)
    assert [(f.key.location, f.decision.method, f.dropped) for f in log] == [
        ("loc-a", Method.DIRECT, None), ("loc-b", Method.DROP, "policy_drop")]


def _handshake(steer: Steering, location: str, header: bytes, sport: int, now: float) -> None:
    steer.inbound(_seg(location, sport=sport)._replace(seq=1), header, LB, now)
    steer.outbound(_seg("", sport=sport, flags=0x12, reply=True)._replace(seq=900, ack=2), now)
    steer.inbound(_seg(location, sport=sport, flags=0x10)._replace(seq=2, ack=901), header,
                  LB, now)


def test_licences_count_one_address_in_two_locations_as_two_workloads() -> None:
    counter = WorkloadCounter([IPv4Network("10.10.1.0/24")])
    steer = _steering(rule(1, Method.DIRECT), workloads=counter)
    _handshake(steer, "loc-a", HDR_A, 40000, 1.0)
    _handshake(steer, "loc-b", HDR_B, 40001, 1.0)
    _handshake(steer, "loc-a", HDR_A, 40002, 2.0)  # the same workload again
    assert counter.count() == 2
    assert counter.count_by_location() == {"loc-a": 1, "loc-b": 1}
    assert counter.count_by_location(since=1.5) == {"loc-a": 1}
    assert counter.workloads() == {WORKLOAD}


def test_a_licence_snapshot_keeps_locations_and_reads_the_old_format() -> None:
    table, counter = FlowTable(), WorkloadCounter([IPv4Network("10.10.1.0/24")])
    for location in ("loc-a", ""):
        entry = table.insert(FlowKey(IpProto.TCP, WORKLOAD, WEB, 1, 80, location),
                             Decision(Method.DIRECT, "r1", 1, "test"), 3.0)
        assert isinstance(entry, FlowEntry)
        entry.completed = True
        assert counter.observe(entry, 3.0)
    twin = WorkloadCounter.restore(counter.snapshot())
    assert twin.count_by_location() == {"loc-a": 1, "": 1}
    old = WorkloadCounter.restore({"version": 1, "ranges": ["10.10.1.0/24"],
                                   "seen": [[int(WORKLOAD), 4.0]]})
    assert old.count_by_location() == {"": 1}


def test_the_data_plane_reads_the_location_from_the_endpoint_on_every_packet() -> None:
    """The GENEVE plane, in process: the ENI option names the location on the first
    packet (full parse) and on later ones (the known-flow short way) alike; an
    endpoint nobody mapped is the connector's own location, and counted."""
    pol = policy(*PER_SIDE)
    tunnels = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    log: list[NewFlow] = []
    located = {loc: ForwardingPolicy(pol, replace(ME, location=loc)) for loc in ("loc-a", "loc-b")}
    steering = Steering(ForwardingPolicy(pol, ME), NoNames(), NoPools(), tunnels,
                        on_new_flow=log.append, locations=located)
    counters = Counters()
    plane = GeneveDataPlane(steering, IPv4Address("10.10.3.31"), (IPv4Network("10.10.3.5/32"),),
                            counters=counters, events=EventLog(None, "cc1"),
                            locations={0xA: "loc-a", 0xB: "loc-b"})
    written: dict[str, list[bytes]] = {"": [], "loc-a": [], "loc-b": []}
    plane._tuns = {loc: type("Tun", (), {"write": lambda _s, p, w=w: w.append(p) or True})()  # type: ignore[misc]
                   for loc, w in written.items()}
    for flags, seq in (("S", 1), ("A", 2), ("PA", 2)):
        inner = bytes(IP(src=str(WORKLOAD), dst=str(WEB)) / TCP(sport=41000, dport=80,
                                                                 flags=flags, seq=seq))
        for eni in (0xA, 0xB, 0xC):
            plane.handle_geneve(geneve_header(4, 7, eni=eni) + inner, LB, 0.0)
    assert [(f.key.location, f.decision.rule_name) for f in log] == [
        ("loc-a", "r1"), ("loc-b", "r2"), ("", "r3")]
    # loc-a's three packets into loc-a's TUN, the own location's into its own, never loc-b's
    assert {loc: len(w) for loc, w in written.items()} == {"": 3, "loc-a": 3, "loc-b": 0}
    assert counters.snapshot().get("dropped_policy_drop") == 3
    assert counters.snapshot().get("geneve_rx_unmapped_endpoint") == 1


# A name learned in one location (a DNS answer to a query from its endpoint) steers
# that location's FQDN rules only: rule 1 is Direct by name, the default is ZIA.
BY_NAME = (rule(1, Method.DIRECT, dest_addresses=(parse_pattern("www.web.example"),)),)


def test_an_fqdn_rule_sees_the_names_of_the_flows_own_location_only() -> None:
    pol = policy(*BY_NAME)
    tunnels = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    located: dict[str, NameBindings] = {}
    names_in(located, "loc-a").learn(WEB, "WWW.web.example.", 60, 0.0)
    steer = Steering(ForwardingPolicy(pol, ME), NoNames(), NoPools(), tunnels,
                     locations={loc: ForwardingPolicy(pol, replace(ME, location=loc))
                                for loc in ("loc-a", "loc-b")},
                     located_names={loc: LocatedNames(located, loc) for loc in ("loc-a", "loc-b")})
    a = steer.inbound(_seg("loc-a"), HDR_A, LB, 0.0)
    b = steer.inbound(_seg("loc-b"), HDR_B, LB, 0.0)
    own = steer.inbound(_seg(""), b"G" * 40, LB, 0.0)
    assert isinstance(a, ToKernel)
    assert a.decision.rule_name == "r1"
    for other in (b, own):  # no answer taught them the name: the default ZIA rule
        assert isinstance(other, Dropped)
        assert other.decision is not None
        assert other.decision.rule_name == "Default ZIA Rule"


def test_the_dns_listener_learns_a_querys_location_from_its_flow() -> None:
    steer = _steering(rule(1, Method.DIRECT))
    query = Segment(FlowKey(IpProto.UDP, WORKLOAD, IPv4Address("198.18.53.53"), 5353, 53,
                            "loc-b"), 60)
    steer.inbound(query, HDR_B, LB, 0.0)  # intercepted: handed to the listener
    asked = FlowKey(IpProto.UDP, WORKLOAD, IPv4Address("198.18.53.53"), 5353, 53)
    assert steer.location_of(asked) == "loc-b"
    assert steer.location_of(replace(asked, sport=5354)) == ""


def test_a_query_with_no_located_flow_is_the_own_locations() -> None:
    """location_of gives "" (the connector's own location) for a query no sub-location
    carried: with no located flow at all, and with only the own location's."""
    steer = _steering(rule(1, Method.DIRECT))
    asked = FlowKey(IpProto.UDP, WORKLOAD, IPv4Address("198.18.53.53"), 5353, 53)
    assert steer.location_of(asked) == ""
    steer.inbound(Segment(asked, 60), b"G" * 40, LB, 0.0)
    assert steer.location_of(asked) == ""


def test_a_located_query_forgotten_by_expiry_leaves_no_location_behind() -> None:
    """Once loc-b's query flow has expired, the same 5-tuple from the own location must
    not be taken for loc-b's: its answer would teach loc-b's names, not the own ones."""
    steer = _steering(rule(1, Method.DIRECT))
    asked = FlowKey(IpProto.UDP, WORKLOAD, IPv4Address("198.18.53.53"), 5353, 53)
    steer.inbound(Segment(replace(asked, location="loc-b"), 60), HDR_B, LB, 0.0)
    assert steer.location_of(asked) == "loc-b"  # control: while it lives
    assert steer.expire(121.0) == 1
    steer.inbound(Segment(asked, 60), b"G" * 40, LB, 121.0)
    assert steer.location_of(asked) == ""


def test_a_name_learned_in_a_location_reaches_the_peers_table_of_that_location() -> None:
    log = BindingLog()
    own_a, own_b = NameBindings(), NameBindings()
    a = ClusterMember("cc1", log, {}, names=own_a)
    b = ClusterMember("cc2", log, {}, names=own_b)
    names_in(a.located, "loc-a").learn(WEB, "www.web.example", 60, 0.0)
    a.learned(WEB, "www.web.example", 120.0, 0.0, "loc-a")
    seen = LocatedNames(b.located, "loc-a", b.sync)
    assert seen.names_for(WEB) == {"www.web.example"}  # synced on the miss
    assert LocatedNames(b.located, "loc-b", b.sync).names_for(WEB) == frozenset()
    assert own_b.names_for(WEB) == frozenset()  # not the peer's own location either
