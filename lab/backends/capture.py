"""Packet capture inside a namespace with tcpdump, started and stopped around traffic."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from lab.errors import BackendError

READY_TIMEOUT_S = 5.0
# The ring tcpdump reads from, in KiB. libpcap sizes each slot for the largest frame the
# interface may hand over (64 KiB on a veth with offloads), so its default 2 MiB holds
# about 32: a burst of 48 packets on a busy machine lost 12 in the ring (tcpdump said
# so: "12 packets dropped by kernel"). 32 MiB holds about 500.
BUFFER_KIB = 32768
# Before it is stopped, a capture waits until its file has not grown for SETTLE_QUIET_S
# (at most SETTLE_MAX_S), so tcpdump has written what it had read (`_settle`).
SETTLE_QUIET_S, SETTLE_MAX_S, SETTLE_STEP_S = 0.1, 1.0, 0.02
_DROPPED = re.compile(r"^(\d+) packets? dropped by kernel", re.MULTILINE)


class TcpdumpCapture:
    """A running `tcpdump -w`; `stop()` ends it and returns the pcap's path."""

    def __init__(self, proc: subprocess.Popen[bytes], path: Path, ns: str) -> None:
        self._proc = proc
        self.path = path
        self.ns = ns
        self.dropped: int | None = None  # what the ring lost, once stopped (tcpdump's count)

    @classmethod
    def start(cls, ns: str, iface: str, path: Path,
              enter: list[str] | None = None) -> TcpdumpCapture:
        """Capture on `iface` of namespace `ns`; `enter` is the argv prefix that gets
        into it (default `ip netns exec NS`; the docker backend uses nsenter)."""
        if shutil.which("tcpdump") is None:
            raise BackendError("tcpdump not found\n    hint: apt-get install tcpdump",
                               backend="netns", node=ns)
        path.parent.mkdir(parents=True, exist_ok=True)
        err = path.with_suffix(".tcpdump.log")
        with open(err, "wb") as log:
            proc = subprocess.Popen(
                [*(enter or ["ip", "netns", "exec", ns]), "tcpdump", "-i", iface, "-n", "-U",
                 "--immediate-mode", "-s", "0", "-B", str(BUFFER_KIB), "-w", str(path)],
                stdout=subprocess.DEVNULL, stderr=log)
        capture = cls(proc, path, ns)
        capture._wait_listening(err)
        return capture

    def _wait_listening(self, err: Path) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            text = err.read_text(errors="replace")
            if "listening on" in text:
                return
            if self._proc.poll() is not None:
                raise BackendError(f"tcpdump failed: {text.strip()}", backend="netns",
                                   node=self.ns)
            time.sleep(0.02)
        self.stop()
        raise BackendError("tcpdump did not start listening", backend="netns", node=self.ns)

    def stop(self) -> Path:
        if self._proc.poll() is None:
            self._settle()
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self.dropped = dropped_in(self.path.with_suffix(".tcpdump.log"))
        return self.path


    def _settle(self) -> None:
        """Wait (at most SETTLE_MAX_S) until the pcap has not grown for SETTLE_QUIET_S: on
        SIGINT tcpdump stops reading its ring, so what it had not written yet was lost. A
        CI run's capture of three spoofed SYNs ended "1 packet captured, 11 packets
        received by filter, 0 packets dropped by kernel": tcpdump, behind under the
        load, had written none of them."""
        deadline = time.monotonic() + SETTLE_MAX_S
        size, since = _size(self.path), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(SETTLE_STEP_S)
            now = _size(self.path)
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= SETTLE_QUIET_S:
                return


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def dropped_in(log: Path) -> int | None:
    """The packets tcpdump's ring lost, from the statistics it prints as it ends."""
    found = _DROPPED.search(log.read_text(errors="replace")) if log.exists() else None
    return int(found.group(1)) if found else None
