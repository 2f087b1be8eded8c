"""The kernel's routed fast path: a tc program on the service interface.

`connector/bpf/routed_direct.c`, compiled to `routed_direct.o` (`make setup`),
sits on the service interface's tc ingress. It carries the later UDP datagrams of
connections the nftables rules already decided Direct and SNATed (conntrack's own
entry says so: its mark and its NAT), so that they skip the netfilter hooks; for
those it keeps no flow table of its own, and only what it carried is read
(`carried`). It also frames the later datagrams of UDP flows user space sent into a
UDP ZIA tunnel: user space installs such a flow (`install`: its 5-tuple as it
arrives, the tunnel it goes to), reads what the program counted for it (`count`)
and removes it when the flow ends or its tunnel changes (`remove`). The same
program answers repeated DNS questions (connector/io/dns_fast_path.py); which parts
run is the `switches` it is attached with: CARRY (Direct and ZIA,
runtime.routed_fast_path), DNS (runtime.dns_fast_path).

I/O only, through `tcbpf`; `FastPathError` says why the path could not be had, and
the kernel's rules and user space then carry every packet as before
(`fast_path.attach`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from connector.io.fast_path import FastCount, FastTotals, ZiaTarget, attach, per_cpu_totals
from tcbpf import TcProgram

OBJECT = Path(__file__).resolve().parent.parent / "bpf" / "routed_direct.o"
PROGRAM, MAP, ZIA_MAP = "routed_direct", "carried", "zia_flows"
_KEY = struct.Struct("!4s4sHHB3x")  # network order, as the packet has it
# host order: packets, octets, last_ns; then, network order, the tunnel's source, edge
# and id; 4 unused bytes
_VALUE = struct.Struct("=QQQ4s4s4sI")
UDP = 17
CARRY, DNS = 0x1, 0x2  # routed_direct.c SWITCH_CARRY, SWITCH_DNS


@dataclass(frozen=True, slots=True)
class RoutedKey:
    """One routed UDP flow as the program sees it: its 5-tuple as it arrives."""

    src: IPv4Address
    dst: IPv4Address
    sport: int
    dport: int

    def packed(self) -> bytes:
        return _KEY.pack(self.src.packed, self.dst.packed, self.sport, self.dport, UDP)


class RoutedFastPath:
    """The program attached to one interface's ingress, and its ZIA flow map."""

    def __init__(self, interface: str, obj: Path = OBJECT, switches: int = CARRY) -> None:
        self._program = attach(obj, PROGRAM, interface)
        self.interface = interface
        self.switches = switches
        self._map_fd = self._program.map_fd(MAP)
        self._zia_fd = self._program.map_fd(ZIA_MAP)
        self._program.update(self._program.map_fd("switches"), struct.pack("=I", 0),
                             struct.pack("=I", switches))

    @property
    def program(self) -> TcProgram:
        """The attached program, whose DNS maps connector/io/dns_fast_path.py reads."""
        return self._program

    def carried(self) -> FastTotals:
        """Direct datagrams carried (SNATed by the program) since it was attached."""
        return per_cpu_totals(self._program, self._map_fd)

    def install(self, key: RoutedKey, zia: ZiaTarget) -> bool:
        """Frame this flow's datagrams into its ZIA tunnel to `zia`'s edge from its next
        one; False if the map is full."""
        return self._program.update(self._zia_fd, key.packed(),
                                    _VALUE.pack(0, 0, 0, *zia.packed(), 0))

    def remove(self, key: RoutedKey) -> None:
        self._program.delete(self._zia_fd, key.packed())

    def count(self, key: RoutedKey) -> FastCount | None:
        value = self._program.lookup(self._zia_fd, key.packed(), _VALUE.size)
        if value is None:
            return None
        packets, octets, last_ns, *_ = _VALUE.unpack(value)
        return FastCount(packets, octets, last_ns)

    def installed(self) -> Iterator[bytes]:
        """Every installed key, packed (for a check that nothing stale is left)."""
        return self._program.keys(self._zia_fd, _KEY.size)

    def close(self) -> None:
        """Detach (the clsact qdisc goes, with the program) and free the maps; once."""
        self._program.close()
