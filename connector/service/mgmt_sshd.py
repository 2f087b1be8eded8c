"""A real OpenSSH server on the management address, and nowhere else (spec §2.5, A5).

The connector starts `sshd -D` with a config of its own: it listens on the
management address only, key authentication only, host key and authorized keys
kept in the connector's state directory (the host key survives restarts). The
nftables table adds the second lock: port 22 only on the management interface
and only from `ssh_sources`.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

from connector.errors import ServiceError

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")
READY_TIMEOUT_S = 5.0


def sshd_config(address: IPv4Address, state: Path, port: int = 22) -> str:
    return "\n".join([
        f"ListenAddress {address}:{port}",
        f"HostKey {state / 'ssh_host_ed25519_key'}",
        f"PidFile {state / 'sshd.pid'}",
        f"AuthorizedKeysFile {state / 'authorized_keys'}",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        "",
    ])


class ManagementSshd:
    def __init__(self, address: IPv4Address, state: Path) -> None:
        self.address = address
        self.state = state / "sshd"
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        if shutil.which(SSHD) is None:
            raise ServiceError(f"{SSHD} not found", step="sshd",
                               detail="hint: apt-get install openssh-server, or set "
                                      "runtime.management_sshd: false")
        self.state.mkdir(parents=True, exist_ok=True)
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        key = self.state / "ssh_host_ed25519_key"
        if not key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                           check=True, capture_output=True, timeout=30)
        config = self.state / "sshd_config"
        config.write_text(sshd_config(self.address, self.state))
        self._proc = await asyncio.create_subprocess_exec(
            SSHD, "-D", "-e", "-f", str(config), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        await self._wait_listening()

    async def _wait_listening(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT_S
        while loop.time() < deadline:
            assert self._proc is not None
            if self._proc.returncode is not None:
                err = await self._proc.stderr.read() if self._proc.stderr else b""
                raise ServiceError("sshd exited", step="sshd", detail=err.decode(errors="replace"))
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(str(self.address), 22), 1.0)
                writer.close()
                return
            except (OSError, TimeoutError):
                await asyncio.sleep(0.05)
        raise ServiceError("sshd did not listen", step="sshd",
                           detail=f"{self.address}:22 within {READY_TIMEOUT_S:g} s")

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
