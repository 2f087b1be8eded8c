"""The node agent's exec socket and the host's client, over a real Unix socket on this
machine (the docker tier checks the same in a container against `docker exec`)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.backends.agent_exec import exec_by_agent
from lab.node_agent.exec_server import (
    NOT_FOUND,
    TIMED_OUT,
    container_environment,
    serve_in_background,
    socket_path,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = socket_path(tmp_path_factory.mktemp("run"), "node1")
    server = serve_in_background(path, {"PATH": os.environ["PATH"], "CCLAB_PROBE": "set"})
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()


def _run(path: Path, argv: list[str], timeout: float = 10.0, text: str | None = None):
    got = exec_by_agent(path, argv, timeout=timeout, input_text=text)
    assert got is not None
    return got


def test_output_input_and_exit_code_come_back(agent: Path) -> None:
    got = _run(agent, ["sh", "-c", "cat; echo err >&2; exit 3"], text="in\n")
    assert (got.returncode, got.stdout, got.stderr) == (3, "in\n", "err\n")


def test_the_command_gets_the_given_environment_only(agent: Path) -> None:
    got = _run(agent, ["sh", "-c", "echo $CCLAB_PROBE; echo ${HOME:-none}"])
    assert got.stdout.split() == ["set", "none"]


def test_a_missing_program_answers_127(agent: Path) -> None:
    got = _run(agent, ["cclab-no-such-program"])
    assert got.returncode == NOT_FOUND
    assert "cclab-no-such-program" in got.stderr


def test_past_its_timeout_the_whole_process_group_is_killed(agent: Path, tmp_path: Path) -> None:
    flag = tmp_path / "survived"
    started = time.monotonic()
    got = _run(agent, ["sh", "-c", f"(sleep 0.8; touch {flag}) & sleep 20"], timeout=0.3)
    assert got.returncode == TIMED_OUT
    assert "timed out after 0.3s" in got.stderr
    assert time.monotonic() - started < 5
    time.sleep(1.0)
    assert not flag.exists(), "a background child of the timed-out command kept running"


def test_only_the_owner_may_connect(agent: Path) -> None:
    assert stat.S_IMODE(agent.stat().st_mode) & 0o077 == 0


def test_no_socket_means_no_answer_so_the_caller_falls_back(tmp_path: Path) -> None:
    assert exec_by_agent(tmp_path / "none.sock", ["true"], timeout=1, input_text=None) is None


def test_the_container_environment_is_read_as_its_first_process_got_it(tmp_path: Path) -> None:
    environ = tmp_path / "environ"
    environ.write_bytes(b"PATH=/opt/x/bin:/bin\0HOSTNAME=cc1\0EMPTY=\0A=b=c\0")
    assert container_environment(environ) == {"PATH": "/opt/x/bin:/bin", "HOSTNAME": "cc1",
                                              "EMPTY": "", "A": "b=c"}
