"""One way to open the service's SQLite files: WAL mode, autocommit, schema ensured.

WAL lets readers (a peer catching up on the binding log, metrics) proceed while a
writer commits; `synchronous=NORMAL` is durable across a process crash, which is
what the service promises (a host crash may lose the last transactions).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from connector.errors import ServiceError

OPEN_WAIT_S = 10.0


def open_wal(path: Path, schema: str, *, what: str, step: str) -> sqlite3.Connection:
    """Open (creating folder, file and tables) or raise `ServiceError` naming `what`."""
    deadline = time.monotonic() + OPEN_WAIT_S
    while True:
        try:
            return _open(path, schema)
        except sqlite3.OperationalError as exc:
            # Two connectors starting together: switching a new file to WAL needs it
            # alone for a moment, and SQLite answers "locked" at once rather than wait.
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise ServiceError(f"cannot open {what}", step=step,
                                   detail=f"{path}: {exc}") from exc
            time.sleep(0.05)
        except (OSError, sqlite3.Error) as exc:
            raise ServiceError(f"cannot open {what}", step=step,
                               detail=f"{path}: {exc}") from exc


def _open(path: Path, schema: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
    except sqlite3.Error:
        db.close()
        raise
    return db
