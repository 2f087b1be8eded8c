"""Docker CLI calls that notice a deadlocked engine instead of waiting on it for good.

A call that has not returned after STUCK_AFTER_S (and again at its own timeout)
has the lab's engine checked for libnetwork's deadlock (lab.backends.docker_engine
`recover_if_deadlocked`). If the engine was deadlocked it has been restarted, and
the call raises `EngineRestarted`; `call_retrying` then runs an idempotent call
once more on the fresh engine. Before this, one deadlock in a teardown made every
later docker call of the run wait its full timeout and fail, which in CI took the
rest of the docker tier with it.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable, Sequence

from lab.backends import docker_engine
from lab.errors import BackendError

STUCK_AFTER_S = 65.0  # Go marks waits of a minute: a deadlock that began with the call shows
Recover = Callable[[], str | None]  # restarts a deadlocked engine; says what it found


class EngineRestarted(BackendError):
    """The call hung on a deadlocked engine, which was restarted."""


class EngineRestartedWarning(UserWarning):
    """A run went on after the lab restarted a deadlocked engine (shown in pytest's
    warnings summary, so a green run still says it happened)."""


def run(argv: Sequence[str], *, timeout: float, input_text: str | None = None,
        recover: Recover = docker_engine.recover_if_deadlocked,
        stuck_after: float = STUCK_AFTER_S) -> subprocess.CompletedProcess[str]:
    """`argv` to its end, as `subprocess.run(..., timeout=timeout)` would; raises
    `subprocess.TimeoutExpired` likewise, or `EngineRestarted`."""
    checks = sorted({min(stuck_after, timeout), timeout})
    stdin = subprocess.PIPE if input_text is not None else subprocess.DEVNULL
    with subprocess.Popen(list(argv), stdin=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        waited, pending = 0.0, input_text
        for until in checks:
            try:
                out, err = proc.communicate(pending, timeout=until - waited)
            except subprocess.TimeoutExpired:
                waited, pending = until, None
                found = recover()
                if found is not None:
                    proc.kill()
                    proc.communicate()
                    raise EngineRestarted(f"{' '.join(argv[:3])} hung: {found}",
                                          backend="docker") from None
                continue
            return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
        proc.kill()
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(list(argv), timeout, out, err)


def call_retrying(argv: Sequence[str], *, timeout: float,
                  recover: Recover = docker_engine.recover_if_deadlocked,
                  stuck_after: float = STUCK_AFTER_S) -> subprocess.CompletedProcess[str]:
    """`run`, once more after an engine restart: for calls that may be repeated (queries,
    removals). The restart is reported on stderr and as an `EngineRestartedWarning`."""
    try:
        return run(argv, timeout=timeout, recover=recover, stuck_after=stuck_after)
    except EngineRestarted as restarted:
        report(restarted)
        return run(argv, timeout=timeout, recover=recover, stuck_after=stuck_after)


def docker(argv: Sequence[str], *, timeout: float = 120,
           recover: Recover = docker_engine.recover_if_deadlocked,
           stuck_after: float = STUCK_AFTER_S) -> subprocess.CompletedProcess[str]:
    """`docker ARGV` by `call_retrying`, whatever its exit status; a docker that is not
    installed, an engine that is not running or does not answer is a BackendError with a
    hint (the lab's docker backend and its slices ask through this one door)."""
    try:
        done = call_retrying(["docker", *argv], timeout=timeout, recover=recover,
                             stuck_after=stuck_after)
    except FileNotFoundError as exc:
        raise BackendError("docker not found\n    hint: apt-get install docker.io",
                           backend="docker") from exc
    except subprocess.TimeoutExpired as exc:
        raise BackendError(f"docker {argv[0]} did not answer in {exc.timeout:g} s\n    hint: "
                           "the engine is overloaded or stuck; see its log",
                           backend="docker") from exc
    if "Cannot connect to the Docker daemon" in done.stderr:
        raise BackendError("the docker engine is not running\n    hint: start dockerd "
                           "(`dockerd &` or `systemctl start docker`)", backend="docker")
    return done


def report(restarted: EngineRestarted) -> None:
    print(f"cclab: {restarted}", file=sys.stderr, flush=True)
    warnings.warn(str(restarted), EngineRestartedWarning, stacklevel=3)
