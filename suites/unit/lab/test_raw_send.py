"""The in-node senders of packets built elsewhere: lab.traffic.raw_send, and
lab.traffic.geneve_probe given its inner packet. Scapy is the oracle for what the
headers say; the sends go through real sockets (a datagram socket pair)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6

from lab.traffic import geneve_probe
from lab.traffic.raw_send import _paced, destination

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("packet", [
    IP(src="198.18.66.66", dst="10.10.3.31") / UDP(sport=4444, dport=53),
    IP(src="10.10.1.11", dst="203.0.113.31", flags="DF", ttl=3) / TCP(flags="S"),
    IPv6(src="2001:db8:1::11", dst="2001:db8:53::53") / UDP(dport=53),
], ids=["ipv4-udp", "ipv4-tcp", "ipv6-udp"])
def test_a_packet_goes_to_the_destination_its_own_header_names(packet: IP) -> None:
    family, dst = destination(bytes(packet))
    assert family == (socket.AF_INET6 if IPv6 in packet else socket.AF_INET)
    assert dst == packet.dst


@pytest.mark.parametrize("data", [b"", b"\x45" * 19, b"\x60" * 39, bytes(20)],
                         ids=["empty", "short-ipv4", "short-ipv6", "version-0"])
def test_bytes_that_are_no_ip_packet_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 packet"):
        destination(data)


def test_each_packet_is_sent_count_times_in_order_and_paced() -> None:
    sender, receiver = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with sender, receiver:
        started = time.monotonic()
        sent = _paced([(sender, b"one", None), (sender, b"two", None)], 3, 0.02)
        took = time.monotonic() - started
        receiver.setblocking(False)
        got = [receiver.recv(16) for _ in range(sent)]
    assert sent == 6
    assert got == [b"one"] * 3 + [b"two"] * 3
    assert took >= 5 * 0.02  # paced: a pause between each two sends


@pytest.mark.parametrize("module", ["lab.traffic.raw_send", "lab.traffic.geneve_probe"])
def test_the_in_node_senders_import_no_scapy(module: str) -> None:
    """What they are for: a node's Python starts without scapy (over a second of CPU)."""
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if 'scapy' in m))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_the_geneve_probe_reads_the_inner_source_as_scapy_does() -> None:
    inner = bytes(IP(src="198.18.53.53", dst="10.10.1.77") / UDP(sport=53, dport=40000))
    assert geneve_probe._ipv4_source(inner) == IP(inner).src == "198.18.53.53"
    assert geneve_probe._ipv4_source(inner[:19]) == ""


def test_the_geneve_probe_builds_the_inner_packet_its_options_name() -> None:
    args = geneve_probe.parser().parse_args(
        ["--to", "10.10.3.31", "--inner", "tcp", "--inner-src", "10.10.1.11", "--dport", "8081"])
    inner = IP(geneve_probe.inner_of(args))
    assert (inner.src, inner.dst, inner[TCP].dport, str(inner[TCP].flags)) == (
        "10.10.1.11", "198.18.53.53", 8081, "S")
    ready = geneve_probe.parser().parse_args(["--to", "10.10.3.31", "--inner-hex", "4500"])
    assert ready.inner_hex == b"\x45\x00"
