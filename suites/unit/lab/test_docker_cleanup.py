"""What destroy() does about a network docker will not remove although no container is
left on it (a stale endpoint count, moby#42119): restart the engine, but only when it is
the lab's and runs nothing. And how it removes a lab's containers: one a call (the
engine's calls stood in for by a recorder: what is checked is the calls made)."""

from __future__ import annotations

import subprocess

import pytest

from lab.backends import docker as docker_backend
from lab.backends.docker_engine import may_restart

pytestmark = pytest.mark.unit


def test_the_engine_is_restarted_only_when_it_is_the_labs_and_runs_nothing() -> None:
    assert may_restart(1234, [])
    assert not may_restart(1234, ["c0ffee"])  # someone's container would stop
    assert not may_restart(None, [])  # an engine the lab did not start


def test_a_labs_containers_are_removed_one_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """docker's CLI removes the containers one call names in parallel, and two leaving
    one network at once deadlocked the engine (moby#46661): one container a call."""
    left, calls = ["cc1", "cc2", "fabric"], []

    def recorder(argv: list[str], *, check: bool = False) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        for name in argv[3:]:
            left.remove(name)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(docker_backend, "_docker", recorder)
    docker_backend.remove_containers(lambda: list(left))
    assert calls == [["rm", "-f", "-v", "cc1"], ["rm", "-f", "-v", "cc2"],
                     ["rm", "-f", "-v", "fabric"]]
    assert left == []
