"""The routed fast path's ZIA half, on real veths, conntrack, a tc program and its map.

Three scratch namespaces: `ccrw*` the workload, `ccrc*` the connector (the program
on `rca`'s ingress, forwarding on, an nftables chain that marks each new connection
as the connector's rules would: `0x200` sent to user space, or `0x1` decided
Direct), `ccre*` the far side, holding the ZIA edge's address (a socket on the
tunnel port) and the flow's destination (a socket on its port). What the program
framed shows at the edge's socket; what the kernel forwarded instead, at the
destination's; what reached the connector at all, in an nftables counter there.
Expected frames follow connector/io/zia_frame.py's format, written out here.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import IP, UDP

from connector.io.fast_path import ZiaTarget
from connector.io.routed_fast_path import RoutedFastPath, RoutedKey
from suites.fixtures.in_netns import InNetns, bound_udp, read_until_quiet, scratch_namespaces

pytestmark = [pytest.mark.netns, pytest.mark.usefixtures("lab_capable")]

WORKLOAD, CONNECTOR, FAR_GW, FAR = "10.78.0.2", "10.78.0.1", "10.78.3.2", "10.78.3.1"
EDGE, DEST = "10.78.1.1", "10.78.2.9"
SPORT, DPORT, TUNNEL_PORT, TUNNEL_ID = 1234, 5001, 6789, 77
KEY = RoutedKey(IPv4Address(WORKLOAD), IPv4Address(DEST), SPORT, DPORT)
TARGET = ZiaTarget(IPv4Address(CONNECTOR), IPv4Address(EDGE), TUNNEL_ID)
USER, DIRECT = 0x200, 0x1  # connector/io/nft_render.py USER_MARK, DIRECT_MARK
PAYLOAD = b"z" * 48


@dataclass
class Rig:
    ns: str  # the connector's
    connector: InNetns
    workload: InNetns
    path: RoutedFastPath
    sender: socket.socket  # the workload's, bound to its flow's source port
    edge: socket.socket  # the far side's, on the tunnel port
    dest: socket.socket  # the far side's, on the flow's destination port

    def send(self, count: int, ttl: int = 64) -> None:
        def go() -> None:
            self.sender.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
            for _ in range(count):
                self.sender.sendto(PAYLOAD, (DEST, DPORT))
        self.workload(go)

    def reached(self) -> int:
        """Datagrams of the flow the connector's prerouting counted: those the program left
        to the kernel (it runs before netfilter)."""
        return _counter(self.ns, "seen")

    def arrived(self) -> int:
        """Frames the connector's interface received (the veth counts before tc)."""
        out = subprocess.run(["ip", "netns", "exec", self.ns, "cat",
                              "/sys/class/net/rca/statistics/rx_packets"],
                             capture_output=True, text=True, check=True)
        return int(out.stdout)

    def ttl_one(self) -> int:
        return _counter(self.ns, "ttl_one")


def _counter(ns: str, name: str) -> int:
    out = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "counter", "ip", "rz",
                          name], capture_output=True, text=True, check=True).stdout.split()
    return int(out[out.index("packets") + 1])


def _up(mark: int) -> Iterator[Rig]:
    tag = os.getpid()
    names = {role: f"ccr{role[0]}{tag}" for role in ("workload", "connector", "edge")}
    w, c, e = names["workload"], names["connector"], names["edge"]
    with scratch_namespaces(names) as (pools, stack):
        for command in (
                f"ip -n {c} link add rca type veth peer name rwa netns {w}",
                f"ip -n {c} link add rcb type veth peer name reb netns {e}",
                f"ip -n {w} addr add {WORKLOAD}/24 dev rwa",
                f"ip -n {c} addr add {CONNECTOR}/24 dev rca",
                f"ip -n {c} addr add {FAR}/24 dev rcb",
                f"ip -n {e} addr add {FAR_GW}/24 dev reb",
                f"ip -n {e} addr add {EDGE}/32 dev lo",
                f"ip -n {e} addr add {DEST}/32 dev lo",
                *(f"ip -n {ns} link set {dev} up" for ns, dev in (
                    (w, "rwa"), (c, "rca"), (c, "rcb"), (e, "reb"), (e, "lo"))),
                f"ip -n {w} route add default via {CONNECTOR}",
                f"ip -n {c} route add 10.78.1.0/24 via {FAR_GW}",
                f"ip -n {c} route add 10.78.2.0/24 via {FAR_GW}",
                f"ip -n {e} route add 10.78.0.0/24 via {FAR}",
                f"ip netns exec {c} sysctl -qw net.ipv4.ip_forward=1"):
            subprocess.run(command.split(), check=True)
        subprocess.run(["ip", "netns", "exec", c, "nft",
                        "add table ip rz; add counter ip rz seen; add counter ip rz ttl_one; "
                        "add chain ip rz pre { type filter hook prerouting priority -150; }; "
                        f"add rule ip rz pre ip saddr {WORKLOAD} udp dport {DPORT} "
                        "counter name seen; "
                        "add rule ip rz pre ip ttl 1 counter name ttl_one; "
                        f"add rule ip rz pre ct state new ct mark set {mark:#x}"], check=True)
        path = pools["connector"](RoutedFastPath, "rca")
        stack.callback(pools["connector"], path.close)
        made = [pools["workload"](bound_udp, WORKLOAD, SPORT),
                pools["edge"](bound_udp, EDGE, TUNNEL_PORT),
                pools["edge"](bound_udp, DEST, DPORT)]
        for sock in made:
            stack.callback(sock.close)
        yield Rig(c, pools["connector"], pools["workload"], path, *made)


@pytest.fixture
def sent_up() -> Iterator[Rig]:
    """Connections marked as the rules mark what they send to user space."""
    yield from _up(USER)


@pytest.fixture
def decided_direct() -> Iterator[Rig]:
    """Connections marked as the rules mark what they decided Direct."""
    yield from _up(DIRECT)


def _install(rig: Rig) -> None:
    assert rig.connector(rig.path.install, KEY, TARGET)


def test_an_installed_flow_is_framed_to_its_edge_once_conntrack_holds_it(sent_up: Rig) -> None:
    """The first datagram makes the connection (conntrack has none before it): the kernel
    forwards it. The next four are framed: UDP from the connector's address and tunnel
    port to the edge's, "ZT" 1 DATA, the tunnel id, the flow's packet count as sequence,
    then the datagram with its TTL lowered by one and its header checksum right; none is
    forwarded; the map counts them."""
    rig = sent_up
    _install(rig)
    rig.send(1)
    assert [d for d, _ in read_until_quiet(rig.dest)] == [PAYLOAD], "the first: the kernel's way"
    arrived = rig.arrived()
    rig.send(4)
    frames = read_until_quiet(rig.edge)
    assert rig.arrived() - arrived >= 4, "they reached the connector"
    assert rig.reached() == 1, "only the first went the kernel's way"
    assert read_until_quiet(rig.dest) == [], "none forwarded"
    assert {peer for _, peer in frames} == {(CONNECTOR, TUNNEL_PORT)}
    assert [f[:12] for f, _ in frames] == [
        b"ZT\x01\x01" + struct.pack("!II", TUNNEL_ID, seq) for seq in range(4)]
    for frame, _ in frames:
        inner = IP(frame[12:])
        assert (inner.src, inner.dst, inner[UDP].sport, inner[UDP].dport) == (
            WORKLOAD, DEST, SPORT, DPORT)
        assert inner.ttl == 63, "lowered once, as the forwarding to the TUN lowers it"
        assert bytes(inner[UDP].payload) == PAYLOAD
        checked = inner.chksum
        del inner.chksum
        assert IP(bytes(inner)).chksum == checked, "the header checksum follows the TTL"
    count = rig.connector(rig.path.count, KEY)
    assert count is not None
    assert (count.packets, count.octets) == (4, 4 * (28 + len(PAYLOAD)))


def test_a_connection_the_rules_decided_direct_is_not_framed(decided_direct: Rig) -> None:
    """The same installed flow, its connection decided Direct by the rules (a decision
    that changed since user space installed it): the program leaves every datagram to the
    kernel, which forwards all five."""
    rig = decided_direct
    _install(rig)
    rig.send(5)
    assert len(read_until_quiet(rig.dest)) == 5, "all five forwarded"
    assert rig.reached() == 5
    assert read_until_quiet(rig.edge) == [], "none framed"


def test_a_datagram_at_ttl_one_is_left_to_the_kernel(sent_up: Rig) -> None:
    """A router does not forward what arrives with TTL 1 (the kernel answers time
    exceeded); the program does not frame it either."""
    rig = sent_up
    _install(rig)
    rig.send(1)
    assert len(read_until_quiet(rig.dest)) == 1
    rig.send(3, ttl=1)
    assert rig.ttl_one() == 3, "they reached the connector"
    assert read_until_quiet(rig.edge) == [], "none framed"
    assert read_until_quiet(rig.dest) == [], "none forwarded"


def test_a_removed_flow_goes_the_kernels_way_again(sent_up: Rig) -> None:
    rig = sent_up
    _install(rig)
    rig.send(2)
    assert len(read_until_quiet(rig.edge)) == 1
    assert len(read_until_quiet(rig.dest)) == 1
    rig.connector(rig.path.remove, KEY)
    rig.send(3)
    assert read_until_quiet(rig.edge) == []
    assert len(read_until_quiet(rig.dest)) == 3, "forwarded by the kernel"
    assert list(rig.connector(lambda: list(rig.path.installed()))) == []
