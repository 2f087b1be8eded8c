"""Held flows for `lab.traffic.flow_probe` (kind `http-held`): a few TCP connections kept
open, each carrying one HTTP/1.1 request after another (keep-alive), so that a flow that
started before a fault is seen carrying requests during it. Attempt SEQ uses
connection SEQ % SLOTS; an attempt that fails drops its connection and the slot's next
attempt opens a new one (a new flow)."""

from __future__ import annotations

import socket
import threading
import time

# Enough that at least one lands on each of two targets but for 1 start in 2,048: with
# eight, all on one target was 1 in 128, and a clean-clone CI met it (docs/decisions.md).
# Slot k opens at attempt k: at 0.25 s apart, all twelve before a fault at 3 s.
SLOTS = 12


class Slot:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn: socket.socket | None = None
        self.opened = 0.0  # when `conn` was opened (epoch seconds)


class HeldFlows:
    def __init__(self, slots: int = SLOTS) -> None:
        self.slots = [Slot() for _ in range(slots)]

    def once(self, name: str, seq: int, address: str, port: int,
             timeout: float) -> tuple[bool, str, int, float]:
        """(ok, detail, the connection's local port (0 if it never connected), when the
        connection was opened (epoch seconds): the flow began then, not at this request)."""
        slot = self.slots[seq % len(self.slots)]
        with slot.lock:
            sport = 0
            try:
                if slot.conn is None:
                    slot.opened = time.time()
                    slot.conn = socket.create_connection((address, port), timeout=timeout)
                sport = slot.conn.getsockname()[1]
                ok, code = _request(slot.conn, name, seq, address, time.monotonic() + timeout)
                return ok, code, sport, slot.opened
            except TimeoutError:
                return self._drop(slot, "timeout", sport)
            except ConnectionResetError:
                return self._drop(slot, "reset", sport)
            except ConnectionRefusedError:
                return self._drop(slot, "refused", sport)
            except OSError as exc:
                return self._drop(slot, type(exc).__name__, sport)

    @staticmethod
    def _drop(slot: Slot, detail: str, sport: int) -> tuple[bool, str, int, float]:
        if slot.conn is not None:
            slot.conn.close()
            slot.conn = None
        return False, detail, sport, slot.opened


def _request(conn: socket.socket, name: str, seq: int, host: str,
             deadline: float) -> tuple[bool, str]:
    """One keep-alive GET and its whole answer (head, then Content-Length bytes)."""
    conn.settimeout(max(0.01, deadline - time.monotonic()))
    conn.sendall(f"GET /scn/{name}/{seq} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionResetError("closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                   if line.lower().startswith("content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionResetError("closed")
        body += chunk
    code = (lines[0].split(" ", 2)[1:2] or ["?"])[0]
    return code == "200", code
