"""The kernel's GENEVE fast path: a tc program, its flow map, through libbpf.

`connector/bpf/geneve_direct.c`, compiled to `geneve_direct.o` (`make setup`),
sits on the service interface's tc ingress. User space installs a flow it has
validated and decided Direct or ZIA (`install`); the program then decapsulates
that flow's later packets in the kernel and hands them to the flow's TUN
(Direct) or frames them into its ZIA tunnel (`ZiaTarget`: the edge it goes to),
counting them in the entry, which user space reads back (`count`) and removes
when the flow ends or its tunnel changes (`remove`); `installed` lists what is
left. The key is every byte user space would compare: the outer addresses and
source port, the exact GENEVE header, the inner 5-tuple (UDP or TCP); a packet
that differs in any (a re-homed flow, another header), and a TCP segment with
SYN, FIN or RST, goes to the socket.

I/O only, through `tcbpf` (libbpf's C API, shared with the lab); `FastPathError`
says why the path could not be had (no object, no libbpf, no permission), and the
data plane then carries everything in user space as before.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from ipaddress import IPv4Address
from pathlib import Path

from connector.errors import ConnectorError
from tcbpf import TcBpfError, TcProgram

OBJECT = Path(__file__).resolve().parent.parent / "bpf" / "geneve_direct.o"
PROGRAM, MAP = "geneve_direct", "flows"
MAX_HEADER = 64
_KEY = struct.Struct(f"!4s4sHBB4s4sHH{MAX_HEADER}s")  # network order, as the packet has it
# host order: ifindex, zone, packets, octets, last_ns; then, network order, a ZIA flow's
# tunnel source, edge and tunnel id (zeros: not ZIA), and 4 unused bytes
_VALUE = struct.Struct("=IIQQQ4s4s4sI")
_DIRECT = struct.Struct("=QQ")  # `direct`, per CPU: packets, octets carried past the TUN
POSSIBLE_CPUS = Path("/sys/devices/system/cpu/possible")


class FastPathError(ConnectorError):
    """The fast path cannot be had on this host; the reason is the message."""


def possible_cpus(text: str) -> int:
    """How many CPUs a per-CPU map holds a value for: the kernel's `possible` list
    ("0-3", "0,2-5"), counted up to its highest CPU, as libbpf does."""
    highest = max(int(part.split("-")[-1]) for part in text.strip().split(","))
    return highest + 1


@cache
def _cpus() -> int:
    """This host's count, read once: it does not change while the connector runs."""
    return possible_cpus(POSSIBLE_CPUS.read_text())


@dataclass(frozen=True, slots=True)
class FastTotals:
    """What a program carried since it was attached (a per-CPU counter, summed)."""

    packets: int
    octets: int


def per_cpu_totals(program: TcProgram, fd: int) -> FastTotals:
    """The sums over the CPUs of entry 0 of a per-CPU array of (packets, octets)."""
    cpus = _cpus()
    value = program.lookup(fd, struct.pack("=I", 0), _DIRECT.size * cpus)
    if value is None:
        return FastTotals(0, 0)
    counts = [_DIRECT.unpack_from(value, i * _DIRECT.size) for i in range(cpus)]
    return FastTotals(sum(c[0] for c in counts), sum(c[1] for c in counts))


def attach(obj: Path, program: str, interface: str) -> TcProgram:
    """`program` of `obj` on `interface`'s tc ingress, or FastPathError saying why not."""
    try:
        return TcProgram(obj, program, interface)
    except TcBpfError as exc:
        raise FastPathError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class FastKey:
    """One flow as the program sees it: outer path, exact GENEVE header, inner 5-tuple."""

    outer_src: IPv4Address
    outer_dst: IPv4Address
    outer_sport: int
    header: bytes
    inner_src: IPv4Address
    inner_dst: IPv4Address
    inner_sport: int
    inner_dport: int
    proto: int = 17  # the inner protocol: UDP (17) or TCP (6)

    def packed(self) -> bytes:
        return _KEY.pack(self.outer_src.packed, self.outer_dst.packed, self.outer_sport,
                         len(self.header), self.proto, self.inner_src.packed,
                         self.inner_dst.packed, self.inner_sport, self.inner_dport,
                         self.header)


@dataclass(frozen=True, slots=True)
class ZiaTarget:
    """Where the program frames a ZIA flow's packets: UDP from `source` to `edge` (both on
    the tunnel port), in frames of tunnel `tunnel_id` (connector/io/zia_frame.py)."""

    source: IPv4Address
    edge: IPv4Address
    tunnel_id: int

    def packed(self) -> tuple[bytes, bytes, bytes]:
        return self.source.packed, self.edge.packed, self.tunnel_id.to_bytes(4, "big")


NOT_ZIA = (bytes(4), bytes(4), bytes(4))


@dataclass(frozen=True, slots=True)
class FastCount:
    """What the program counted for one flow since it was installed."""

    packets: int
    octets: int
    last_ns: int


class FastPath:
    """The program attached to one interface's ingress, and its flow map."""

    def __init__(self, interface: str, obj: Path = OBJECT) -> None:
        self._program = attach(obj, PROGRAM, interface)
        self.interface = interface
        self._map_fd = self._program.map_fd(MAP)

    def install(self, key: FastKey, tun_ifindex: int, zone: int = 0,
                zia: ZiaTarget | None = None) -> bool:
        """Carry this flow in the kernel from its next packet: into its ZIA tunnel (`zia`),
        else into the TUN `tun_ifindex` (or, in conntrack zone 0, on past it once the
        rules decided its connection Direct); False if the map is full."""
        target = NOT_ZIA if zia is None else zia.packed()
        return self._program.update(self._map_fd, key.packed(),
                                    _VALUE.pack(tun_ifindex, zone, 0, 0, 0, *target, 0))

    def remove(self, key: FastKey) -> None:
        self._program.delete(self._map_fd, key.packed())

    def count(self, key: FastKey) -> FastCount | None:
        value = self._program.lookup(self._map_fd, key.packed(), _VALUE.size)
        if value is None:
            return None
        _, _, packets, octets, last_ns, *_ = _VALUE.unpack(value)
        return FastCount(packets, octets, last_ns)

    def carried_direct(self) -> FastTotals:
        """Packets and octets carried past the TUN (SNATed by the program) since attached."""
        return per_cpu_totals(self._program, self._program.map_fd("direct"))

    def installed(self) -> Iterator[bytes]:
        """Every installed key, packed (for a check that nothing stale is left)."""
        return self._program.keys(self._map_fd, _KEY.size)

    def close(self) -> None:
        """Detach (the clsact qdisc goes, with the program) and free the map; once."""
        self._program.close()
