"""Commands run in a node for the host, by its agent: `docker exec` without the engine.

A `docker exec` costs the docker CLI, the engine and a containerd shim about 80 ms of
CPU and as much wall time; a docker test runs hundreds. The agent already runs in the
container with everything a `docker exec` process gets (namespaces, cgroup,
capabilities, seccomp, the image's environment and working folder), so a command it
starts is in the same place. It listens on a Unix socket in the lab's run folder
(`exec/NODE.sock`, which the host sees in its own run folder), one request a
connection:

    request:  {"argv": [...], "input": str | null, "timeout": seconds}   (JSON, then EOF)
    answer:   {"returncode": int, "stdout": str, "stderr": str}           (JSON)

A command still running at its timeout is killed with its process group and answers
124, like the host's timeout. The host falls back to `docker exec` when the socket is
not there or refuses (agent not ready yet, container stopped), so errors stay docker's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socketserver
import subprocess
import threading
from pathlib import Path
from typing import Any

TIMED_OUT = 124
NOT_FOUND = 127  # as a shell and `docker exec` say of a command that is not there


def socket_path(run: Path, node: str) -> Path:
    return run / "exec" / f"{node}.sock"


def container_environment(init: Path = Path("/proc/1/environ")) -> dict[str, str]:
    """The environment `docker exec` gives a command: the container's own, as its first
    process got it (the agent's differs: Python adds LC_CTYPE in the C locale)."""
    pairs = (item.partition("=") for item in init.read_bytes().decode().split("\0") if item)
    return {name: value for name, _, value in pairs}


def run_request(request: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one request's command (in `env`, else the agent's environment); its answer."""
    argv = [str(a) for a in request["argv"]]
    text = request.get("input")
    try:
        child = subprocess.Popen(argv, stdin=subprocess.PIPE if text is not None else
                                 subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True, env=env)
    except OSError as exc:
        return {"returncode": NOT_FOUND, "stdout": "",
                "stderr": f"exec: {argv[0]}: {exc.strerror or exc}\n"}
    data = text.encode() if text is not None else None
    try:
        out, err = child.communicate(data, timeout=float(request["timeout"]))
        code = child.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        out, err = child.communicate()
        err += f"\ntimed out after {request['timeout']}s".encode()
        code = TIMED_OUT
    return {"returncode": code, "stdout": out.decode(errors="replace"),
            "stderr": err.decode(errors="replace")}


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            request = json.loads(self.rfile.read())
            answer = run_request(request, self.server.env)
        except (ValueError, KeyError, TypeError) as exc:
            answer = {"returncode": 2, "stdout": "", "stderr": f"bad exec request: {exc}\n"}
        self.wfile.write(json.dumps(answer).encode())


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    env: dict[str, str] | None = None


def serve_in_background(path: Path, env: dict[str, str] | None) -> socketserver.BaseServer:
    """Listen at `path` (only its owner may connect) in a daemon thread, running commands
    in `env` (None: the caller's environment); the server, to shut down."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by an earlier run of this container
    old = os.umask(0o177)
    try:
        server = _Server(str(path), _Handler)
    finally:
        os.umask(old)
    server.env = env
    threading.Thread(target=server.serve_forever, name="exec-server", daemon=True).start()
    return server
