"""Reading a docker engine's goroutine dump for libnetwork's deadlock, and the CLI call
that asks for that reading when it hangs.

The dumps are dockerd 20.10.24's own (SIGUSR1), from this machine: one of the engine
that deadlocked in a clean-clone CI on 2026-12-01 (trimmed to six goroutines: the two
sides, two more blocked behind them, and two that are not), and one of an idle engine.
Which goroutines are the two sides was read by hand from the whole dump: goroutine 82
(the watch loop, in processEndpointDelete) and 4560 (a container's cleanup, in
getSvcRecords), both in semacquire for 7 minutes.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from lab.backends.engine_calls import EngineRestarted, docker, run
from lab.backends.engine_deadlock import Deadlock, libnetwork_deadlock, parse_goroutines
from lab.errors import BackendError

pytestmark = pytest.mark.unit
DATA = Path(__file__).parent / "data"
DEADLOCKED = (DATA / "dockerd-20.10.24-deadlock.goroutines").read_text()
IDLE = (DATA / "dockerd-20.10.24-idle.goroutines").read_text()


def test_the_ci_engine_s_dump_shows_the_deadlock_between_its_two_sides() -> None:
    assert libnetwork_deadlock(parse_goroutines(DEADLOCKED)) == Deadlock(4560, 82, 7)


def test_a_dump_is_read_goroutine_by_goroutine() -> None:
    goroutines = parse_goroutines(DEADLOCKED)
    assert [g.number for g in goroutines] == [1, 82, 4291, 4602, 4563, 4560]
    watch = goroutines[1]
    assert (watch.state, watch.waited_min) == ("semacquire", 7)
    assert watch.frames[0].startswith("sync.runtime_SemacquireMutex(")
    assert watch.frames[-1].startswith("created by github.com/docker/libnetwork.")
    assert not any(frame.startswith(("\t", "/")) for g in goroutines for frame in g.frames)


def test_an_idle_engine_is_not_deadlocked() -> None:
    goroutines = parse_goroutines(IDLE)
    assert len(goroutines) == IDLE.count("\ngoroutine ") + IDLE.startswith("goroutine ")
    assert libnetwork_deadlock(goroutines) is None


def test_waits_under_a_minute_are_a_busy_engine_not_a_deadlock() -> None:
    fresh = DEADLOCKED.replace("[semacquire, 7 minutes]", "[semacquire]")
    assert libnetwork_deadlock(parse_goroutines(fresh)) is None
    assert libnetwork_deadlock(parse_goroutines(DEADLOCKED), at_least_min=8) is None


def test_one_side_alone_is_no_deadlock() -> None:
    network_side_only = [g for g in parse_goroutines(DEADLOCKED) if g.number != 82]
    assert libnetwork_deadlock(network_side_only) is None


# -- the call -----------------------------------------------------------------------------
def test_a_call_that_returns_is_what_subprocess_run_gives() -> None:
    argv = ["sh", "-c", "read line; echo out:$line; echo err >&2; exit 3"]
    got = run(argv, timeout=10, input_text="hello\n", recover=_never_called)
    want = subprocess.run(argv, input="hello\n", capture_output=True, text=True, check=False)
    assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout,
                                                        want.stderr) == (3, "out:hello\n", "err\n")


def test_a_hung_call_on_a_healthy_engine_is_asked_about_twice_then_times_out() -> None:
    asked: list[float] = []
    started = time.monotonic()

    def healthy() -> None:
        asked.append(time.monotonic() - started)

    with pytest.raises(subprocess.TimeoutExpired) as timed_out:
        run(["sleep", "30"], timeout=1.0, recover=healthy, stuck_after=0.3)
    assert timed_out.value.timeout == 1.0
    assert len(asked) == 2
    assert 0.3 <= asked[0] < 1.0 <= asked[1] < 5


def test_a_hung_call_on_a_deadlocked_engine_stops_at_the_first_check(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(EngineRestarted, match="sh -c echo .* hung: the engine was deadlocked"):
        run(["sh", "-c", f"echo $$ > {pid_file}; exec sleep 30"], timeout=20,
            recover=lambda: "the engine was deadlocked", stuck_after=0.3)
    assert time.monotonic() - started < 5
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists(), "the hung call was left running"


def _never_called() -> str | None:
    raise AssertionError("a call that returned in time was reported stuck")


# The lab's one door to the docker CLI (`engine_calls.docker`): what each way of failing
# tells the user. A program called `docker` first on PATH plays the CLI (the real one
# cannot be made to hang or to miss its engine here without stopping the lab's engine).
def _docker_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, body: str) -> None:
    program = tmp_path / "docker"
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))


def test_no_docker_installed_is_named_with_the_package_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no docker on it
    with pytest.raises(BackendError, match="docker not found\n    hint: apt-get install"):
        docker(["ps"], recover=_never_called)


def test_an_engine_not_running_is_named_with_how_to_start_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _docker_on_path(monkeypatch, tmp_path, "echo 'Cannot connect to the Docker daemon at "
                    "unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1")
    with pytest.raises(BackendError, match="engine is not running\n    hint: start dockerd"):
        docker(["ps"], recover=_never_called)


def test_an_engine_that_does_not_answer_names_the_call_and_its_wait(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _docker_on_path(monkeypatch, tmp_path, "exec /bin/sleep 30")
    with pytest.raises(BackendError, match="docker inspect did not answer in 0.5 s\n    hint"):
        docker(["inspect", "x"], timeout=0.5, recover=lambda: None, stuck_after=0.2)


def test_a_failed_call_is_returned_with_its_status_for_the_caller_to_judge(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _docker_on_path(monkeypatch, tmp_path, "echo 'Error: No such network: n1' >&2; exit 1")
    done = docker(["network", "rm", "n1"], recover=_never_called)
    assert (done.returncode, done.stderr) == (1, "Error: No such network: n1\n")
