"""Packet capture inside a namespace with tcpdump, started and stopped around traffic."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from lab.errors import BackendError

READY_TIMEOUT_S = 5.0


class TcpdumpCapture:
    """A running `tcpdump -w`; `stop()` ends it and returns the pcap's path."""

    def __init__(self, proc: subprocess.Popen[bytes], path: Path, ns: str) -> None:
        self._proc = proc
        self.path = path
        self.ns = ns

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
                 "--immediate-mode", "-s", "0", "-w", str(path)],
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
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        return self.path
