"""The flood engine's frames: field programs vary what they say, checksums stay right."""

from __future__ import annotations

import pytest
from scapy.layers.dns import DNS
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from lab.traffic.flood.engine import frames_for, interleave
from lab.traffic.flood.fields import Field, FieldProgram, expand
from lab.traffic.flood.profiles import PROFILES, Stream, Targets
from lab.traffic.flood.tx_ring import DATA_OFFSET, FRAME_SIZE

pytestmark = pytest.mark.unit


def _checksums_right(frame: bytes) -> bool:
    """scapy recomputes every checksum from scratch; the frame must not change."""
    packet = Ether(frame)
    fresh = packet.copy()
    if IP in fresh:
        del fresh[IP].chksum
    for layer in (UDP, TCP):
        if layer in fresh:
            del fresh[layer].chksum
    return bytes(Ether(bytes(fresh))) == frame


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_builds_distinct_frames_with_right_checksums(profile: str) -> None:
    frames = frames_for(profile, ring_frames=512)
    assert len(frames) == 512
    assert max(len(f) for f in frames) <= FRAME_SIZE - DATA_OFFSET
    assert all(_checksums_right(f) for f in frames[:64])
    assert len(set(frames)) > 1


def test_dns_flood_varies_port_id_and_query_name() -> None:
    frames = [Ether(f) for f in frames_for("dns-flood", ring_frames=3)]
    assert [p[UDP].sport for p in frames] == [20000, 20001, 20002]
    assert [p[DNS].id for p in frames] == [1, 8, 15]
    assert [p[DNS].qd[0].qname for p in frames] == [
        b"qaaa.flood.web.example.", b"qbbb.flood.web.example.", b"qccc.flood.web.example."]
    names = {Ether(f)[DNS].qd[0].qname for f in frames_for("dns-flood", ring_frames=4096)}
    assert len(names) == 4096  # 26 x 25 x 23 combinations: no repeat within the ring


def test_dns_flood_to_an_ipv6_resolver_goes_over_ipv6_with_right_checksums() -> None:
    """scapy is the oracle for the UDP checksum over IPv6's pseudo-header (a receiver's
    kernel drops a datagram whose checksum is wrong, and over IPv6 it may not be 0)."""
    v6 = Targets(src="2001:db8:10:1::11", resolver="2001:db8:18::53:53")
    frames = frames_for("dns-flood", v6, ring_frames=64)
    packets = [Ether(f) for f in frames]
    assert {(p[IPv6].src, p[IPv6].dst, p[UDP].dport) for p in packets} == {
        ("2001:db8:10:1::11", "2001:db8:18::53:53", 53)}
    assert IP not in packets[0]
    assert all(_checksums_right(f) for f in frames)
    assert [p[UDP].sport for p in packets[:3]] == [20000, 20001, 20002]
    assert len({p[DNS].qd[0].qname for p in packets}) == 64
    broken = bytearray(frames[0])
    broken[-1] ^= 1  # the last byte of the question: the checksum no longer holds
    assert not _checksums_right(bytes(broken))


def test_spoofed_flood_counts_sources_and_reflection_forges_the_victim() -> None:
    spoofed = [Ether(f)[IP].src for f in frames_for("spoofed-flood", ring_frames=3)]
    assert spoofed == ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    victim = Targets(victim="198.18.66.66", resolver="203.0.113.31")
    reflected = Ether(frames_for("dns-reflection", victim, ring_frames=1)[0])
    assert (reflected[IP].src, reflected[IP].dst, reflected[DNS].qd[0].qtype) == (
        "198.18.66.66", "203.0.113.31", 255)


def test_a_field_wraps_after_its_count_and_streams_mix_by_share() -> None:
    template = frames_for("ssh-attempts", ring_frames=1)[0]
    wrapping = FieldProgram((Field("sport", 34, 2, 100, 3),))
    ports = [Ether(f)[TCP].sport for f in expand(template, wrapping, 5)]
    assert ports == [100, 101, 102, 100, 101]
    a = Stream(template, FieldProgram(), share=3)
    b = Stream(frames_for("syn-flood", ring_frames=1)[0], FieldProgram(), share=1)
    mixed = interleave([a, b], 8)
    assert mixed.count(a.template) == 6
    assert mixed.count(b.template) == 2


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="one of legit-mix"):
        frames_for("gopher")


def test_in_lab_argv_aims_the_profile_at_the_right_address() -> None:
    from lab.traffic.flood.in_lab import Path as FloodPath
    from lab.traffic.flood.in_lab import flood_argv

    path = FloodPath("eth0", "10.10.1.11", "02:00:00:00:00:01", "02:00:00:00:00:02")
    argv = flood_argv("/py", "dns-flood", path, "198.18.53.53", 1000, 2.0)
    assert argv[argv.index("--resolver") + 1] == "198.18.53.53"
    assert argv[argv.index("--dst-mac") + 1] == "02:00:00:00:00:02"
    ssh = flood_argv("/py", "ssh-attempts", path, "10.10.3.31", 10, 1.0)
    assert ssh[ssh.index("--ssh") + 1] == "10.10.3.31"


def test_geneve_stream_is_the_udp_stream_as_the_connector_reads_it() -> None:
    """The connector's own GENEVE and IP parsers find, inside each frame, the udp-stream
    packet of the same index: 64 flows to the discard port, AWS's options present."""
    from connector.io import geneve
    from connector.io.ip_packet import read_packet

    aim = Targets(src="10.20.1.11", web="10.20.2.50", tunnel="10.20.1.31")
    plain = frames_for("udp-stream", aim, ring_frames=130)
    wrapped = frames_for("geneve-stream", aim, ring_frames=130)
    inner_ports = []
    for outer, bare in zip(wrapped, plain, strict=True):
        packet = Ether(outer)
        assert (packet[IP].dst, packet[UDP].dport) == ("10.20.1.31", 6081)
        parsed = geneve.parse(bytes(packet[UDP].payload))
        assert isinstance(parsed, geneve.GenevePacket)
        assert parsed.header
        assert parsed.payload[:20] == Ether(bare)[IP].build()[:20]
        info = read_packet(parsed.payload)
        assert (str(info.dst), info.dport) == ("10.20.2.50", 9)  # type: ignore[union-attr]
        inner_ports.append(info.sport)  # type: ignore[union-attr]
    assert inner_ports == [20000 + i % 64 for i in range(130)]
