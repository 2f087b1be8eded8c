"""The kernel's GENEVE Direct fast path: a tc program, its flow map, through libbpf.

`connector/bpf/geneve_direct.c`, compiled to `geneve_direct.o` (`make setup`),
sits on the service interface's tc ingress. User space installs a flow it has
validated and decided Direct (`install`); the program then decapsulates that
flow's later packets in the kernel and hands them to the flow's TUN, counting
them in the entry, which user space reads back (`count`) and removes when the
flow ends (`remove`); `installed` lists what is left. The key is every byte user
space would compare: the outer addresses and source port, the exact GENEVE
header, the inner 5-tuple (UDP or TCP); a packet that differs in any (a re-homed
flow, another header), and a TCP segment with SYN, FIN or RST, goes to the socket.

I/O only, through libbpf's C API (ctypes, libbpf1); `FastPathError` says why the
path could not be had (no object, no libbpf, no permission), and the data plane
then carries everything in user space as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from connector.errors import ConnectorError

OBJECT = Path(__file__).resolve().parent.parent / "bpf" / "geneve_direct.o"
PROGRAM, MAP = b"geneve_direct", b"flows"
MAX_HEADER = 64
_KEY = struct.Struct(f"!4s4sHBB4s4sHH{MAX_HEADER}s")  # network order, as the packet has it
_VALUE = struct.Struct("=IIQQQ")  # host order: ifindex, reserved, packets, octets, last_ns
_TC_INGRESS, _TC_BOTH = 1, 3  # destroying both hooks removes the clsact qdisc


class FastPathError(ConnectorError):
    """The fast path cannot be had on this host; the reason is the message."""


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
class FastCount:
    """What the program counted for one flow since it was installed."""

    packets: int
    octets: int
    last_ns: int


class _TcHook(ctypes.Structure):
    _fields_ = [("sz", ctypes.c_size_t), ("ifindex", ctypes.c_int),
                ("attach_point", ctypes.c_int), ("parent", ctypes.c_uint32),
                ("_end", ctypes.c_size_t * 0)]


class _TcOpts(ctypes.Structure):
    _fields_ = [("sz", ctypes.c_size_t), ("prog_fd", ctypes.c_int),
                ("flags", ctypes.c_uint32), ("prog_id", ctypes.c_uint32),
                ("handle", ctypes.c_uint32), ("priority", ctypes.c_uint32),
                ("_end", ctypes.c_size_t * 0)]


def _libbpf() -> ctypes.CDLL:
    name = ctypes.util.find_library("bpf")
    if name is None:
        raise FastPathError("libbpf is not installed (Debian: libbpf1)")
    lib = ctypes.CDLL(name, use_errno=True)
    lib.libbpf_set_print(None)  # its notes go to stderr; what failed is in FastPathError
    lib.bpf_object__open_file.restype = ctypes.c_void_p
    lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.bpf_object__load.argtypes = [ctypes.c_void_p]
    lib.bpf_object__close.argtypes = [ctypes.c_void_p]
    lib.bpf_object__find_program_by_name.restype = ctypes.c_void_p
    lib.bpf_object__find_program_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.bpf_program__fd.argtypes = [ctypes.c_void_p]
    lib.bpf_object__find_map_fd_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    for call in ("bpf_tc_hook_create", "bpf_tc_hook_destroy"):
        getattr(lib, call).argtypes = [ctypes.POINTER(_TcHook)]
    lib.bpf_tc_attach.argtypes = [ctypes.POINTER(_TcHook), ctypes.POINTER(_TcOpts)]
    lib.bpf_map_update_elem.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p,
                                        ctypes.c_uint64]
    lib.bpf_map_lookup_elem.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p]
    lib.bpf_map_delete_elem.argtypes = [ctypes.c_int, ctypes.c_char_p]
    lib.bpf_map_get_next_key.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p]
    return lib


class FastPath:
    """The program attached to one interface's ingress, and its flow map."""

    def __init__(self, interface: str, obj: Path = OBJECT) -> None:
        if not obj.is_file():
            raise FastPathError(f"{obj} is missing: `make setup` compiles it (clang)")
        try:
            self._lib = _libbpf()
        except OSError as exc:
            raise FastPathError(f"cannot load libbpf: {exc}") from exc
        self.interface = interface
        ifindex = socket.if_nametoindex(interface)
        self._hook = _TcHook(ctypes.sizeof(_TcHook), ifindex, _TC_INGRESS, 0)
        self._qdisc = _TcHook(ctypes.sizeof(_TcHook), ifindex, _TC_BOTH, 0)
        self._obj: int | None = self._open(obj)
        try:
            self._map_fd = self._attach()
        except FastPathError:
            self._lib.bpf_object__close(self._obj)
            raise

    def _open(self, obj: Path) -> int:
        handle = self._lib.bpf_object__open_file(str(obj).encode(), None)
        if not handle:
            raise FastPathError(f"cannot open {obj}: {os.strerror(ctypes.get_errno())}")
        failed = self._lib.bpf_object__load(handle)
        if failed:
            self._lib.bpf_object__close(handle)
            raise FastPathError(f"the kernel refused {obj.name}: {os.strerror(-failed)}")
        return int(handle)

    def _attach(self) -> int:
        self._lib.bpf_tc_hook_destroy(ctypes.byref(self._qdisc))  # a crashed run's, if any
        created = self._lib.bpf_tc_hook_create(ctypes.byref(self._hook))
        if created and created != -errno.EEXIST:
            raise FastPathError(f"no clsact qdisc on {self.interface}: "
                                f"{os.strerror(-created)}")
        program = self._lib.bpf_object__find_program_by_name(self._obj, PROGRAM)
        opts = _TcOpts(ctypes.sizeof(_TcOpts), self._lib.bpf_program__fd(program), 0, 0, 0, 0)
        attached = self._lib.bpf_tc_attach(ctypes.byref(self._hook), ctypes.byref(opts))
        if attached:
            self._lib.bpf_tc_hook_destroy(ctypes.byref(self._qdisc))
            raise FastPathError(f"cannot attach to {self.interface}'s ingress: "
                                f"{os.strerror(-attached)}")
        return int(self._lib.bpf_object__find_map_fd_by_name(self._obj, MAP))

    def install(self, key: FastKey, tun_ifindex: int) -> bool:
        """Carry this flow in the kernel from its next packet; False if the map is full."""
        value = _VALUE.pack(tun_ifindex, 0, 0, 0, 0)
        return bool(self._lib.bpf_map_update_elem(self._map_fd, key.packed(), value, 0) == 0)

    def remove(self, key: FastKey) -> None:
        self._lib.bpf_map_delete_elem(self._map_fd, key.packed())

    def count(self, key: FastKey) -> FastCount | None:
        value = ctypes.create_string_buffer(_VALUE.size)
        if self._lib.bpf_map_lookup_elem(self._map_fd, key.packed(), value):
            return None
        _, _, packets, octets, last_ns = _VALUE.unpack(value.raw)
        return FastCount(packets, octets, last_ns)

    def installed(self) -> Iterator[bytes]:
        """Every installed key, packed (for a check that nothing stale is left)."""
        key = ctypes.create_string_buffer(_KEY.size)
        previous = None
        while self._lib.bpf_map_get_next_key(self._map_fd, previous, key) == 0:
            yield key.raw
            previous = ctypes.create_string_buffer(key.raw, _KEY.size)

    def close(self) -> None:
        """Detach (the clsact qdisc goes, with the program) and free the map; once."""
        if self._obj is None:
            return
        self._lib.bpf_tc_hook_destroy(ctypes.byref(self._qdisc))
        self._lib.bpf_object__close(self._obj)
        self._obj = None
