"""A routed-only connector (no GENEVE), judged on real packets in the
azure-routed-sublocations lab: its flow table forgets idle flows, and its routed fast
path (`runtime.routed_fast_path`, lab/topologies/connectors/azure-subloc-cc*.yaml)
frames ZIA flows into the tunnel.

Flows come routed from the ILB, which picks a connector by 5-tuple; a test finds the
carrier in the session log (the flow's `flow.new`) and judges it there. What leaves is
read where it shows: the edge's wire (a capture on zia1 or zia2), web2's kernel
counters (a datagram to a closed port is checked whole before it is counted), and the
carrier's metrics. Expected values come from the flow sent and connector/io/zia_frame.py's
format ("ZT", version 1, DATA), not from the connector's output.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import allure
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.packet import Raw
from scapy.utils import rdpcap

from connector.core.flows import FlowTimeouts
from connector.service.flow_expiry import EXPIRE_EVERY_S
from lab.api import LabHandle
from lab.events import Mark
from suites.fixtures.allure_hooks import attach_pcap
from suites.fixtures.kernel_stats import udp_counters
from suites.fixtures.spoof import send_from
from suites.fixtures.windows import path_window
from suites.functional.connector.gwlb_helpers import (
    CC,
    metrics,
    tunnel_port_cut,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("lab_capable")  # tier: the fixture's backend (netns)

WORKLOAD, WEB2 = "10.10.1.11", "198.18.10.20"  # workload1 (the own location), web2: ZIA
LOC_R, WEB = "10.10.1.12", "198.18.10.10"  # workload2, in loc-r, whose rule 1 drops web:80
ZIA1, ZIA2 = "198.19.1.1", "198.19.1.2"
ZT_DATA = b"ZT\x01\x01"
AFTER_FIRST_S = 0.5  # the first datagram is user space's: decided, framed, installed


class Flow:
    """One UDP flow from workload1 to web2:`dport` (the default rule: ZIA), the same
    5-tuple at each `send`."""

    def __init__(self, lab: LabHandle, dport: int) -> None:
        self.lab, self.dport = lab, dport
        self.sport = 42000 + uuid.uuid4().int % 1000
        self.datagram = (IP(src=WORKLOAD, dst=WEB2, ttl=64)
                         / UDP(sport=self.sport, dport=dport) / Raw(b"r" * 64))

    def send(self, count: int) -> None:
        send_from(self.lab, "workload1", self.datagram, count=count, interval=0.002)

    def start(self) -> tuple[str, dict[str, float]]:
        """Its first datagram: the connector that carried it (its `flow.new`, ZIA), and
        that connector's metrics once the flow is in its kernel."""
        mark = self.lab.mark()
        self.send(1)
        logged = _first_logged(self.lab, self, mark)
        assert (logged["method"], logged["gateway"]) == ("ZIA", "default"), logged
        carrier = str(logged["_node"])
        time.sleep(AFTER_FIRST_S)  # the install follows the frame: nothing to poll
        return carrier, metrics(self.lab, carrier)

    def frames(self, pcap: Path) -> list[tuple[str, bytes]]:
        """(outer source, frame) of each tunnel DATA frame in `pcap` whose inner packet is
        this flow. The outer source is the carrier's address as the internet sees it
        (its public address: the lab's cloud maps the service address to it)."""
        found = []
        for p in rdpcap(str(pcap)):
            if UDP in p and p[UDP].dport == 6789:
                frame = bytes(p[UDP].payload)
                inner = IP(frame[12:]) if frame[:4] == ZT_DATA else None
                if inner is not None and UDP in inner and inner[UDP].sport == self.sport \
                        and inner[UDP].dport == self.dport:
                    found.append((p[IP].src, frame))
        return found


def _zia1_alive_everywhere(lab: LabHandle) -> None:
    """Until neither connector calls zia1 dead (its last gateway event for it): a test
    before may have cut it, and the flows here are judged on the primary's wire."""
    def dead_somewhere() -> bool:
        for node in CC:
            last = [e["kind"] for e in lab.events(node)
                    if e.get("kind") in ("zia.gateway_down", "zia.gateway_up")
                    and e.get("address") == ZIA1]
            if last and last[-1] == "zia.gateway_down":
                return True
        return False
    wait_for(lambda: not dead_somewhere(), 10, "both connectors calling zia1 alive")


def _logged(lab: LabHandle, mark: Mark, sport: int, dport: int) -> list[dict[str, object]]:
    """Either connector's `flow.new` records of the flow from `sport` to `dport` written
    after `mark`, each with the connector that wrote it (`_node`)."""
    return [{**e, "_node": node} for node in CC for e in lab.events(node, "flow.new", after=mark)
            if e.get("sport") == sport and e.get("dport") == dport]


def _first_logged(lab: LabHandle, flow: Flow, mark: Mark) -> dict[str, object]:
    wait_for(lambda: bool(_logged(lab, mark, flow.sport, flow.dport)), 5,
             f"a connector logging the flow from port {flow.sport}")
    return _logged(lab, mark, flow.sport, flow.dport)[0]


@allure.feature("routed fast path")
@allure.story("a routed UDP ZIA flow is framed into the tunnel by the kernel")
def test_a_routed_zia_udp_flow_is_framed_by_the_kernel_after_its_first_datagram(
        routed_sublocation_lab: LabHandle, pcap_dir: Path) -> None:
    """The first datagram is user space's (decided, logged, framed); the next 39 are the
    tc program's. zia1 (the primary) sees all 40 as DATA frames from the carrier, each
    with the workload's datagram inside, its TTL lowered once by the connector as the
    kernel's forwarding lowers it for user space (one TTL for all 40: the kernel's and
    user space's agree); web2's kernel takes all 40 whole; the carrier's counters read
    as if user space had framed each, and say how many it did not; the session log has
    the flow once."""
    lab = routed_sublocation_lab
    flow = Flow(lab, 5011)
    _zia1_alive_everywhere(lab)
    udp = udp_counters(lab, "web2")
    pcap = pcap_dir / "zia1-tunnel.pcap"
    mark = lab.mark()
    with lab.capture("zia1", "eth0", pcap) as capture:
        carrier, before = flow.start()
        flow.send(39)
        wait_for(lambda: udp_counters(lab, "web2")["NoPorts"] - udp["NoPorts"] >= 40, 5,
                 "40 datagrams at web2")
    attach_pcap(pcap, "zia1: the flow's frames")
    after = metrics(lab, carrier)
    assert capture.dropped == 0, "the capture lost packets: it cannot count them"
    framed = flow.frames(pcap)
    assert len(framed) == 40, "every datagram reached the edge, framed"
    assert len({source for source, _ in framed}) == 1, "all from the one carrier"
    inner = [IP(f[12:]) for _, f in framed]
    assert {(p.src, p.dst, bytes(p[UDP].payload)) for p in inner} == {
        (WORKLOAD, WEB2, b"r" * 64)}, "the workload's datagrams, unchanged but for the TTL"
    ttls = {p.ttl for p in inner}
    assert len(ttls) == 1, f"one TTL for user space's frame and the kernel's: {ttls}"
    assert ttls.pop() < 64, "lowered on the way, as a router does"
    web2 = udp_counters(lab, "web2")
    assert (web2["NoPorts"] - udp["NoPorts"], web2["InCsumErrors"] - udp["InCsumErrors"]) == (
        40, 0), "web2's kernel took all 40, none with a broken checksum"

    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)
    assert grew("routed_rx_packets_total") == 39, "what the kernel framed, folded"
    assert grew("routed_rx_fast_path_total") == 39
    assert grew("zia_tx_packets_total") == 39
    assert grew("zia_tx_fast_path_total") == 39, "all but the first, framed by the kernel"
    logged = _logged(lab, mark, flow.sport, flow.dport)
    assert len(logged) == 1, f"one flow, one record: {logged}"


@allure.feature("routed fast path")
@allure.story("F5: a routed flow the kernel frames moves when its edge dies")
def test_F5_a_routed_zia_flow_the_kernel_frames_moves_to_the_secondary(  # noqa: N802
        routed_sublocation_lab: LabHandle, pcap_dir: Path) -> None:
    """The kernel frames a routed UDP ZIA flow to zia1; zia1's tunnel ports are cut. Once
    the carrier calls zia1 dead, the flow's next datagrams go to zia2, as user space
    moves a running flow (the connector takes its ZIA flows out of the kernel when an
    edge dies), and none to zia1."""
    lab = routed_sublocation_lab
    flow = Flow(lab, 5012)
    _zia1_alive_everywhere(lab)
    carrier, before = flow.start()
    flow.send(4)
    carried = metrics(lab, carrier).get("zia_tx_fast_path_total", 0.0) - before.get(
        "zia_tx_fast_path_total", 0.0)
    assert carried == 4, "the flow is the kernel's before the cut"
    mark = lab.mark()
    with tunnel_port_cut(lab, "zia1"):
        lab.wait_event(carrier, "zia.gateway_down", lambda e: e["address"] == ZIA1,
                       after=mark, timeout=10)
        with lab.capture("zia1", "eth0", pcap_dir / "zia1.pcap") as cut, \
                lab.capture("zia2", "eth0", pcap_dir / "zia2.pcap") as secondary:
            udp = udp_counters(lab, "web2")
            flow.send(10)
            wait_for(lambda: udp_counters(lab, "web2")["NoPorts"] - udp["NoPorts"] >= 10, 5,
                     "10 datagrams at web2")
    for name in ("zia1", "zia2"):
        attach_pcap(pcap_dir / f"{name}.pcap", f"{name}: the flow's frames after the cut")
    assert (cut.dropped, secondary.dropped) == (0, 0)
    assert len(flow.frames(pcap_dir / "zia2.pcap")) == 10, "all on the secondary"
    assert flow.frames(pcap_dir / "zia1.pcap") == [], "none to the dead edge"
    _zia1_alive_everywhere(lab)


@allure.feature("forwarding")
@allure.story("F7: a flow the connector forgot is a new flow, logged again")
def test_a_closed_flow_is_forgotten_and_its_five_tuple_logged_anew(
        routed_sublocation_lab: LabHandle) -> None:
    """The connectors are routed only, and expire idle flows as a GENEVE connector does
    (connector/service/flow_expiry.py). From workload2 (loc-r, whose rule drops web:80) a
    SYN, an RST from the same source port (the flow is closing) and the SYN again: one
    record, the same flow. Once the closed timeout and an expiry round passed in
    silence, the same SYN is a new flow with a record of its own; a table never expired
    would still hold the old one. The ILB keeps the 5-tuple on one connector."""
    lab = routed_sublocation_lab
    sport = 41000 + uuid.uuid4().int % 1000
    syn = IP(src=LOC_R, dst=WEB) / TCP(sport=sport, dport=80, flags="S", seq=1000)
    rst = IP(src=LOC_R, dst=WEB) / TCP(sport=sport, dport=80, flags="R", seq=1001)

    def records(mark: Mark) -> list[dict[str, object]]:
        return _logged(lab, mark, sport, 80)

    mark = lab.mark()
    send_from(lab, "workload2", syn, rst, syn, interval=0.2)
    wait_for(lambda: bool(records(mark)), 10, "the flow's record")
    path_window("the session log lines of the RST and the second SYN").wait()
    assert len(records(mark)) == 1, f"one flow, one record while it is live: {records(mark)}"
    time.sleep(FlowTimeouts().tcp_closed + EXPIRE_EVERY_S + 1)  # silence: it expires
    again = lab.mark()
    send_from(lab, "workload2", syn)
    wait_for(lambda: bool(records(again)), 10, "a record of the same 5-tuple, anew")
    logged = records(again)
    assert [(e["method"], e["rule"], e["location"]) for e in logged] == [
        ("DROP", "web-drop-loc-r", "loc-r")], logged
