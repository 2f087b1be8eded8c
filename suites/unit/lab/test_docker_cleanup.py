"""What destroy() does about a network docker will not remove although no container is
left on it (a stale endpoint count, moby#42119): restart the engine, but only when it is
the lab's and runs nothing."""

from __future__ import annotations

import pytest

from lab.backends.docker_engine import may_restart

pytestmark = pytest.mark.unit


def test_the_engine_is_restarted_only_when_it_is_the_labs_and_runs_nothing() -> None:
    assert may_restart(1234, [])
    assert not may_restart(1234, ["c0ffee"])  # someone's container would stop
    assert not may_restart(None, [])  # an engine the lab did not start
