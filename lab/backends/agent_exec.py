"""The host's side of `lab.node_agent.exec_server`: a command run in a docker node by
its agent, without the engine. `None` when the agent does not answer at all, so that
the caller can use `docker exec` (and its errors) instead."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from lab.backends.base import ExecResult

GRACE_S = 5.0  # beyond the command's own timeout, which the agent enforces
NO_ANSWER = 255


def exec_by_agent(path: Path, argv: list[str], *, timeout: float,
                  input_text: str | None) -> ExecResult | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout + GRACE_S)
    with sock:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return None
        request = {"argv": argv, "input": input_text, "timeout": timeout}
        try:
            sock.sendall(json.dumps(request).encode())
            sock.shutdown(socket.SHUT_WR)
            data = _read_all(sock)
        except TimeoutError:
            return ExecResult(124, "", f"timed out after {timeout}s (the node agent did not "
                                       f"answer)")
        except OSError as exc:
            return ExecResult(NO_ANSWER, "", f"the node agent's connection failed: {exc}")
    try:
        answer = json.loads(data)
    except ValueError:
        return ExecResult(NO_ANSWER, "", "the node agent closed the connection without an "
                                         "answer (did the container stop?)")
    return ExecResult(int(answer["returncode"]), answer["stdout"], answer["stderr"])


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)
