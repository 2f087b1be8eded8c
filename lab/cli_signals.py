"""Ctrl-C, SIGTERM and SIGHUP in a command that builds a lab (`cclab up`, `cclab attack`):
unwind as KeyboardInterrupt, so what the command built is torn down.

Only in the command's own process: pyroute2 forks helpers that inherit the handler
and are stopped with SIGTERM; a helper must just exit, never run the teardown.
"""

from __future__ import annotations

import os
from typing import NoReturn

_MAIN_PID = os.getpid()


def interrupt(signum: int, frame: object) -> NoReturn:
    if os.getpid() != _MAIN_PID:
        os._exit(128 + signum)
    raise KeyboardInterrupt
