"""The docker engine the lab started itself (`scripts/start-docker-engine`), and the two
repairs only a restart makes.

Docker 20.10 can lose count of a network's endpoints when many containers leave it
at once (a cloud lab's `internet` has twelve): the network then shows no endpoint,
and `docker network rm` says "has active endpoints" forever (moby/moby#42119; the
engine logs "Fixing inconsistent endpoint_cnt" when it starts, and only then). Such
a network keeps its subnet, and every later lab that needs it fails on "Pool
overlaps". The lab restarts the engine, but only one it started (its pid file)
and only while no container at all runs on it: nobody else's work is stopped.

The other is libnetwork's lock-order deadlock (lab.backends.engine_deadlock): there
the engine is of no use to anyone until it restarts, so the lab's engine is
restarted whatever runs on it, once its own goroutine dump shows the deadlock
(`recover_if_deadlocked`, called by lab.backends.engine_calls when a call hangs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from lab.backends.engine_deadlock import Deadlock, Goroutine, libnetwork_deadlock, parse_goroutines
from lab.file_lock import exclusive

PID_FILE = Path("/run/cclab-dockerd.pid")
START_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "start-docker-engine"
STOP_TIMEOUT_S = 30.0
DUMP_FOLDER = Path("/var/run/docker")  # where dockerd writes its goroutine stacks
DUMP_TIMEOUT_S = 10.0
ENGINE_LOCK = Path("/run/cclab/.engine.lock")  # one diagnosis and restart at a time
Judge = Callable[[list[Goroutine]], Deadlock | None]


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


def dump_goroutines(engine_pid: int) -> Path | None:
    """Ask dockerd for its goroutine stacks (SIGUSR1): the file it wrote, or None if
    none appeared within DUMP_TIMEOUT_S."""
    before = set(DUMP_FOLDER.glob("goroutine-stacks-*.log"))
    os.kill(engine_pid, signal.SIGUSR1)
    deadline = time.monotonic() + DUMP_TIMEOUT_S
    size = -1
    while time.monotonic() < deadline:
        time.sleep(0.2)
        new = sorted(set(DUMP_FOLDER.glob("goroutine-stacks-*.log")) - before)
        if new:
            now = new[-1].stat().st_size
            if now == size and now > 0:
                return new[-1]  # written: the same size twice
            size = now
    return None


def recover_if_deadlocked(judge: Judge = libnetwork_deadlock) -> str | None:
    """If the lab's own engine is deadlocked (its goroutine dump, judged by `judge`),
    restart it and say what was found; None if it is not the lab's, or not deadlocked.
    One process at a time: a second caller finds the restarted engine healthy."""
    with exclusive(ENGINE_LOCK):
        pid = lab_engine_pid()
        if pid is None:
            return None
        dump = dump_goroutines(pid)
        if dump is None:
            return None
        found = judge(parse_goroutines(dump.read_text(errors="replace")))
        if found is None:
            dump.unlink(missing_ok=True)  # a slow engine's stacks: nothing to keep
            return None
        restart(pid)
        return (f"the docker engine (pid {pid}) was deadlocked: {found.describe()}; its "
                f"stacks are in {dump}. It was restarted, which stops every container on "
                "it\n    hint: docker 20.10.27 and later have the fix")
