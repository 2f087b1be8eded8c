"""Health checks (spec §10: H1, H2, H3, §3.5), ZIA unreachable (F4), tunnel failover (F5)
and connector failover, in the gwlb lab (GENEVE).

Paths are cut for real (nftables drops the tunnel ports in the ZIA edges or
the connector namespace; another process takes the DNS listener's port);
what is asserted is what the GWLB, the edges and the web servers logged, what
the probe answered, and the connector's own counters and session log. Every
test leaves the lab as it found it: both connectors healthy in the GWLB's eyes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import allure
from scapy.layers.inet import IP, UDP
from scapy.utils import rdpcap

from lab.api import LabHandle
from lab.events import Mark
from suites.fixtures.allure_hooks import attach_json, attach_pcap
from suites.fixtures.connector_view import nft_counter
from suites.fixtures.kernel_stats import udp_counters
from suites.fixtures.lab import wait_targets_healthy
from suites.fixtures.windows import path_window
from suites.functional.connector.gwlb_helpers import (
    geneve_probe,
    metrics,
    probe_status,
    tunnel_port_cut,
    wait_for,
)

# Tier: from the gwlb_lab fixture (netns and docker).
CC1_SVC, CC1_MGMT = "10.10.3.31", "10.10.2.21"
WEB2 = "198.18.10.20"
SERVICE_ADDRESSES = ("10.10.3.31", "10.10.3.32")


def _healthy_again(lab: LabHandle, *nodes: str) -> None:
    for node in nodes:
        wait_for(lambda n=node: probe_status(lab, n) == "200", 10, f"{node} healthy again")


def _reasons(lab: LabHandle) -> str:
    return lab.exec("fabric", "curl", "-s", "-m", "3", f"http://{CC1_MGMT}:9100/health",
                    check=False).stdout


@allure.feature("health")
def test_H1_probe_is_200_then_503_when_every_zia_path_is_cut_then_200(  # noqa: N802
        gwlb_lab: LabHandle) -> None:
    assert probe_status(gwlb_lab, "cc1") == "200"
    with tunnel_port_cut(gwlb_lab, "zia1", "zia2"):
        took = wait_for(lambda: probe_status(gwlb_lab, "cc1") == "503", 5,
                        "503 after every ZIA path was cut")
        attach_json({"seconds_to_503": round(took, 2)}, "H1 timing")
        body = gwlb_lab.exec("gwlb", "curl", "-s", "-m", "3",
                             f"http://{CC1_SVC}:50000/?cchealth").stdout
        reason = _reasons(gwlb_lab)
    assert body == "unhealthy\n", "the probe port says 503 and nothing more"
    assert "ZIA gateway 'default'" in reason
    assert "fail-close" in reason
    _healthy_again(gwlb_lab, "cc1", "cc2")


@allure.feature("health")
@allure.story("H2: the health port answers the probe sources only, by the connector itself")
def test_H2_the_probe_port_refuses_other_sources(gwlb_lab: LabHandle) -> None:  # noqa: N802
    """The GWLB (10.10.3.5, the configured probe source) gets 200; the VPC router and a
    workload, which nothing in this lab filters on the way, get no answer at all, and
    the connector's own counter shows each attempt arrived and was refused."""
    assert probe_status(gwlb_lab, "cc1") == "200"
    for node in ("fabric", "workload1"):
        before = nft_counter(gwlb_lab, "cc1", "probe_refused")
        assert probe_status(gwlb_lab, "cc1", source_node=node) == "000", f"{node} got an answer"
        assert nft_counter(gwlb_lab, "cc1", "probe_refused") > before, f"{node}: not counted"


@allure.feature("health")
def test_H3_ten_parallel_probes_a_second_do_not_flip_state(gwlb_lab: LabHandle) -> None:  # noqa: N802
    mark = gwlb_lab.mark()
    codes = gwlb_lab.exec(
        "gwlb", "sh", "-c", "for s in 1 2 3; do seq 10 | xargs -P 10 -I{} curl -s -o /dev/null "
        f"-w '%{{http_code}}\\n' -m 2 'http://{CC1_SVC}:50000/?cchealth'; sleep 1; done",
        timeout=30).stdout.split()
    assert codes == ["200"] * 30
    assert gwlb_lab.events("gwlb", "gwlb.target_unhealthy", after=mark) == []


BLOCKER = ("import socket, time\n"
           "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('{a}', 5353))\n"
           "t = socket.socket(); t.bind(('{a}', 5353)); t.listen(1)\n"
           "time.sleep(60)\n")


@contextmanager
def _dns_port_taken(lab: LabHandle) -> Iterator[None]:
    """Another process holds the DNS listener's port on cc1 (bounded: 60 s), killed on exit."""
    script = BLOCKER.format(a=CC1_SVC).replace("'", "'\"'\"'")
    pid = lab.exec("cc1", "sh", "-c", f"{lab.python} -c '{script}' >/dev/null 2>&1 & echo $!"
                   ).stdout.strip()
    try:
        yield
    finally:
        lab.exec("cc1", "kill", pid, check=False)


@allure.feature("health")
@allure.story("§3.5: healthy only while the DNS listener is up")
def test_a_connector_whose_dns_listener_is_down_says_503(gwlb_lab: LabHandle) -> None:
    """cc1 is restarted while another process holds its listener's port: it starts,
    says 503 on the probe port and why on the management port, and once the port is
    free binds it, answers DNS and says 200 again."""
    gwlb_lab.stop_service("cc1", "connector")
    mark, started = gwlb_lab.mark(), False
    try:
        with _dns_port_taken(gwlb_lab):
            gwlb_lab.start_service("cc1", "connector")
            started = True
            ready = gwlb_lab.wait_event("cc1", "service.ready", after=mark)
            assert ready["dns_listener"] == "down"
            assert probe_status(gwlb_lab, "cc1") == "503"
            assert "DNS listener is down" in _reasons(gwlb_lab)
    finally:
        if not started:
            gwlb_lab.start_service("cc1", "connector")
    gwlb_lab.wait_event("cc1", "dns.listener_up", after=mark, timeout=5)
    wait_for(lambda: probe_status(gwlb_lab, "cc1") == "200", 5, "200 once DNS is up")
    answer = gwlb_lab.exec("workload1", "dig", "+short", "+time=2", "+tries=1",
                           f"@{CC1_SVC}", "app-a.corp.example").stdout.split()
    assert len(answer) == 1, answer
    assert answer[0].startswith("10.254."), answer
    wait_targets_healthy(gwlb_lab, "gwlb")


def _flow_on_either(lab: LabHandle, match: Callable[[dict[str, Any]], bool],
                    mark: Mark) -> dict[str, Any]:
    """The session-log record of a flow the GWLB gave to either connector."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for node in ("cc1", "cc2"):
            found = [e for e in lab.events(node, "flow.new", after=mark) if match(e)]
            if found:
                return found[0]
        time.sleep(0.1)
    raise AssertionError("no connector logged the flow")


def _zia_get(lab: LabHandle, path: str, port: int = 80) -> str:
    return lab.exec("workload1", "curl", "-s", "-m", "5", f"http://{WEB2}:{port}{path}",
                    check=False).stdout


@allure.feature("forwarding")
@allure.story("F4: ZIA unreachable: fail-close drops, fail-open goes Direct (GENEVE)")
def test_F4_fail_close_drops_and_fail_open_goes_direct(gwlb_lab: LabHandle) -> None:  # noqa: N802
    """Both edges cut: web2:80 takes the default gateway (fail-close) and must not
    arrive; web2:8080 takes the gateway `open` (same edges, fail-open) and arrives
    Direct from a connector's service address. (The GWLB, with no healthy target,
    keeps sending to all of them, as AWS does.)"""
    with tunnel_port_cut(gwlb_lab, "zia1", "zia2"):
        wait_for(lambda: probe_status(gwlb_lab, "cc1") == "503", 5, "every ZIA path cut")
        wait_for(lambda: probe_status(gwlb_lab, "cc2") == "503", 5, "every ZIA path cut")
        mark = gwlb_lab.mark()
        assert _zia_get(gwlb_lab, "/f4-closed") == ""
        logged = _flow_on_either(gwlb_lab, lambda e: e["dst"] == WEB2 and e["dport"] == 80,
                                 mark)
        assert (logged["dropped"], logged["gateway"]) == ("zia_fail_close", "default")
        path_window("a carried request reaching web2").wait()
        opened = _zia_get(gwlb_lab, "/f4-open", port=8080)
        assert '"seen_source"' in opened, opened
    got = {e["path"]: e for e in gwlb_lab.events("web2", "http.request", after=mark)}
    assert "/f4-closed" not in got, "fail-close let a flow through"
    assert got["/f4-open"]["src"] in SERVICE_ADDRESSES, got["/f4-open"]
    _healthy_again(gwlb_lab, "cc1", "cc2")


@allure.feature("forwarding")
@allure.story("F4: a flow fail-close dropped gets through once an edge answers (GENEVE)")
def test_F4_a_flow_dropped_by_fail_close_gets_through_once_zia_answers(  # noqa: N802
        gwlb_lab: LabHandle) -> None:
    """One UDP flow to web2 (the default rule: ZIA, fail-close), sent in GENEVE straight to
    cc1 (no load balancer to move it): three datagrams while both edges are cut, dropped
    and logged as fail-close, then three more of the same flow once the edges answer.
    Those must reach web2 (its kernel counts them at a closed port) through an edge, and
    cc1 logs the flow's Drop, then ZIA. Judged on its first packet alone, the flow stayed
    dropped after ZIA was back, for as long as it kept sending (docs/decisions.md, "A
    fail-close drop is judged again")."""
    def send() -> None:
        _zia_stream(gwlb_lab, 5005, 3)

    def ours(e: dict[str, Any]) -> bool:
        return e["dst"] == WEB2 and e["dport"] == 5005

    mark = gwlb_lab.mark()
    with tunnel_port_cut(gwlb_lab, "zia1", "zia2"):
        wait_for(lambda: probe_status(gwlb_lab, "cc1") == "503", 5, "every ZIA path cut")
        web2 = udp_counters(gwlb_lab, "web2")
        send()
        assert udp_counters(gwlb_lab, "web2")["NoPorts"] == web2["NoPorts"], "none got through"
    wait_for(lambda: _transport(gwlb_lab, "cc1", "198.19.1.1") == "udp", 10,
             "cc1 on UDP to zia1 again")
    send()
    got = wait_for(lambda: udp_counters(gwlb_lab, "web2")["NoPorts"] - web2["NoPorts"] >= 3,
                   5, "the flow's datagrams at web2 once ZIA answers")
    attach_json({"seconds_to_web2": round(got, 2)}, "F4: after the cut")
    records = [e for e in gwlb_lab.events("cc1", "flow.new", after=mark) if ours(e)]
    assert [(e["method"], e["dropped"]) for e in records] == [
        ("DROP", "zia_fail_close"), ("ZIA", None)], "judged again once ZIA answers"
    edges = [e for edge in ("zia1", "zia2")
             for e in gwlb_lab.events(edge, "zia.transaction", after=mark) if ours(e)]
    assert [e["tunnel_src"] for e in edges] == [CC1_SVC], "carried by an edge, from cc1"
    _healthy_again(gwlb_lab, "cc1", "cc2")


@allure.feature("forwarding")
def test_F5_primary_edge_lost_new_flows_use_secondary_then_return(  # noqa: N802
        gwlb_lab: LabHandle) -> None:
    """The spec allows about 30 s for the move to the secondary (§5.4): that is the bound."""
    with tunnel_port_cut(gwlb_lab, "zia1"):
        took = wait_for(lambda: "198.19.1.2" in _zia_get(gwlb_lab, "/f5-failover"), 30,
                        "a new flow through the secondary edge")
        attach_json({"seconds_to_secondary": round(took, 2)}, "F5 failover")
    mark = gwlb_lab.mark()
    wait_for(lambda: "198.19.1.1" in _zia_get(gwlb_lab, "/f5-return"), 15,
             "new flows back on the primary edge")
    event = gwlb_lab.wait_event("zia1", "zia.transaction", lambda e: e["dst"] == WEB2,
                                after=mark, timeout=5)
    assert event["src"] == "10.10.1.11"
    _healthy_again(gwlb_lab, "cc1", "cc2")


def _transport(lab: LabHandle, node: str, address: str) -> str:
    """The transport `node` last said it uses to `address` (it says so at start too)."""
    said = [e["transport"] for e in lab.events(node, "zia.transport")
            if e["address"] == address]
    return str(said[-1]) if said else ""


def _zia_stream(lab: LabHandle, dport: int, count: int) -> None:
    """`count` datagrams of one UDP flow to web2:`dport` (the default rule: ZIA), in
    GENEVE from the GWLB's address to cc1; the same flow at each call."""
    geneve_probe(lab, CC1_SVC, "--inner", "udp", "--inner-src", "10.10.1.80", "--inner-dst",
                 WEB2, "--dport", str(dport), "--source-port", str(dport + 36000),
                 "--count", str(count), "--after-first", "0.3", "--wait", "0.3")


def _kernel_carries_a_zia_flow(lab: LabHandle, send: Callable[[int], None]) -> None:
    """With cc1 on UDP to zia1 (TLS flows are user space's), five packets of the flow: the
    first user space's, the four after it the kernel's."""
    wait_for(lambda: _transport(lab, "cc1", "198.19.1.1") == "udp", 10, "cc1 on UDP to zia1")
    before = metrics(lab, "cc1")
    send(5)
    carried = metrics(lab, "cc1").get("zia_tx_fast_path_total", 0.0) - before.get(
        "zia_tx_fast_path_total", 0.0)
    assert carried == 4, "the flow is the kernel's before the change"


def _data_frames(pcap: Path, source: str, dport: int) -> int:
    """Tunnel DATA frames from `source` whose inner packet goes to UDP `dport`."""
    count = 0
    for p in rdpcap(str(pcap)):
        if UDP in p and p[UDP].dport == 6789 and p[IP].src == source:
            frame = bytes(p[UDP].payload)
            inner = IP(frame[12:]) if frame[:4] == b"ZT\x01\x01" else None
            count += inner is not None and UDP in inner and inner[UDP].dport == dport
    return count


@allure.feature("forwarding")
@allure.story("F5: a flow the kernel frames into a tunnel moves when its edge dies")
def test_F5_a_zia_flow_the_kernel_carries_moves_to_the_secondary(  # noqa: N802
        gwlb_lab: LabHandle, pcap_dir: Path) -> None:
    """cc1's fast path frames a UDP ZIA flow to zia1 in the kernel; zia1 is cut. Once cc1
    calls zia1 dead, the flow's next packets go to zia2, as user space moves a running
    flow (the connector takes its ZIA flows out of the kernel when an edge dies), and
    none to zia1."""
    def send(count: int) -> None:
        _zia_stream(gwlb_lab, 5003, count)

    _kernel_carries_a_zia_flow(gwlb_lab, send)
    mark = gwlb_lab.mark()
    with tunnel_port_cut(gwlb_lab, "zia1"):
        gwlb_lab.wait_event("cc1", "zia.gateway_down", lambda e: e["address"] == "198.19.1.1",
                            after=mark, timeout=10)
        with gwlb_lab.capture("zia1", "eth0", pcap_dir / "zia1.pcap") as cut, \
                gwlb_lab.capture("zia2", "eth0", pcap_dir / "zia2.pcap") as secondary:
            send(10)
    for name in ("zia1", "zia2"):
        attach_pcap(pcap_dir / f"{name}.pcap", f"{name}: the flow's frames after the cut")
    assert (cut.dropped, secondary.dropped) == (0, 0)
    assert _data_frames(pcap_dir / "zia2.pcap", CC1_SVC, 5003) == 10, "all on the secondary"
    assert _data_frames(pcap_dir / "zia1.pcap", CC1_SVC, 5003) == 0, "none to the dead edge"
    _healthy_again(gwlb_lab, "cc1", "cc2")


@allure.feature("forwarding")
@allure.story("§5.4: a flow the kernel frames over UDP falls back to TLS with its tunnel")
def test_a_zia_flow_the_kernel_carries_follows_its_tunnel_to_tls(
        gwlb_lab: LabHandle, pcap_dir: Path) -> None:
    """zia1 drops the tunnel's UDP, not its TLS: cc1 keeps zia1 alive and turns to TLS
    (the fallback). The flow the kernel framed over UDP leaves the kernel with that
    change: its next packets reach web2 by TLS, and no UDP frame of it reaches zia1."""
    def send(count: int) -> None:
        _zia_stream(gwlb_lab, 5004, count)

    _kernel_carries_a_zia_flow(gwlb_lab, send)
    try:
        gwlb_lab.exec("zia1", "nft", "add table ip cutudp; add chain ip cutudp cutin { type "
                      "filter hook input priority -10 ; }; add rule ip cutudp cutin udp "
                      "dport 6789 drop")
        wait_for(lambda: _transport(gwlb_lab, "cc1", "198.19.1.1") == "tls", 10,
                 "cc1 on TLS to zia1")
        web2 = udp_counters(gwlb_lab, "web2")
        with gwlb_lab.capture("zia1", "eth0", pcap_dir / "zia1.pcap") as capture:
            send(10)
        arrived = udp_counters(gwlb_lab, "web2")["NoPorts"] - web2["NoPorts"]
    finally:
        gwlb_lab.exec("zia1", "nft", "delete table ip cutudp", check=False)
    attach_pcap(pcap_dir / "zia1.pcap", "zia1: after the fallback")
    assert capture.dropped == 0
    assert _data_frames(pcap_dir / "zia1.pcap", CC1_SVC, 5004) == 0, "no UDP frame of it"
    assert arrived == 10, "all ten reached web2, by TLS"
    wait_for(lambda: _transport(gwlb_lab, "cc1", "198.19.1.1") == "udp", 10,
             "cc1 back on UDP to zia1")


FROZEN_S = 3.0  # longer than the lab's zia_dead_after_s (2 s, connectors/gwlb-cc1.yaml)


@allure.feature("forwarding")
@allure.story("§5.4: a connector that did not run takes its own stall for no edge's death")
def test_a_connector_frozen_past_dead_after_keeps_its_answering_zia_edges(
        gwlb_lab: LabHandle) -> None:
    """cc1's connector is stopped (SIGSTOP) for 3 s, past its 2-s dead_after, while both
    ZIA edges keep answering. It sent no keepalive while it did not run, so on waking
    it has none unanswered, and it calls neither edge dead (no `zia.gateway_down`, nor
    the `zia.gateway_up` that an answer to a dead address logs). Judged by time alone,
    as it was, both edges were dead the moment it woke, and fail-close flows dropped
    until their answers were read."""
    running = gwlb_lab.service_pid("cc1", "connector")
    assert running is not None, "cc1's connector is not running"
    pid = str(running)
    # From both edges alive in cc1's own view: a test before (F5 cuts zia1) may leave an
    # edge dead there until its next keepalive answer, whose `zia.gateway_up` is not ours.
    wait_for(lambda: _edges_called_dead(gwlb_lab, "cc1") == set(), 10,
             "cc1 calling both ZIA edges alive")
    mark = gwlb_lab.mark()
    gwlb_lab.exec("cc1", "kill", "-STOP", pid)
    try:
        state = gwlb_lab.exec("cc1", "ps", "-o", "stat=", "-p", pid).stdout.strip()
        time.sleep(FROZEN_S)
    finally:
        gwlb_lab.exec("cc1", "kill", "-CONT", pid)
    assert state.startswith("T"), f"the connector was not stopped: {state!r}"
    # Awake: its health answer comes after the keepalive round that was due, and judged.
    wait_for(lambda: probe_status(gwlb_lab, "cc1") == "200", 10, "cc1 answering again")
    path_window("the keepalive answers of the round after waking").wait()
    judged = [e for e in gwlb_lab.events("cc1", after=mark)
              if e.get("kind") in ("zia.gateway_down", "zia.gateway_up")]
    attach_json(judged, "cc1's gateway events after the freeze")
    assert judged == [], "the connector took its own stall for its edges' death"
    _healthy_again(gwlb_lab, "cc1", "cc2")
    wait_targets_healthy(gwlb_lab, "gwlb")


def _edges_called_dead(lab: LabHandle, node: str) -> set[str]:
    """The ZIA edge addresses whose last gateway event on `node` is `zia.gateway_down`."""
    last: dict[str, str] = {}
    for event in lab.events(node):
        if event.get("kind") in ("zia.gateway_down", "zia.gateway_up"):
            last[event["address"]] = event["kind"]
    return {address for address, kind in last.items() if kind == "zia.gateway_down"}


@allure.feature("health")
def test_unhealthy_connector_gets_no_new_flows_and_returns(gwlb_lab: LabHandle) -> None:
    mark = gwlb_lab.mark()

    def marked(state: str, since: Mark) -> bool:
        return bool([e for e in gwlb_lab.events("gwlb", f"gwlb.target_{state}", after=since)
                     if e.get("target") == CC1_SVC])

    with tunnel_port_cut(gwlb_lab, "cc1"):
        wait_for(lambda: marked("unhealthy", mark), 15, "the GWLB marks cc1 unhealthy")
        flows = gwlb_lab.mark()
        for n in range(8):
            gwlb_lab.exec("workload1", "curl", "-s", "-m", "5",
                          f"http://198.18.10.10/spread-{n}", check=False)
        targets = {e["target"] for e in gwlb_lab.events("gwlb", "gwlb.flow", after=flows)}
        unhealthy_at = gwlb_lab.mark()
    assert targets == {"10.10.3.32"}, f"new flows went to {targets}"
    wait_for(lambda: marked("healthy", unhealthy_at), 15, "the GWLB marks cc1 healthy again")
