"""The docker engine the lab started itself (`scripts/start-docker-engine`), and the one
repair only a restart makes.

Docker 20.10 can lose count of a network's endpoints when many containers leave it
at once (a cloud lab's `internet` has twelve): the network then shows no endpoint,
and `docker network rm` says "has active endpoints" forever (moby/moby#42119; the
engine logs "Fixing inconsistent endpoint_cnt" when it starts, and only then). Such
a network keeps its subnet, and every later lab that needs it fails on "Pool
overlaps". The lab restarts the engine, but only one it started (its pid file)
and only while no container at all runs on it: nobody else's work is stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

PID_FILE = Path("/run/cclab-dockerd.pid")
START_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "start-docker-engine"
STOP_TIMEOUT_S = 30.0


def lab_engine_pid() -> int | None:
    """The pid of the dockerd the lab started, if that process still runs."""
    try:
        pid = int(PID_FILE.read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid if comm == "dockerd" else None


def may_restart(engine_pid: int | None, running_containers: list[str]) -> bool:
    """A restart stops nobody's work: the engine is the lab's and runs no container. Pure."""
    return engine_pid is not None and not running_containers


def restart(engine_pid: int) -> None:
    """Stop the lab's dockerd (SIGTERM, as an init system would) and start it again."""
    os.kill(engine_pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(engine_pid):
        if time.monotonic() > deadline:
            raise OSError(f"dockerd ({engine_pid}) did not stop within {STOP_TIMEOUT_S:g} s")
        time.sleep(0.1)
    started = subprocess.run([str(START_SCRIPT)], capture_output=True, text=True, check=False,
                             timeout=60)
    if started.returncode != 0:
        raise OSError(f"the docker engine did not start again: {started.stderr.strip()}")


def _alive(pid: int) -> bool:
    """Running, not gone and not a zombie nobody reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
