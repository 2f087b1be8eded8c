"""Steering of GENEVE flows (spec §4.1: G2, G5, G6; §5.4: F5), pure, with a given clock."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from connector.core.flows import FlowTimeouts
from connector.core.model import FlowKey, IpProto, Method, NoNames, NoPools
from connector.core.policy import ForwardingRule
from connector.core.rules import ForwardingPolicy
from connector.core.steering import (
    Dropped,
    NewFlow,
    Segment,
    Steering,
    ToGeneve,
    ToKernel,
    ToZia,
)
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth
from connector.core.workloads import WorkloadCounter
from suites.unit.connector.policy_builders import ME, Pools, policy, rule

pytestmark = pytest.mark.unit
PRIMARY, SECONDARY = IPv4Address("198.19.1.1"), IPv4Address("198.19.1.2")
WORKLOAD, WEB = IPv4Address("10.10.1.11"), IPv4Address("198.18.10.10")
HDR, LB = b"G" * 40, ("10.10.3.5", 6081)


def _steering(*rules: ForwardingRule) -> tuple[Steering, TunnelHealth]:
    pol = policy(*rules)
    clock = [0.0]
    tunnels = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: clock[0])
    return Steering(ForwardingPolicy(pol, ME), NoNames(), NoPools(), tunnels), tunnels


def _seg(src=WORKLOAD, dst=WEB, sport=40000, dport=80, flags=0x02) -> Segment:  # type: ignore[no-untyped-def]
    return Segment(FlowKey(IpProto.TCP, src, dst, sport, dport), 60, flags)


def test_direct_goes_to_the_kernel_and_the_reply_gets_the_flows_header_back() -> None:
    steer, _ = _steering(rule(1, Method.DIRECT))
    assert isinstance(steer.inbound(_seg(), HDR, LB, 0.0), ToKernel)
    reply = steer.outbound(_seg(src=WEB, dst=WORKLOAD, sport=80, dport=40000, flags=0x12), 0.1)
    assert reply == ToGeneve(HDR, LB)


def test_G5_reply_of_an_unknown_flow_is_dropped() -> None:  # noqa: N802
    steer, _ = _steering(rule(1, Method.DIRECT))
    result = steer.outbound(_seg(src=WEB, dst=WORKLOAD, sport=80, dport=40001), 0.0)
    assert result == Dropped("not_from_load_balancer")


def test_G6_flow_state_lasts_350_s_idle() -> None:  # noqa: N802
    steer, _ = _steering(rule(1, Method.DIRECT))
    steer.inbound(_seg(), HDR, LB, 0.0)
    steer.inbound(_seg(flags=0x10), HDR, LB, 0.0)
    assert steer.expire(349.0) == 0
    assert isinstance(steer.outbound(_seg(WEB, WORKLOAD, 80, 40000, 0x10), 349.0), ToGeneve)
    assert steer.expire(349.0 + 351.0) == 1
    assert isinstance(steer.outbound(_seg(WEB, WORKLOAD, 80, 40000, 0x10), 701.0), Dropped)


def test_dns_to_any_destination_is_intercepted_not_policed() -> None:
    steer, _ = _steering(rule(1, Method.DROP))
    seg = Segment(FlowKey(IpProto.UDP, WORKLOAD, IPv4Address("8.8.8.8"), 5000, 53), 60)
    action = steer.inbound(seg, HDR, LB, 0.0)
    assert isinstance(action, ToKernel)
    assert action.decision.rule_name == "DNS Interception"


def test_zia_fail_close_drops_while_no_tunnel_is_alive() -> None:
    steer, _ = _steering()
    action = steer.inbound(_seg(), HDR, LB, 0.0)
    assert isinstance(action, Dropped)
    assert action.decision is not None
    assert action.decision.method is Method.DROP
    assert "fail-close" in action.decision.reason


def test_F5_flow_moves_to_secondary_when_primary_dies_new_flows_return() -> None:  # noqa: N802
    steer, tunnels = _steering()
    tunnels.acked(PRIMARY, 0.0)
    tunnels.acked(SECONDARY, 0.0)
    assert steer.inbound(_seg(), HDR, LB, 0.5) == ToZia(PRIMARY, steer.flows.lookup(
        _seg().key, 0.5).decision)  # type: ignore[union-attr]
    tunnels.acked(SECONDARY, 3.0)  # the primary stops answering
    for _ in range(3):  # the keepalives at 1, 2 and 3 s
        tunnels.asked(PRIMARY)
    moved = steer.inbound(_seg(flags=0x10), HDR, LB, 3.6)
    assert isinstance(moved, ToZia)
    assert moved.address == SECONDARY
    tunnels.acked(PRIMARY, 4.0)
    tunnels.acked(SECONDARY, 4.0)
    kept = steer.inbound(_seg(flags=0x10), HDR, LB, 4.1)
    assert isinstance(kept, ToZia)
    assert kept.address == SECONDARY, "a running flow stays"
    new = steer.inbound(_seg(sport=40002), HDR, LB, 4.1)
    assert isinstance(new, ToZia)
    assert new.address == PRIMARY, "new sessions return"


def test_a_running_zia_flow_whose_tunnels_all_die_is_dropped_as_unusable() -> None:
    """decisions.md: fail-close/open is judged on a flow's first packet; a ZIA flow
    whose tunnels all die later is dropped, counted `dropped_zia_unusable`."""
    steer, tunnels = _steering()
    tunnels.acked(PRIMARY, 0.0)
    first = steer.inbound(_seg(), HDR, LB, 0.5)
    assert isinstance(first, ToZia)
    for _ in range(5):  # the keepalives at 1 to 5 s, none answered
        tunnels.asked(PRIMARY)
    assert steer.inbound(_seg(flags=0x10), HDR, LB, 5.0) == Dropped("zia_unusable",
                                                                    first.decision)


def test_gwlb_rehoming_a_flow_updates_its_return_header() -> None:
    steer, _ = _steering(rule(1, Method.DIRECT))
    steer.inbound(_seg(), HDR, LB, 0.0)
    steer.inbound(_seg(flags=0x10), b"H" * 40, ("10.10.3.6", 6081), 1.0)
    assert steer.outbound(_seg(WEB, WORKLOAD, 80, 40000, 0x10), 1.1) == \
        ToGeneve(b"H" * 40, ("10.10.3.6", 6081))


def test_zpa_tcp_goes_to_the_kernel_for_the_proxy_and_zpa_udp_is_dropped() -> None:
    pol = policy(rule(1, Method.DIRECT, dest_ip_groups=("internet-web",)))
    tunnels = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    steer = Steering(ForwardingPolicy(pol, ME), NoNames(), Pools(live={"10.254.0.9"}), tunnels)
    synthetic = IPv4Address("10.254.0.9")
    tcp = steer.inbound(_seg(dst=synthetic), HDR, LB, 0.0)
    assert isinstance(tcp, ToKernel)
    assert tcp.decision.method is Method.ZPA
    assert steer.inbound(_seg(dst=synthetic, flags=0x10), HDR, LB, 0.1) == tcp, "every packet"
    udp = Segment(FlowKey(IpProto.UDP, WORKLOAD, synthetic, 40000, 5000), 60)
    assert steer.inbound(udp, HDR, LB, 0.0) == Dropped("zpa_not_tcp", tcp.decision)
    stray = steer.inbound(_seg(dst=IPv4Address("10.254.0.10")), HDR, LB, 0.0)
    assert isinstance(stray, Dropped)
    assert stray.decision is not None
    assert stray.decision.method is Method.DROP


def test_zpa_without_a_broker_never_goes_to_the_kernel() -> None:
    """Gap 7 of the audit: with no broker nothing tproxies the flow, so ToKernel would
    leave a live synthetic address Direct, SNATed. It is dropped and counted instead."""
    pol = policy(rule(1, Method.DIRECT, dest_ip_groups=("internet-web",)))
    tunnels = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    steer = Steering(ForwardingPolicy(pol, ME), NoNames(), Pools(live={"10.254.0.9"}),
                     tunnels, zpa_carried=False)
    action = steer.inbound(_seg(dst=IPv4Address("10.254.0.9")), HDR, LB, 0.0)
    assert isinstance(action, Dropped)
    assert action.reason == "zpa_no_broker"
    assert action.decision is not None
    assert action.decision.method is Method.ZPA
    stray = steer.inbound(_seg(dst=IPv4Address("10.254.0.10"), sport=40001), HDR, LB, 0.0)
    assert isinstance(stray, Dropped)
    assert stray.reason == "stray_pool"


def _logged_steering(*rules: ForwardingRule, **kwargs: object
                     ) -> tuple[Steering, TunnelHealth, list[NewFlow]]:
    pol = policy(*rules)
    tunnels = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    logged: list[NewFlow] = []
    steer = Steering(ForwardingPolicy(pol, ME), NoNames(), NoPools(), tunnels,
                     on_new_flow=logged.append, **kwargs)  # type: ignore[arg-type]
    return steer, tunnels, logged


def test_F7_each_flow_is_logged_once_with_its_decision_and_why_it_was_dropped() -> None:  # noqa: N802
    """The session log gets one record per flow, at its first packet: the flow's
    5-tuple, its decision, and for a dropped flow the reason it is counted under."""
    steer, _, logged = _logged_steering(rule(1, Method.DROP, nw_services=("icmp",)),
                                        rule(2, Method.DIRECT))
    web = steer.inbound(_seg(), HDR, LB, 0.0)
    steer.outbound(_seg(WEB, WORKLOAD, 80, 40000, 0x12), 0.1)
    steer.inbound(_seg(flags=0x10), HDR, LB, 0.1)
    ping = Segment(FlowKey(IpProto.ICMP, WORKLOAD, WEB), 84)
    dropped = steer.inbound(ping, HDR, LB, 0.2)
    steer.inbound(ping, HDR, LB, 1.2)
    dns = Segment(FlowKey(IpProto.TCP, WORKLOAD, WEB, 40001, 53), 60, 0x02)
    intercepted = steer.inbound(dns, HDR, LB, 0.3)
    assert isinstance(web, ToKernel)
    assert isinstance(dropped, Dropped)
    assert isinstance(intercepted, ToKernel)
    assert dropped.decision is not None
    assert (web.decision.rule_name, dropped.decision.rule_name,
            intercepted.decision.rule_name) == ("r2", "r1", "DNS Interception")
    assert logged == [NewFlow(_seg().key, web.decision, None),
                      NewFlow(ping.key, dropped.decision, "policy_drop"),
                      NewFlow(dns.key, intercepted.decision, None)]


def test_a_flow_fail_close_dropped_takes_the_tunnel_once_its_gateway_answers() -> None:
    """decisions.md: a fail-close drop is judged again on each packet of its flow, so a
    flow that keeps sending through an outage (or a new connection on its 5-tuple) takes
    the tunnel once the gateway answers; the session log gets a record of each change."""
    steer, tunnels, logged = _logged_steering()
    first = steer.inbound(_seg(), HDR, LB, 0.0)
    again = steer.inbound(_seg(), HDR, LB, 1.0)  # the SYN sent again, still no tunnel
    assert isinstance(first, Dropped)
    assert first.reason == "zia_fail_close"
    assert again == first
    tunnels.acked(PRIMARY, 0.0)
    back = steer.inbound(_seg(), HDR, LB, 2.0)
    assert isinstance(back, ToZia)
    assert (back.address, back.decision.method, back.decision.gateway) == (
        PRIMARY, Method.ZIA, "default")
    assert steer.outbound(_seg(WEB, WORKLOAD, 80, 40000, 0x12), 2.1) == ToGeneve(HDR, LB)
    assert isinstance(steer.inbound(_seg(flags=0x10), HDR, LB, 2.2), ToZia)
    assert [(f.key, f.decision.method, f.dropped) for f in logged] == [
        (_seg().key, Method.DROP, "zia_fail_close"), (_seg().key, Method.ZIA, None)]


def test_flow_state_follows_the_timeouts_it_is_given() -> None:
    steer, _, _ = _logged_steering(rule(1, Method.DIRECT),
                                   timeouts=FlowTimeouts(tcp=30.0, udp=20.0, other=10.0))
    steer.inbound(_seg(), HDR, LB, 0.0)
    assert steer.expire(29.0) == 0
    assert steer.expire(30.0) == 1
    assert isinstance(steer.outbound(_seg(WEB, WORKLOAD, 80, 40000, 0x10), 30.0), Dropped)


def test_a_full_flow_table_drops_new_flows_and_keeps_the_live_ones() -> None:
    steer, _, logged = _logged_steering(rule(1, Method.DIRECT))
    steer.flows.max_flows = 1
    assert isinstance(steer.inbound(_seg(), HDR, LB, 0.0), ToKernel)
    full = steer.inbound(_seg(sport=40001), HDR, LB, 0.0)
    assert isinstance(full, Dropped)
    assert full.reason == "flow_table_full"  # counted as dropped_flow_table_full
    assert full.decision is not None
    assert (full.decision.method, full.decision.rule_name) == (Method.DIRECT, "r1")
    assert isinstance(steer.inbound(_seg(flags=0x10), HDR, LB, 0.1), ToKernel)
    assert [f.key.sport for f in logged] == [40000]


def test_local_switch_is_not_carried_by_this_connector() -> None:
    """§5.4 Local forwards inside the cloud; the lab's connector has no such path, so
    such a flow is dropped and counted by its own reason, never sent anywhere."""
    steer, _, logged = _logged_steering(rule(1, Method.LOCAL))
    action = steer.inbound(_seg(), HDR, LB, 0.0)
    assert isinstance(action, Dropped)
    assert action.reason == "local_not_carried"
    assert action.decision is not None
    assert action.decision.method is Method.LOCAL
    assert [f.dropped for f in logged] == ["local_not_carried"]


def _handshake(steer: Steering, src: IPv4Address, sport: int, now: float) -> None:
    steer.inbound(_seg(src=src, sport=sport, flags=0x02)._replace(seq=1), HDR, LB, now)
    steer.outbound(_seg(WEB, src, 80, sport, 0x12)._replace(seq=900, ack=2), now)
    steer.inbound(_seg(src=src, sport=sport, flags=0x10)._replace(seq=2, ack=901), HDR, LB, now)


def test_licences_count_the_workloads_whose_handshakes_pass_through() -> None:
    """Licences count in-range sources whose TCP handshake completed through this
    connector, at the time it completed (decisions.md: TCP handshakes only)."""
    counter = WorkloadCounter([IPv4Network("10.10.1.0/24")])
    steer, _, _ = _logged_steering(rule(1, Method.DIRECT), workloads=counter)
    other = IPv4Address("10.10.1.12")
    _handshake(steer, WORKLOAD, 40000, 5.0)
    steer.inbound(_seg(src=other, sport=40001, flags=0x02)._replace(seq=1), HDR, LB, 6.0)
    udp = Segment(FlowKey(IpProto.UDP, other, WEB, 40002, 5000), 60)
    steer.inbound(udp, HDR, LB, 7.0)
    steer.outbound(Segment(FlowKey(IpProto.UDP, WEB, other, 5000, 40002), 60), 7.0)
    assert counter.workloads() == {WORKLOAD}
    assert counter.count(since=5.0) == 1
    assert counter.count(since=5.5) == 0
    _handshake(steer, other, 40003, 8.0)
    assert counter.workloads(since=8.0) == {other}


def test_a_completed_handshake_needs_no_licence_counter() -> None:
    steer, _ = _steering(rule(1, Method.DIRECT))
    _handshake(steer, WORKLOAD, 40000, 0.0)
    assert isinstance(steer.inbound(_seg(flags=0x18), HDR, LB, 0.1), ToKernel)
    assert steer.outbound(_seg(WEB, WORKLOAD, 80, 40000, 0x10), 0.2) == ToGeneve(HDR, LB)
