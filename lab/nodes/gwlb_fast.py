"""The lab GWLB's fast path: a flow's later packets encapsulated in the kernel.

`lab/bpf/gwlb_encap.c`, compiled to `gwlb_encap.o` (`make setup`), sits on the tc
ingress of each interface workload packets reach the GWLB through. After user
space has carried a packet of an IPv4 or IPv6 UDP or TCP flow (picked its target, written
`gwlb.flow`, sent it in GENEVE), `install` writes that packet's 5-tuple, as it
came in on that interface, with the outer addresses, the exact GENEVE header and
the interface towards the target; the program then carries the flow's next
packets itself, as user space would (TTL or hop limit lowered as by the forwarding
into the TUN, the same headers: an IPv6 packet in the same IPv4 outer), and counts
them. `forget` removes every flow: the GWLB
calls it whenever its group view changes (a target healthy, unhealthy,
registered, deregistered or drained), so the next packet of each flow is picked
again in user space under the new view, with the same rules as before.

The program hands the packet to the neighbour towards the target with any
checksum its sender left to the hardware still open; the egress interface's
transmit checksumming is turned off here, so the kernel completes it before
the frame leaves (user space's own GENEVE datagrams get theirs in software too).

I/O only; `FastPathUnavailable` says why the path could not be had (no object,
no libbpf, no permission: a container without SYS_ADMIN), and the GWLB then
carries every packet in user space as before.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import socket
import struct
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

from tcbpf import TcBpfError, TcProgram

OBJECT = Path(__file__).resolve().parent.parent / "bpf" / "gwlb_encap.o"
PROGRAM, MAP = "gwlb_encap", "flows"
MAX_HEADER = 64
# ingress ifindex (host order); inner source, destination (IPv4 in the first 4 of 16
# bytes), ports (network order); protocol; family (4 or 6)
_KEY = struct.Struct("=I16s16s2s2sBB2x")
# outer source, destination (network order); out ifindex, header length; header; packets
_VALUE = struct.Struct(f"=4s4sII{MAX_HEADER}sQ")
_BPF_NOEXIST = 1
_SIOCETHTOOL, _ETHTOOL_STXCSUM = 0x8946, 0x17


class FastPathUnavailable(Exception):
    """The GWLB's fast path cannot be had here; the reason is the message."""


def installable(packet: bytes) -> bool:
    """An IPv4 packet without options or fragmentation, or an IPv6 one without extension
    headers, UDP or TCP: what the program can carry (it checks the length and the TTL or
    hop limit itself)."""
    if packet[:1] and packet[0] >> 4 == 6:
        return len(packet) >= 44 and packet[6] in (6, 17)
    return (len(packet) >= 24 and packet[0] == 0x45 and packet[9] in (6, 17)
            and not struct.unpack_from("!H", packet, 6)[0] & 0x3FFF)


def flow_key_of(ifindex: int, packet: bytes) -> bytes:
    """The program's key for `packet` (installable) arriving on interface `ifindex`."""
    if packet[0] >> 4 == 6:
        return _KEY.pack(ifindex, packet[8:24], packet[24:40], packet[40:42],
                         packet[42:44], packet[6], 6)
    return _KEY.pack(ifindex, packet[12:16], packet[16:20], packet[20:22], packet[22:24],
                     packet[9], 4)


def checksums_in_software(interface: str) -> None:
    """Turn off `interface`'s transmit checksumming (ethtool -K IFACE tx off)."""
    value = ctypes.create_string_buffer(struct.pack("=II", _ETHTOOL_STXCSUM, 0))
    request = struct.pack("16sP", interface.encode(), ctypes.addressof(value))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock, _SIOCETHTOOL, request)


def route_interface(target: IPv4Address) -> str:
    """The interface this namespace sends to `target` through."""
    done = subprocess.run(["ip", "-j", "route", "get", str(target)], capture_output=True,
                          text=True, check=True)
    return str(json.loads(done.stdout)[0]["dev"])


class GwlbFastPath:
    """The program on each ingress interface, and its flows."""

    def __init__(self, interfaces: list[str], listen: IPv4Address,
                 obj: Path = OBJECT) -> None:
        self.listen = listen
        self._programs: dict[int, tuple[TcProgram, int]] = {}
        self._out: dict[IPv4Address, int | None] = {}  # target -> interface towards it
        try:
            for name in interfaces:
                program = TcProgram(obj, PROGRAM, name)
                self._programs[socket.if_nametoindex(name)] = (program, program.map_fd(MAP))
        except TcBpfError as exc:
            self.close()
            raise FastPathUnavailable(str(exc)) from exc

    @property
    def ifindexes(self) -> list[int]:
        return list(self._programs)

    def _out_ifindex(self, target: IPv4Address) -> int | None:
        """The interface towards `target`, its checksums made in software; None if that
        cannot be had (no route, or checksumming that cannot be turned off): its flows
        then stay in user space."""
        if target not in self._out:
            try:
                out = route_interface(target)
                checksums_in_software(out)
                self._out[target] = socket.if_nametoindex(out)
            except (OSError, subprocess.CalledProcessError, ValueError, KeyError):
                self._out[target] = None
        return self._out[target]

    def install(self, ifindex: int, packet: bytes, target: IPv4Address,
                header: bytes) -> bool:
        """Carry the flow of `packet` (installable), arriving on `ifindex`, to `target`
        under `header` from its next packet; False if not written (there already, full)."""
        attached = self._programs.get(ifindex)
        out = self._out_ifindex(target)
        if attached is None or out is None or len(header) > MAX_HEADER:
            return False
        program, fd = attached
        value = _VALUE.pack(self.listen.packed, target.packed, out, len(header), header, 0)
        return program.update(fd, flow_key_of(ifindex, packet), value, _BPF_NOEXIST)

    def remove(self, ifindex: int, packet: bytes) -> None:
        attached = self._programs.get(ifindex)
        if attached is not None:
            attached[0].delete(attached[1], flow_key_of(ifindex, packet))

    def forget(self) -> None:
        """Remove every flow (the group's view changed)."""
        for program, fd in self._programs.values():
            for key in list(program.keys(fd, _KEY.size)):
                program.delete(fd, key)

    def close(self) -> None:
        for program, _ in self._programs.values():
            program.close()
        self._programs.clear()
