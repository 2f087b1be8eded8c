"""The GENEVE fast path's kernel half, on a real veth, TUN, tc program and map.

Two scratch namespaces: `ccfp*` plays the connector (the program on `fpa`'s
ingress, a TUN, a UDP socket on 6081 standing for the data plane's), `ccfq*` the
load balancer sending GENEVE. What the kernel carried is read where it shows:
an nftables counter on packets entering through the TUN (what user space's
write would have entered as), the socket for what was left to user space, and
the program's own map. Each check first shows the packet arrived somewhere.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP

from connector.core.flows import FlowTable, FlowTimeouts
from connector.core.model import Decision, FlowKey, Method
from connector.core.workloads import WorkloadCounter
from connector.io import geneve
from connector.io.fast_path import FastKey, FastPath, ZiaTarget
from connector.io.geneve import GwlbOptions
from connector.io.geneve_tuns import GENEVE_MARK, RETURN_TABLE, LocationTun
from connector.io.tun import TunDevice
from connector.service.counters import Counters
from connector.service.fast_flows import FastFlows
from suites.fixtures.in_netns import InNetns, read_until_quiet

RIG_TUN = LocationTun("", "fptun0", 0, GENEVE_MARK, RETURN_TABLE)  # the rig's one TUN

pytestmark = [pytest.mark.netns, pytest.mark.usefixtures("lab_capable")]

CONNECTOR, BALANCER = "10.77.0.1", "10.77.0.2"
SPORT = 41000
HEADER = geneve.build_header(7, geneve.PROTO_IPV4, GwlbOptions(0x11, 0x22, 0x33))
INNER_SRC, INNER_DST = "10.66.0.5", "10.55.0.9"
KEY = FastKey(IPv4Address(BALANCER), IPv4Address(CONNECTOR), SPORT, HEADER,
              IPv4Address(INNER_SRC), IPv4Address(INNER_DST), 1234, 5001)


def _udp(payload: bytes = b"p" * 32, **ip: Any) -> bytes:
    return bytes(IP(src=INNER_SRC, dst=INNER_DST, **ip) / UDP(sport=1234, dport=5001)
                 / payload)


@dataclass
class Rig:
    ns: str
    inside: InNetns  # the connector's namespace
    peer: InNetns  # the load balancer's
    path: FastPath
    tun: TunDevice
    sock: socket.socket  # the data plane's GENEVE socket
    sender: socket.socket

    def send(self, *packets: bytes, sport: int = SPORT) -> None:
        sender = self.sender if sport == SPORT else self.peer(_bound, sport)
        for packet in packets:
            sender.sendto(packet, (CONNECTOR, geneve.GENEVE_PORT))

    def entered_by_tun(self) -> tuple[int, int]:
        """(packets, bytes) the nftables counter saw enter through the TUN."""
        out = subprocess.run(["ip", "netns", "exec", self.ns, "nft", "list", "counter", "ip",
                              "fp", "by_tun"], capture_output=True, text=True, check=True)
        words = out.stdout.split()
        return int(words[words.index("packets") + 1]), int(words[words.index("bytes") + 1])

    def at_socket(self, wait: float = 0.5) -> list[bytes]:
        """Every datagram the kernel left to user space's socket (read until quiet)."""
        got = []
        self.sock.settimeout(wait)
        while True:
            try:
                got.append(self.sock.recv(65535))
            except TimeoutError:
                return got


def _bound(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((BALANCER, port))
    return sock


def _connector_side(ns: str) -> tuple[FastPath, TunDevice, socket.socket]:
    tun = TunDevice("fptun0")
    for command in (["ip", "link", "set", "fptun0", "up"],
                    ["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0",
                     "net.ipv4.conf.fptun0.rp_filter=0"]):
        subprocess.run(["ip", "netns", "exec", ns, *command], check=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((CONNECTOR, geneve.GENEVE_PORT))
    return FastPath("fpa"), tun, sock


@pytest.fixture
def rig() -> Iterator[Rig]:
    ns, peer = f"ccfp{os.getpid()}", f"ccfq{os.getpid()}"
    for name in (ns, peer):
        subprocess.run(["ip", "netns", "add", name], check=True)
    inside, outside = InNetns(ns), InNetns(peer)
    made: list[Any] = []
    rig = None
    try:
        for command in (["ip", "-n", ns, "link", "add", "fpa", "type", "veth", "peer", "name",
                         "fpb", "netns", peer],
                        ["ip", "-n", ns, "addr", "add", f"{CONNECTOR}/24", "dev", "fpa"],
                        ["ip", "-n", peer, "addr", "add", f"{BALANCER}/24", "dev", "fpb"],
                        ["ip", "-n", ns, "link", "set", "fpa", "up"],
                        ["ip", "-n", peer, "link", "set", "fpb", "up"],
                        ["ip", "netns", "exec", ns, "nft",
                         "add table ip fp; add counter ip fp by_tun; add chain ip fp pre "
                         "{ type filter hook prerouting priority 0; }; "
                         'add rule ip fp pre iifname "fptun0" counter name by_tun']):
            subprocess.run(command, check=True)
        path, tun, sock = inside(_connector_side, ns)
        made = [tun, sock]
        rig = Rig(ns, inside, outside, path, tun, sock, outside(_bound, SPORT))
        yield rig
    finally:
        if rig is not None:
            inside(rig.path.close)  # the test's last one
        for thing in made:
            thing.close()
        for pool in (inside, outside):
            pool.close()
        for name in (ns, peer):
            subprocess.run(["ip", "netns", "del", name], check=False)


def _install(rig: Rig, key: FastKey = KEY) -> None:
    assert rig.inside(rig.path.install, key, rig.inside(socket.if_nametoindex, "fptun0"))


def test_an_installed_flow_enters_through_its_tun_decapsulated_and_counted(rig: Rig) -> None:
    _install(rig)
    inner = _udp()
    before = time.monotonic_ns()
    rig.send(*[HEADER + inner] * 5)
    time.sleep(0.3)
    assert rig.entered_by_tun() == (5, 5 * len(inner)), "inner packets, as user space writes"
    assert rig.at_socket() == [], "none left to user space"
    count = rig.path.count(KEY)
    assert count is not None
    assert (count.packets, count.octets) == (5, 5 * len(inner))
    assert before <= count.last_ns <= time.monotonic_ns(), "CLOCK_MONOTONIC, as the table's"


def _other_cookie() -> bytes:
    return geneve.build_header(7, geneve.PROTO_IPV4, GwlbOptions(0x11, 0x22, 0x34))


NOT_CARRIED: dict[str, Callable[[], tuple[bytes, int]]] = {
    "another flow cookie (header)": lambda: (_other_cookie() + _udp(), SPORT),
    "another outer source port": lambda: (HEADER + _udp(), SPORT + 1),
    "another inner destination port": lambda: (
        HEADER + bytes(IP(src=INNER_SRC, dst=INNER_DST) / UDP(sport=1234, dport=5002)), SPORT),
    "another inner source": lambda: (
        HEADER + bytes(IP(src="10.66.0.6", dst=INNER_DST) / UDP(sport=1234, dport=5001)),
        SPORT),
    "an inner fragment": lambda: (HEADER + _udp(flags="MF"), SPORT),
    "inner IP options": lambda: (HEADER + _udp(options=b"\x01\x01\x01\x01"), SPORT),
    "inner TCP on the same ports": lambda: (
        HEADER + bytes(IP(src=INNER_SRC, dst=INNER_DST) / TCP(sport=1234, dport=5001,
                                                              flags="A")), SPORT),
    "an inner length past the datagram": lambda: (HEADER + _udp()[:-4], SPORT),
}


@pytest.mark.parametrize("case", NOT_CARRIED)
def test_a_packet_differing_from_the_installed_flow_goes_to_the_socket_whole(
        rig: Rig, case: str) -> None:
    _install(rig)
    packet, sport = NOT_CARRIED[case]()
    rig.send(packet, sport=sport)
    assert rig.at_socket() == [packet], "left to user space, byte for byte"
    assert rig.entered_by_tun() == (0, 0)
    count = rig.path.count(KEY)
    assert count is not None
    assert count.packets == 0


TCP_KEY = replace(KEY, proto=6)


def _tcp(flags: str, payload: bytes = b"") -> bytes:
    return bytes(IP(src=INNER_SRC, dst=INNER_DST)
                 / TCP(sport=1234, dport=5001, flags=flags, seq=101, ack=901) / payload)


def test_an_installed_tcp_flow_is_carried_except_its_syn_fin_and_rst(rig: Rig) -> None:
    _install(rig, TCP_KEY)
    carried = [_tcp("A"), _tcp("PA", b"GET / HTTP/1.1\r\n\r\n"), _tcp("A")]
    left = [_tcp("S"), _tcp("SA"), _tcp("FA"), _tcp("R"), _tcp("RA")]
    rig.send(*[HEADER + p for p in carried + left])
    assert sorted(rig.at_socket()) == sorted(HEADER + p for p in left), \
        "SYN, FIN and RST are user space's: it tracks a connection's start and end"
    assert rig.entered_by_tun() == (3, sum(map(len, carried)))
    count = rig.path.count(TCP_KEY)
    assert count is not None
    assert count.packets == 3


def test_a_completed_tcp_flows_kernel_packets_keep_its_workload_counted(rig: Rig) -> None:
    """Licences count a workload by its completed TCP flows' packets: those the kernel
    carried count as of their own time, when folded."""
    table, workloads = FlowTable(), WorkloadCounter([IPv4Network("10.66.0.0/16")])
    tcp = replace(FLOW, proto=6)
    back = FlowKey(6, tcp.dst, tcp.src, tcp.dport, tcp.sport)  # type: ignore[arg-type]
    table.insert(tcp, DIRECT, 1.0)
    table.observe(tcp, 1.0, 40, 0x02, 100, 0)
    table.observe(back, 1.0, 40, 0x12, 900, 101)
    found = table.observe(tcp, 1.0, 40, 0x10, 101, 901)  # the ACK that completes it
    assert found is not None
    workloads.observe(found[0], 1.0)
    fast = FastFlows(rig.path, table, Counters(), workloads)
    rig.inside(fast.install, tcp, TCP_KEY, RIG_TUN)
    sent_at = time.monotonic()
    rig.send(HEADER + _tcp("PA", b"data"))
    time.sleep(0.2)
    assert rig.entered_by_tun()[0] == 1
    assert workloads.count(since=sent_at) == 0, "not before the fold"
    fast.fold()
    assert workloads.count(since=sent_at) == 1


def test_a_removed_flow_goes_back_to_the_socket(rig: Rig) -> None:
    _install(rig)
    rig.send(HEADER + _udp())
    time.sleep(0.2)
    assert rig.entered_by_tun()[0] == 1
    rig.inside(rig.path.remove, KEY)
    rig.send(HEADER + _udp())
    assert rig.at_socket() == [HEADER + _udp()]
    assert rig.entered_by_tun()[0] == 1
    assert list(rig.path.installed()) == []


def test_closing_takes_the_program_and_its_qdisc_away(rig: Rig) -> None:
    def qdiscs() -> str:
        return subprocess.run(["tc", "-n", rig.ns, "qdisc", "show", "dev", "fpa"],
                              capture_output=True, text=True, check=True).stdout
    assert "clsact" in qdiscs()
    _install(rig)
    rig.inside(rig.path.close)
    rig.path = rig.inside(FastPath, "fpa")  # the fixture closes this one
    rig.inside(rig.path.close)
    assert "clsact" not in qdiscs()
    rig.path = rig.inside(FastPath, "fpa")
    rig.send(HEADER + _udp())
    assert rig.at_socket() == [HEADER + _udp()], "a new program starts with no flows"


DIRECT = Decision(Method.DIRECT, "udp-direct", 3, "first match")
FLOW = FlowKey(17, IPv4Address(INNER_SRC), IPv4Address(INNER_DST), 1234, 5001)  # type: ignore[arg-type]


def test_what_the_kernel_carried_is_folded_into_the_flow_and_counters(rig: Rig) -> None:
    table, counters = FlowTable(FlowTimeouts(udp=120.0)), Counters()
    fast = FastFlows(rig.path, table, counters)
    table.insert(FLOW, DIRECT, time.monotonic())
    table.observe(FLOW, time.monotonic(), len(_udp()))  # the first packet: user space's
    rig.inside(fast.install, FLOW, KEY, RIG_TUN)
    rig.send(*[HEADER + _udp()] * 3)
    time.sleep(0.3)
    fast.fold()
    fast.fold()  # a second read adds nothing: only what is new since the last
    entry = table.lookup(FLOW, 0.0)
    assert entry is not None
    assert (entry.packets, entry.octets) == ([4, 0], [4 * len(_udp()), 0])
    assert (counters.get("geneve_rx_packets"), counters.get("geneve_rx_fast_path")) == (3, 3)


def test_a_flow_the_table_expired_leaves_the_kernel(rig: Rig) -> None:
    table = FlowTable(FlowTimeouts(udp=120.0))
    fast = FastFlows(rig.path, table, Counters())
    start = time.monotonic()
    table.insert(FLOW, DIRECT, start)
    rig.inside(fast.install, FLOW, KEY, RIG_TUN)
    rig.send(HEADER + _udp())
    time.sleep(0.2)
    assert rig.entered_by_tun()[0] == 1
    fast.fold()
    assert len(table.expire(time.monotonic() + 121)) == 1
    fast.fold()
    assert list(rig.path.installed()) == []
    assert len(fast) == 0
    rig.send(HEADER + _udp())
    assert rig.at_socket() == [HEADER + _udp()], "its next packet is user space's again"


def test_a_rehomed_flow_is_carried_under_its_new_header_only(rig: Rig) -> None:
    table, counters = FlowTable(), Counters()
    fast = FastFlows(rig.path, table, counters)
    table.insert(FLOW, DIRECT, time.monotonic())
    rig.inside(fast.install, FLOW, KEY, RIG_TUN)
    rig.send(HEADER + _udp())
    time.sleep(0.2)
    moved = replace(KEY, header=_other_cookie())
    rig.inside(fast.install, FLOW, moved, RIG_TUN)
    rig.send(HEADER + _udp(), _other_cookie() + _udp())
    assert rig.at_socket() == [HEADER + _udp()], "the old header is user space's again"
    assert rig.entered_by_tun()[0] == 2
    fast.fold()
    assert counters.get("geneve_rx_fast_path") == 2, "the old key's packet counted, once"
    assert list(rig.path.installed()) == [moved.packed()]


# A ZIA flow: the rig's load balancer also plays the edge, on the tunnel port.
ZIA_PORT = 6789
EDGE = ZiaTarget(IPv4Address(CONNECTOR), IPv4Address(BALANCER), 0xC0FFEE)
ZIA = Decision(Method.ZIA, "default", None, "default rule", "default")
# The frame header as the spec of the lab's tunnel writes it (connector/io/zia_frame.py's
# docstring): "ZT", version 1, type DATA (1), the tunnel id; then the sequence.
FRAME_HEAD = b"ZT\x01\x01" + (0xC0FFEE).to_bytes(4, "big")


def _edge(rig: Rig) -> socket.socket:
    edge = rig.peer(_bound, ZIA_PORT)
    edge.settimeout(1.0)
    return edge


def test_an_installed_zia_flow_is_framed_to_its_edge_and_counted(rig: Rig) -> None:
    edge = _edge(rig)
    try:
        assert rig.inside(rig.path.install, KEY, rig.inside(socket.if_nametoindex, "fptun0"),
                          0, EDGE)
        inner = [_udp(bytes([i]) * 32) for i in range(5)]
        rig.send(*[HEADER + packet for packet in inner])
        got = read_until_quiet(edge)
    finally:
        edge.close()
    assert len(got) == 5, f"{len(got)} frames at the edge"
    assert {peer for _, peer in got} == {(CONNECTOR, ZIA_PORT)}, "from the tunnel's source"
    assert [frame[:8] for frame, _ in got] == [FRAME_HEAD] * 5
    assert sorted(int.from_bytes(frame[8:12], "big") for frame, _ in got) == list(range(5))
    assert sorted(frame[12:] for frame, _ in got) == sorted(inner), "each packet unchanged"
    assert rig.entered_by_tun() == (0, 0), "never through the TUN"
    assert rig.at_socket() == [], "none left to user space"
    count = rig.path.count(KEY)
    assert count is not None
    assert (count.packets, count.octets) == (5, sum(len(p) for p in inner))


def test_zia_flows_leave_the_kernel_when_told_and_direct_ones_stay(rig: Rig) -> None:
    """forget_zia (an edge died, a transport changed): what the ZIA flow carried is folded,
    counted as tunnel frames, and its next packet is user space's; a Direct flow stays."""
    table, counters = FlowTable(FlowTimeouts(udp=120.0)), Counters()
    fast = FastFlows(rig.path, table, counters)
    other = FlowKey(17, IPv4Address(INNER_SRC), IPv4Address(INNER_DST), 1235, 5001)  # type: ignore[arg-type]
    other_key = replace(KEY, inner_sport=1235)
    table.insert(FLOW, ZIA, time.monotonic())
    table.insert(other, DIRECT, time.monotonic())
    edge = _edge(rig)
    try:
        rig.inside(fast.install, FLOW, KEY, RIG_TUN, EDGE)
        rig.inside(fast.install, other, other_key, RIG_TUN)
        direct = bytes(IP(src=INNER_SRC, dst=INNER_DST) / UDP(sport=1235, dport=5001) / b"d")
        rig.send(HEADER + _udp(), HEADER + _udp(), HEADER + direct)
        assert len(read_until_quiet(edge)) == 2
        assert rig.entered_by_tun()[0] == 1
        assert fast.forget_zia() == 1
        rig.send(HEADER + _udp(), HEADER + direct)
        assert rig.at_socket() == [HEADER + _udp()], "the ZIA flow is user space's again"
        assert read_until_quiet(edge) == []
    finally:
        edge.close()
    assert rig.entered_by_tun()[0] == 2, "the Direct flow is still the kernel's"
    assert list(rig.path.installed()) == [other_key.packed()]
    assert (counters.get("zia_tx_packets"), counters.get("zia_tx_fast_path")) == (2, 2)
    entry = table.lookup(FLOW, 0.0)
    assert entry is not None
    assert entry.packets[0] == 2, "folded into the flow before it left"


def test_a_zia_flow_moved_to_another_edge_is_framed_to_that_one(rig: Rig) -> None:
    table = FlowTable()
    fast = FastFlows(rig.path, table, Counters())
    table.insert(FLOW, ZIA, time.monotonic())
    elsewhere = replace(EDGE, edge=IPv4Address("10.77.0.3"))
    rig.inside(fast.install, FLOW, KEY, RIG_TUN, elsewhere)
    rig.inside(fast.install, FLOW, KEY, RIG_TUN, EDGE)  # same key, moved: the entry follows
    edge = _edge(rig)
    try:
        rig.send(HEADER + _udp())
        assert [frame[12:] for frame, _ in read_until_quiet(edge)] == [_udp()]
    finally:
        edge.close()
