"""The Azure GWLB's VXLAN data plane (spec §4.2, checks V1 and V2), on real sockets.

The wire format is checked against scapy's VXLAN layer (an independent encoder);
the bridge runs over real UDP sockets on the loopback (the load balancer at
127.0.0.2, the connector at 127.0.0.1) with the policy of the shipped
`azure-gwlb-cc1.yaml`: TCP 80 to the published app is Direct (bridged), 8081 is
Dropped, anything else takes the default ZIA rule, which a bridge cannot honour.
"""

from __future__ import annotations

import asyncio
import socket
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import ARP, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw

from connector.config import load_config
from connector.core.model import NoNames, NoPools
from connector.core.rules import ForwardingPolicy
from connector.core.steering import NewFlow, Steering
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth
from connector.errors import ConfigError
from connector.io import vxlan
from connector.service.counters import Counters
from connector.service.vxlan_bridge import TunnelInterface, VxlanBridge, bridge_flow_log

pytestmark = pytest.mark.unit
CONFIGS = Path(__file__).resolve().parents[3] / "lab" / "topologies" / "connectors"
CLIENT, FRONTEND = "198.18.99.99", "198.18.80.80"
BALANCER, CONNECTOR = "127.0.0.2", "127.0.0.1"


def _inner(dport: int = 80, src: str = CLIENT, dst: str = FRONTEND, sport: int = 40000,
           flags: str = "S") -> bytes:
    return bytes(IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags))


def _vxlan(vni: int, inner: bytes, flags: int = 0x08) -> bytes:
    return bytes(VXLAN(flags=flags, vni=vni)
                 / Ether(src="12:34:56:78:9a:bc", dst="02:00:00:00:c0:de", type=0x0800)
                 / Raw(inner))


def _read(data: bytes) -> tuple[int, int, Ether]:
    """scapy's reading: the VXLAN flags and VNI, and the inner Ethernet frame."""
    header = VXLAN(data[:8])
    return int(header.flags), int(header.vni), Ether(data[8:])


# --- the codec against scapy -------------------------------------------------------

def test_parse_reads_what_scapy_writes() -> None:
    packet = vxlan.parse(_vxlan(801, _inner()))
    assert isinstance(packet, vxlan.VxlanPacket)
    assert (packet.vni, packet.ethertype, packet.payload) == (801, 0x0800, _inner())
    assert packet.ethernet == bytes(Ether(src="12:34:56:78:9a:bc", dst="02:00:00:00:c0:de",
                                          type=0x0800))


def test_build_writes_what_scapy_reads() -> None:
    ethernet = bytes(Ether(src="12:34:56:78:9a:bc", dst="02:00:00:00:c0:de", type=0x0800))
    flags, vni, frame = _read(vxlan.build(800, ethernet, _inner()))
    assert (flags, vni) == (0x08, 800)
    assert bytes(frame[IP]) == _inner()


@pytest.mark.parametrize(("data", "reason"), [
    pytest.param(b"\x08\x00\x00", "short", id="short"),
    pytest.param(_vxlan(800, _inner(), flags=0x00), "flags", id="flags"),
    pytest.param(_vxlan(800, _inner())[:8 + 10], "inner_short", id="inner_short"),
    pytest.param(bytes(VXLAN(vni=800) / Ether() / ARP()), "inner_type", id="inner_type"),
])
def test_parse_names_why_it_refuses(data: bytes, reason: str) -> None:
    refused = vxlan.parse(data)
    assert isinstance(refused, vxlan.VxlanReject)
    assert refused.reason == reason


def test_reserved_bits_are_ignored_on_receipt() -> None:  # RFC 7348 §5
    data = bytearray(_vxlan(800, _inner()))
    data[1:4], data[7] = b"\xff\xff\xff", 0xFF
    packet = vxlan.parse(bytes(data))
    assert isinstance(packet, vxlan.VxlanPacket)
    assert packet.vni == 800


# --- the tunnel interfaces in the config --------------------------------------------

def test_the_vendors_default_tunnels_and_the_gwlb_source() -> None:
    dataplane = load_config(CONFIGS / "azure-gwlb-cc1.yaml").dataplane
    assert dataplane.vxlan_tunnels == ((10800, 800), (10801, 801))  # spec §4.2
    assert dataplane.vxlan_sources == (IPv4Network("198.51.100.17/32"),)


def test_two_tunnels_on_one_port_or_vni_are_refused_naming_the_key(tmp_path: Path) -> None:
    text = (CONFIGS / "azure-gwlb-cc1.yaml").read_text().replace(
        "  vxlan_sources:", "  vxlan_external_port: 10800\n  vxlan_external_vni: 800\n"
                            "  vxlan_sources:")
    bad = tmp_path / "cc.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    assert {issue.path for issue in caught.value.issues} == {
        "runtime.vxlan_external_port", "runtime.vxlan_external_vni"}


# --- the bridge on real sockets ------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((CONNECTOR, 0))
        return int(sock.getsockname()[1])


class Balancer:
    """The load balancer's two tunnel sockets, at BALANCER, on the bridge's ports."""

    def __init__(self, internal: TunnelInterface, external: TunnelInterface,
                 source: str = BALANCER) -> None:
        self.ports = {internal.name: internal.port, external.name: external.port}
        self.socks = {}
        for name, port in self.ports.items():
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((source, port))
            sock.settimeout(0.05)
            self.socks[name] = sock

    def send(self, tunnel: str, data: bytes) -> None:
        self.socks[tunnel].sendto(data, (CONNECTOR, self.ports[tunnel]))

    def received(self) -> dict[str, list[tuple[bytes, tuple[str, int]]]]:
        got: dict[str, list[tuple[bytes, tuple[str, int]]]] = {}
        for name, sock in self.socks.items():
            got[name] = []
            while True:
                try:
                    got[name].append(sock.recvfrom(65535))
                except TimeoutError:
                    break
        return got

    def close(self) -> None:
        for sock in self.socks.values():
            sock.close()


Exchange = dict[str, list[tuple[bytes, tuple[str, int]]]]


LOGGED: list[NewFlow] = []  # the session log of the last bridge made


def _bridge_and_balancer() -> tuple[VxlanBridge, Balancer, Counters]:
    config = load_config(CONFIGS / "azure-gwlb-cc1.yaml")
    tunnels = TunnelHealth(config.policy.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    for address in tunnels.addresses():  # the ZIA tunnels are up: ZIA is not a drop
        tunnels.acked(address, time.monotonic())
    steering = Steering(ForwardingPolicy(config.policy, config.identity, trusted_sources=None),
                        NoNames(), NoPools(), tunnels,
                        on_new_flow=bridge_flow_log(LOGGED.append))
    LOGGED.clear()
    internal = TunnelInterface("internal", _free_port(), 800)
    external = TunnelInterface("external", _free_port(), 801)
    counters = Counters()
    plane = VxlanBridge(steering, IPv4Address(CONNECTOR), (internal, external),
                        (IPv4Network(f"{BALANCER}/32"),), counters=counters)
    return plane, Balancer(internal, external), counters


def _exchanges(sends: list[tuple[Balancer | None, str, bytes]]
               ) -> tuple[list[Exchange], Counters, Balancer]:
    """Start a bridge, send each datagram (from the load balancer unless another
    sender is given) and collect what the senders received after it; stop."""
    plane, balancer, counters = _bridge_and_balancer()

    async def scenario() -> list[Exchange]:
        await plane.start()
        try:
            seen = []
            for sender, tunnel, data in sends:
                (sender or balancer).send(tunnel, data)
                await asyncio.sleep(0.05)  # the bridge's reader runs on this loop
                seen.append(await asyncio.to_thread((sender or balancer).received))
            return seen
        finally:
            await plane.stop()

    try:
        return asyncio.run(scenario()), counters, balancer
    finally:
        balancer.close()


NOTHING: Exchange = {"internal": [], "external": []}


def test_V1_external_in_leaves_internal_and_back() -> None:  # noqa: N802
    reply = _inner(src=FRONTEND, dst=CLIENT, sport=80, dport=40000, flags="SA")
    (there, back), counters, balancer = _exchanges(
        [(None, "external", _vxlan(801, _inner())), (None, "internal", _vxlan(800, reply))])
    assert there["external"] == []
    assert len(there["internal"]) == 1
    data, peer = there["internal"][0]
    assert peer == (CONNECTOR, balancer.ports["internal"])  # outer addresses reversed
    flags, vni, frame = _read(data)
    assert (flags, vni) == (0x08, 800)
    assert bytes(frame[IP]) == _inner()  # the inner packet unchanged
    assert frame.src == "12:34:56:78:9a:bc"
    assert back["internal"] == []
    assert len(back["external"]) == 1
    _, vni, frame = _read(back["external"][0][0])
    assert (vni, bytes(frame[IP])) == (801, reply)
    assert (counters.get("vxlan_tx_internal"), counters.get("vxlan_tx_external")) == (1, 1)
    assert [(f.decision.rule_name, f.dropped) for f in LOGGED] == [("published-app", None)]


@pytest.mark.parametrize(("dport", "reason"), [
    (8081, "dropped_policy_drop"), (8080, "dropped_vxlan_not_bridgeable")])
def test_a_flow_the_policy_does_not_send_direct_is_not_bridged(dport: int, reason: str) -> None:
    (got,), counters, _ = _exchanges([(None, "external", _vxlan(801, _inner(dport=dport)))])
    assert counters.get("vxlan_rx_external") == 1  # it arrived and was read
    assert got == NOTHING
    assert counters.get(reason) == 1, counters.snapshot()
    assert [(f.key.dport, f.dropped) for f in LOGGED] == [(dport, reason.removeprefix("dropped_"))]


def test_V2_vxlan_from_another_source_is_dropped_and_counted() -> None:  # noqa: N802
    ports = [_free_port(), _free_port()]
    stranger = Balancer(TunnelInterface("internal", ports[0], 800),
                        TunnelInterface("external", ports[1], 801), source="127.0.0.3")
    plane, balancer, counters = _bridge_and_balancer()
    stranger.ports = balancer.ports  # it aims at the bridge's real ports

    async def scenario() -> Exchange:
        await plane.start()
        try:
            stranger.send("external", _vxlan(801, _inner()))
            await asyncio.sleep(0.05)
            return await asyncio.to_thread(stranger.received)
        finally:
            await plane.stop()

    try:
        got = asyncio.run(scenario())
    finally:
        stranger.close()
        balancer.close()
    assert counters.get("vxlan_rx_not_load_balancer") == 1  # it arrived
    assert got == NOTHING
    assert counters.get("vxlan_rx_external") == 0


@pytest.mark.parametrize(("data", "counter"), [
    pytest.param(_vxlan(801, _inner(), flags=0x00), "vxlan_rx_malformed_flags", id="flags"),
    pytest.param(_vxlan(800, _inner()), "vxlan_rx_foreign_vni", id="vni-800-on-external"),
    pytest.param(_vxlan(801, b"\x45" + b"\x00" * 5), "vxlan_rx_malformed_inner", id="inner"),
])
def test_malformed_or_foreign_vxlan_is_counted_not_bridged(data: bytes, counter: str) -> None:
    (got,), counters, _ = _exchanges([(None, "external", data)])
    assert counters.get(counter) == 1, counters.snapshot()
    assert got == NOTHING
