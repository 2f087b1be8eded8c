"""Would batched system calls speed up the connector's DNS listener? recvmmsg against
recvmsg, sendmmsg against sendto.

Issue 19 asked for recvmmsg/sendmmsg where the packets are. CPython has no
recvmmsg, so a batch is taken through ctypes (64 datagrams a call, buffers made
once) and each datagram is then made into what the listener needs: its bytes,
the client's (address, port) and the original destination from IP_ORIGDSTADDR.
The reference is what the listener does today: `socket.recvmsg` with the same
ancillary data, one datagram a call. Both receive the same 40-byte datagrams
over 127.0.0.1 (a socket of this process sends them first, untimed), alternating,
several rounds; the figure is time per datagram, the ratio the median of each
round's own ratio (batched / one at a time: below 1 is faster). Answers the
same way: `sendto` per answer (connector.io.tproxy.ReplySockets), against
sendmmsg with each message's client address written into its sockaddr (the
clients vary). Writes the `batching` part of reports/bench/connector.json.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import statistics
import struct
import time
from pathlib import Path
from typing import Any

from bench.lab_run import write_part
from lab.traffic.flood.mmsg import IoVec, MMsgHdr

OUT = Path("reports/bench/connector.json")
ROUNDS = int(os.environ.get("CCLAB_BENCH_ROUNDS", "5"))
BATCH, CHUNK, CHUNKS = 64, 4_000, 10  # CHUNK datagrams queued, then received; CHUNKS times
SLOT, NAME, CONTROL = 512, 16, 32  # bytes per datagram buffer, sockaddr_in, one cmsg
IP_RECVORIGDSTADDR, MSG_DONTWAIT = 20, 0x40
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_PORT_ADDRESS = struct.Struct("!H4s").unpack_from


class BatchReceiver:
    """recvmmsg into buffers made once; `take` returns (data, client, original) each."""

    def __init__(self, sock: socket.socket) -> None:
        self.fd = sock.fileno()
        self._data = ctypes.create_string_buffer(BATCH * SLOT)
        self._names = ctypes.create_string_buffer(BATCH * NAME)
        self._control = ctypes.create_string_buffer(BATCH * CONTROL)
        self._iov = (IoVec * BATCH)()
        self._msgs = (MMsgHdr * BATCH)()
        for i in range(BATCH):
            self._iov[i].iov_base = ctypes.addressof(self._data) + i * SLOT
            self._iov[i].iov_len = SLOT
            hdr = self._msgs[i].msg_hdr
            hdr.msg_name = ctypes.addressof(self._names) + i * NAME
            hdr.msg_iov = ctypes.pointer(self._iov[i])
            hdr.msg_iovlen = 1
            hdr.msg_control = ctypes.addressof(self._control) + i * CONTROL
        self._views = (memoryview(self._data), memoryview(self._names),
                       memoryview(self._control))

    def take(self) -> list[tuple[bytes, tuple[str, int], tuple[str, int]]]:
        for i in range(BATCH):  # the kernel shortens both on each call
            self._msgs[i].msg_hdr.msg_namelen = NAME
            self._msgs[i].msg_hdr.msg_controllen = CONTROL
        got = _libc.recvmmsg(self.fd, self._msgs, BATCH, MSG_DONTWAIT, None)
        if got <= 0:
            return []
        data, names, control = self._views
        out = []
        for i in range(got):
            length = self._msgs[i].msg_len
            port, raw = _PORT_ADDRESS(names, i * NAME + 2)
            dport, draw = _PORT_ADDRESS(control, i * CONTROL + 16 + 2)  # after the cmsghdr
            out.append((bytes(data[i * SLOT:i * SLOT + length]),
                        (socket.inet_ntoa(raw), port), (socket.inet_ntoa(draw), dport)))
        return out


class BatchSender:
    """sendmmsg of up to BATCH (data, client) pairs a call, buffers made once."""

    def __init__(self, sock: socket.socket) -> None:
        self.fd = sock.fileno()
        self._data = ctypes.create_string_buffer(BATCH * SLOT)
        self._names = ctypes.create_string_buffer(BATCH * NAME)
        self._iov = (IoVec * BATCH)()
        self._msgs = (MMsgHdr * BATCH)()
        for i in range(BATCH):
            self._iov[i].iov_base = ctypes.addressof(self._data) + i * SLOT
            hdr = self._msgs[i].msg_hdr
            hdr.msg_name = ctypes.addressof(self._names) + i * NAME
            hdr.msg_namelen = NAME
            hdr.msg_iov = ctypes.pointer(self._iov[i])
            hdr.msg_iovlen = 1

    def send(self, answers: list[tuple[bytes, tuple[str, int]]]) -> int:
        for i, (data, (address, port)) in enumerate(answers):
            ctypes.memmove(self._iov[i].iov_base, data, len(data))
            self._iov[i].iov_len = len(data)
            _FAMILY.pack_into(self._names, i * NAME, socket.AF_INET)
            _PORT_ADDRESS_OUT.pack_into(self._names, i * NAME + 2, port,
                                        socket.inet_aton(address))
        return int(_libc.sendmmsg(self.fd, self._msgs, len(answers), 0))


_FAMILY, _PORT_ADDRESS_OUT = struct.Struct("=H"), struct.Struct("!H4s")  # sockaddr_in


def _one_at_a_time(sock: socket.socket) -> list[tuple[bytes, tuple[str, int], tuple[str, int]]]:
    """What connector.io.tproxy.recv_query does, per datagram."""
    out: list[tuple[bytes, tuple[str, int], tuple[str, int]]] = []
    while True:
        try:
            data, ancillary, _, client = sock.recvmsg(65535, socket.CMSG_SPACE(16))
        except BlockingIOError:
            return out
        for _, kind, payload in ancillary:
            if kind == IP_RECVORIGDSTADDR:
                port, raw = _PORT_ADDRESS(payload, 2)
                out.append((data, client, (socket.inet_ntoa(raw), port)))


def _timed(receive: Any, listener: socket.socket, sender: socket.socket) -> float:
    """Seconds per datagram over CHUNKS chunks; the sending is not timed."""
    spent, count, payload = 0.0, 0, b"q" * 40
    for _ in range(CHUNKS):
        for _ in range(CHUNK):
            sender.sendto(payload, listener.getsockname())
        started = time.perf_counter()
        got = 0
        while got < CHUNK:
            batch = receive()
            if not batch:
                break
            got += len(batch)
        spent += time.perf_counter() - started
        count += got
    if count < CHUNK * CHUNKS * 0.9:
        raise RuntimeError(f"only {count} of {CHUNK * CHUNKS} datagrams arrived")
    return spent / count


def _timed_send(send: Any, clients: list[tuple[str, int]]) -> float:
    """Seconds per answer: CHUNKS chunks of CHUNK answers to `clients` in turn."""
    answers = [(b"a" * 60, clients[i % len(clients)]) for i in range(CHUNK)]
    started = time.perf_counter()
    for _ in range(CHUNKS):
        send(answers)
    return (time.perf_counter() - started) / (CHUNK * CHUNKS)


def _sendto_each(sock: socket.socket) -> Any:
    def send(answers: list[tuple[bytes, tuple[str, int]]]) -> None:
        for data, client in answers:
            sock.sendto(data, client)
    return send


def _sendmmsg_batches(sender: BatchSender) -> Any:
    def send(answers: list[tuple[bytes, tuple[str, int]]]) -> None:
        for at in range(0, len(answers), BATCH):
            sender.send(answers[at:at + BATCH])
    return send


def measure_send() -> dict[str, Any]:
    """Answers to four clients (sockets of this process that never read: the kernel
    drops what overflows their buffers after the send, which is what is timed)."""
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
    answerer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for client in clients:
            client.bind(("127.0.0.1", 0))
        addresses = [c.getsockname() for c in clients]
        batched = BatchSender(answerer)
        _check_delivery(batched, clients)
        runs: dict[str, list[float]] = {"sendto": [], "sendmmsg": []}
        for _ in range(ROUNDS):
            runs["sendto"].append(_timed_send(_sendto_each(answerer), addresses))
            runs["sendmmsg"].append(_timed_send(_sendmmsg_batches(batched), addresses))
    finally:
        for sock in [*clients, answerer]:
            sock.close()
    return _summary(runs, "sendto", "sendmmsg")


def _check_delivery(sender: BatchSender, clients: list[socket.socket]) -> None:
    """A batch reaches each client, with its own payload: the timed calls deliver."""
    batch = [(f"to {i}".encode(), c.getsockname()) for i, c in enumerate(clients)]
    if sender.send(batch) != len(batch):
        raise RuntimeError(f"sendmmsg: {os.strerror(ctypes.get_errno())}")
    for i, client in enumerate(clients):
        client.settimeout(1)
        if client.recv(64) != f"to {i}".encode():
            raise RuntimeError(f"sendmmsg delivered the wrong answer to client {i}")


def _summary(runs: dict[str, list[float]], one: str, batch: str) -> dict[str, Any]:
    ratios = [b / o for o, b in zip(runs[one], runs[batch], strict=True)]
    return {f"{one}_us_median": round(1e6 * statistics.median(runs[one]), 3),
            f"{batch}_us_median": round(1e6 * statistics.median(runs[batch]), 3),
            "ratio": round(statistics.median(ratios), 3),
            "ratio_per_round": [round(r, 3) for r in ratios]}


def measure() -> dict[str, Any]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    listener.setsockopt(socket.SOL_IP, IP_RECVORIGDSTADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.setblocking(False)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    batched = BatchReceiver(listener)
    runs: dict[str, list[float]] = {"recvmsg": [], "recvmmsg": []}
    try:
        for _ in range(ROUNDS):
            runs["recvmsg"].append(_timed(lambda: _one_at_a_time(listener), listener, sender))
            runs["recvmmsg"].append(_timed(batched.take, listener, sender))
    finally:
        listener.close()
        sender.close()
    return {"what": "a DNS query's two system calls in CPython, one at a time and batched "
                    f"({BATCH} a call, ctypes): µs per datagram, 127.0.0.1",
            "rounds": ROUNDS, "datagrams_per_round": CHUNK * CHUNKS, "batch": BATCH,
            "receive": _summary(runs, "recvmsg", "recvmmsg"), "send": measure_send()}


def main() -> None:
    figures = measure()
    write_part(OUT, "batching", figures)
    got, sent = figures["receive"], figures["send"]
    print(f"batching: recvmsg {got['recvmsg_us_median']} µs, recvmmsg "
          f"{got['recvmmsg_us_median']} µs ({got['ratio']}); sendto "
          f"{sent['sendto_us_median']} µs, sendmmsg {sent['sendmmsg_us_median']} µs "
          f"({sent['ratio']}) per datagram")


if __name__ == "__main__":
    main()
