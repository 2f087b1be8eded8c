"""The lab GWLB's fast path (`fast-path: "on"`, lab/nodes/gwlb_fast.py): a flow's first
packet through user space, the rest encapsulated by a tc program, with the same headers.

What user space carried is counted by the kernel on the GWLB's TUN (each packet it
read went in there); what the connectors got is captured on the GWLB's service
interface, on its way out, and what arrived at the far end on web's.

A flow's packets reach user space until it has written the flow, and again once after
each change of the group's view (every target state change empties the maps), which
a lab lent by another module may still be going through: the UDP flow's first packet
is sent alone and the rest once the GWLB has logged its pick (in a CI run the 10-ms
pace let three more in before the flow was written), and user space may read one more
packet for each view change the GWLB logged meanwhile.
"""

from __future__ import annotations

import json
from pathlib import Path

import allure
from scapy.layers.inet import IP, TCP, UDP
from scapy.utils import rdpcap

from lab.api import LabHandle
from lab.events import Mark
from suites.fixtures.allure_hooks import attach_pcap

# Tier: from the gwlb_lab fixture (netns and docker).
GWLB, WEB = "10.10.3.5", "198.18.10.10"
GENEVE_PORT = 6081


def _read_by_user_space(lab: LabHandle) -> int:
    """Packets the kernel handed the GWLB's user space (its TUN's transmit counter)."""
    return int(lab.exec("gwlb", "cat", "/sys/class/net/gwlbtun0/statistics/tx_packets")
               .stdout)


VIEW_CHANGES = ("gwlb.target_healthy", "gwlb.target_unhealthy", "gwlb.target_registered",
                "gwlb.target_deregistered", "gwlb.target_drained")


def _send_udp(lab: LabHandle, sport: int, dport: int, numbers: range) -> None:
    lab.exec("workload1", "python3", "-c",
             "import socket, time\n"
             "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
             f"s.bind(('', {sport}))\n"
             f"for i in range({numbers.start}, {numbers.stop}):\n"
             f"    s.sendto(b'fast %03d' % i, ('{WEB}', {dport})); time.sleep(0.01)\n")


def _view_changes(lab: LabHandle, mark: Mark) -> int:
    return sum(len(lab.events("gwlb", kind, after=mark)) for kind in VIEW_CHANGES)


@allure.feature("lab")
@allure.story("The lab GWLB carries a known flow in the kernel, with the headers user space sends")
def test_a_udp_flow_after_its_first_packet_is_encapsulated_by_the_kernel(
        gwlb_lab: LabHandle, pcap_dir: Path) -> None:
    before = _read_by_user_space(gwlb_lab)
    mark = gwlb_lab.mark()
    out, far = pcap_dir / "gwlb-eth-svc.pcap", pcap_dir / "web-eth0.pcap"
    with gwlb_lab.capture("gwlb", "eth-svc", out) as sent, \
            gwlb_lab.capture("web", "eth0", far) as arrived_capture:
        _send_udp(gwlb_lab, 41002, 5002, range(1))
        gwlb_lab.wait_event("gwlb", "gwlb.flow", lambda e: e.get("dport") == 5002, after=mark)
        _send_udp(gwlb_lab, 41002, 5002, range(1, 40))
    attach_pcap(out, "GWLB service interface: the GENEVE it sent")
    attach_pcap(far, "web: what arrived")
    assert sent.dropped == 0, "the GWLB's capture lost packets"
    assert arrived_capture.dropped == 0, "web's capture lost packets"
    geneve = [p for p in rdpcap(str(out)) if _inner_udp_port(p) == 5002]
    assert len(geneve) == 40, "every packet of the flow left the GWLB in GENEVE"
    read = _read_by_user_space(gwlb_lab) - before
    assert 1 <= read <= 1 + _view_changes(gwlb_lab, mark), "user space read the first only"
    # the same outer path, exact GENEVE header and inner TTL as user space's first packet
    first = geneve[0]
    assert {(p[IP].src, p[IP].dst, p[UDP].sport, p[UDP].dport) for p in geneve} == {
        (GWLB, first[IP].dst, GENEVE_PORT, GENEVE_PORT)}
    assert {_geneve_header(p) for p in geneve} == {_geneve_header(first)}
    assert {_inner(p)[8] for p in geneve} == {_inner(first)[8]}, "inner TTL as forwarded"
    arrived = [p for p in rdpcap(str(far)) if UDP in p and p[UDP].dport == 5002]
    assert sorted(bytes(p[UDP].payload) for p in arrived) == [
        b"fast %03d" % i for i in range(40)], "web got every packet whole"
    flows = [e for e in gwlb_lab.events("gwlb", "gwlb.flow", after=mark)
             if e.get("dport") == 5002]
    assert len(flows) == 1, "one gwlb.flow: the first packet's pick"
    assert flows[0]["target"] == first[IP].dst


@allure.feature("lab")
@allure.story("The lab GWLB carries a known flow in the kernel, with the headers user space sends")
def test_an_http_exchange_through_the_gwlb_fast_path_completes(
        gwlb_lab: LabHandle, pcap_dir: Path) -> None:
    """The workload's TCP leaves its checksums to the veth ("hardware"): the kernel
    completes them on the GWLB's way out, or web would drop every segment after the
    SYN, which user space carries."""
    before, mark = _read_by_user_space(gwlb_lab), gwlb_lab.mark()
    out = pcap_dir / "gwlb-eth-svc-tcp.pcap"
    with gwlb_lab.capture("gwlb", "eth-svc", out) as sent:
        page = gwlb_lab.exec("workload1", "curl", "-s", "-m", "5", "--local-port", "41003",
                             f"http://{WEB}/fast-path").stdout
    assert json.loads(page)["path"] == "/fast-path", "web answered the request"
    segments = [p for p in rdpcap(str(out)) if _inner_tcp_sport(p) == 41003]
    assert sent.dropped == 0
    assert len(segments) >= 4, "the handshake's ACK, the request, its ACKs and the close"
    read = _read_by_user_space(gwlb_lab) - before
    assert 1 <= read <= 1 + _view_changes(gwlb_lab, mark), "user space read the SYN only"


def _geneve_payload(packet: object) -> bytes:
    return bytes(packet[UDP].payload)  # type: ignore[index]


def _geneve_header(packet: object) -> bytes:
    data = _geneve_payload(packet)
    return data[:8 + (data[0] & 0x3F) * 4]


def _inner(packet: object) -> bytes:
    data = _geneve_payload(packet)
    return data[8 + (data[0] & 0x3F) * 4:]


def _inner_udp_port(packet: object) -> int | None:
    if UDP not in packet or packet[UDP].dport != GENEVE_PORT:  # type: ignore[operator,index]
        return None
    inner = IP(_inner(packet))
    return int(inner[UDP].dport) if UDP in inner else None


def _inner_tcp_sport(packet: object) -> int | None:
    if UDP not in packet or packet[UDP].dport != GENEVE_PORT:  # type: ignore[operator,index]
        return None
    inner = IP(_inner(packet))
    return int(inner[TCP].sport) if TCP in inner else None
