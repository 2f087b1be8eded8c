"""One way to open the service's SQLite files: WAL mode, autocommit, schema ensured.

WAL lets readers (a peer catching up on the binding log, metrics) proceed while a
writer commits; `synchronous=NORMAL` is durable across a process crash, which is
what the service promises (a host crash may lose the last transactions).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from connector.errors import ServiceError


def open_wal(path: Path, schema: str, *, what: str, step: str) -> sqlite3.Connection:
    """Open (creating folder, file and tables) or raise `ServiceError` naming `what`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise ServiceError(f"cannot open {what}", step=step, detail=f"{path}: {exc}") from exc
    return db
