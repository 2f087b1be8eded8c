"""One tc program attached to one interface's ingress, and its maps, through libbpf.

libbpf's C API through ctypes (`libbpf1`, which Debian's iproute2 already depends
on): open and load the object, create the clsact qdisc, attach, find a map's fd;
no bpffs, no pinned paths, so two labs' programs on one host never share a map.
Closing destroys the qdisc with the program; a crashed run's qdisc is destroyed
when the next one attaches. Maps are read and written as packed bytes: what the
bytes mean is the caller's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

_TC_INGRESS, _TC_BOTH = 1, 3  # destroying both hooks removes the clsact qdisc


class TcBpfError(Exception):
    """The program cannot be had on this host; the reason is the message."""


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
        raise TcBpfError("libbpf is not installed (Debian: libbpf1)")
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise TcBpfError(f"cannot load libbpf: {exc}") from exc
    lib.libbpf_set_print(None)  # its notes go to stderr; what failed is in TcBpfError
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


class RingReader:
    """The records a program puts in one of its ring buffer maps (BPF_MAP_TYPE_RINGBUF),
    read from the ring's memory as libbpf's consumer reads it (ringbuf.c): positions in
    a consumer page (ours to write) and a producer page, the data mapped twice in a row
    so that a record that wraps reads whole; each record an 8-byte header (its length,
    with a busy and a discard bit) and its data, rounded up to 8. libbpf's own reader
    calls back into Python for each record, which cost microseconds a record here;
    this one reads a ring of one-word records in a few C calls (`drain_words`).
    """

    _BUSY, _DISCARD, _HEADER = 1 << 31, 1 << 30, 8

    def __init__(self, fd: int, size: int, name: str) -> None:
        page = mmap.PAGESIZE
        self._mask = size - 1
        try:
            self._consumer = mmap.mmap(fd, page, mmap.MAP_SHARED,
                                       mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
            self._producer = mmap.mmap(fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ,
                                       offset=page)
        except OSError as exc:
            raise TcBpfError(f"cannot map ring {name}: {exc.strerror or exc}") from exc
        self._data_at = page

    def drain_words(self) -> list[int]:
        """For a ring of 4-byte records, each padded to 8 (a 16-byte slot with its
        header): every record's word since the last drain, oldest first, read in C by
        a strided view, not record by record, up to any record still being written."""
        consumed = _U64.unpack_from(self._consumer)[0]
        produced = _U64.unpack_from(self._producer)[0]
        if consumed == produced:
            return []
        at = self._data_at + (consumed & self._mask)  # the data, mapped twice: read whole
        chunk = self._producer[at:at + produced - consumed]
        words = memoryview(chunk).cast("I")
        lengths = words[0::4].tolist()
        ready = len(lengths)
        for i, length in enumerate(lengths):
            if length != 4:  # still being written, discarded, or not this ring's shape
                ready = i
                break
        taken = words[2:4 * ready:4].tolist()
        offset = 16 * ready
        if ready < len(lengths):
            more, end = self._records(chunk[offset:])
            taken += [_U32.unpack_from(r)[0] for r in more if len(r) >= 4]
            offset += end
        _U64.pack_into(self._consumer, 0, consumed + offset)
        return taken

    def _records(self, chunk: bytes) -> tuple[list[bytes], int]:
        """The whole records at the start of `chunk`, and the bytes they take."""
        records, offset = [], 0
        while offset < len(chunk):
            length = _U32.unpack_from(chunk, offset)[0]
            if length & self._BUSY:
                break
            size = length & ~(self._BUSY | self._DISCARD)
            if not length & self._DISCARD:
                records.append(chunk[offset + self._HEADER:offset + self._HEADER + size])
            offset += (size + self._HEADER + 7) & ~7
        return records, offset

    def close(self) -> None:
        """Unmap the ring (the map itself goes with its program); once."""
        for view in (self._consumer, self._producer):
            if not view.closed:
                view.close()


_U32, _U64 = struct.Struct("=I"), struct.Struct("=Q")


class TcProgram:
    """`program` of object file `obj` on `interface`'s tc ingress."""

    def __init__(self, obj: Path, program: str, interface: str) -> None:
        if not obj.is_file():
            raise TcBpfError(f"{obj} is missing: `make setup` compiles it (clang)")
        self._lib = _libbpf()
        self.interface = interface
        ifindex = socket.if_nametoindex(interface)
        self._hook = _TcHook(ctypes.sizeof(_TcHook), ifindex, _TC_INGRESS, 0)
        self._qdisc = _TcHook(ctypes.sizeof(_TcHook), ifindex, _TC_BOTH, 0)
        self._obj: int | None = self._open(obj)
        try:
            self._attach(program.encode())
        except TcBpfError:
            self._lib.bpf_object__close(self._obj)
            raise

    def _open(self, obj: Path) -> int:
        handle = self._lib.bpf_object__open_file(str(obj).encode(), None)
        if not handle:
            raise TcBpfError(f"cannot open {obj}: {os.strerror(ctypes.get_errno())}")
        failed = self._lib.bpf_object__load(handle)
        if failed:
            self._lib.bpf_object__close(handle)
            raise TcBpfError(f"the kernel refused {obj.name}: {os.strerror(-failed)}")
        return int(handle)

    def _attach(self, program: bytes) -> None:
        self._lib.bpf_tc_hook_destroy(ctypes.byref(self._qdisc))  # a crashed run's, if any
        created = self._lib.bpf_tc_hook_create(ctypes.byref(self._hook))
        if created and created != -errno.EEXIST:
            raise TcBpfError(f"no clsact qdisc on {self.interface}: {os.strerror(-created)}")
        found = self._lib.bpf_object__find_program_by_name(self._obj, program)
        opts = _TcOpts(ctypes.sizeof(_TcOpts), self._lib.bpf_program__fd(found), 0, 0, 0, 0)
        attached = self._lib.bpf_tc_attach(ctypes.byref(self._hook), ctypes.byref(opts))
        if attached:
            self._lib.bpf_tc_hook_destroy(ctypes.byref(self._qdisc))
            raise TcBpfError(f"cannot attach to {self.interface}'s ingress: "
                             f"{os.strerror(-attached)}")

    def map_fd(self, name: str) -> int:
        return int(self._lib.bpf_object__find_map_fd_by_name(self._obj, name.encode()))

    def ring(self, name: str, size: int) -> RingReader:
        """A reader of the ring buffer map `name` of `size` bytes (its max_entries)."""
        return RingReader(self.map_fd(name), size, name)

    def update(self, fd: int, key: bytes, value: bytes, flags: int = 0) -> bool:
        """Write an entry (`flags`: BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2); False if the
        map refused it (full, or the flags did)."""
        return bool(self._lib.bpf_map_update_elem(fd, key, value, flags) == 0)

    def delete(self, fd: int, key: bytes) -> None:
        self._lib.bpf_map_delete_elem(fd, key)

    def lookup(self, fd: int, key: bytes, size: int) -> bytes | None:
        value = ctypes.create_string_buffer(size)
        if self._lib.bpf_map_lookup_elem(fd, key, value):
            return None
        return value.raw

    def keys(self, fd: int, size: int) -> Iterator[bytes]:
        """Every key in the map, packed."""
        key = ctypes.create_string_buffer(size)
        previous = None
        while self._lib.bpf_map_get_next_key(fd, previous, key) == 0:
            yield key.raw
            previous = ctypes.create_string_buffer(key.raw, size)

    def close(self) -> None:
        """Detach (the clsact qdisc goes, with the program) and free the maps; once."""
        if self._obj is None:
            return
        self._lib.bpf_tc_hook_destroy(ctypes.byref(self._qdisc))
        self._lib.bpf_object__close(self._obj)
        self._obj = None
