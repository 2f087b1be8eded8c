"""The cluster's binding log (`core.cluster`) kept in one SQLite file its members share.

Compare-and-set append is one `BEGIN IMMEDIATE` transaction: the writer lock is
taken, the log's length checked against the position the member believes,
and the entry written only if they agree. WAL mode lets readers catch up while
a member appends. In the lab the file sits in the lab's run folder, which every
connector of the lab reaches (a namespace shares the host's files; a container
mounts the folder); in a real deployment the same interface would sit on a peer
protocol.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from connector.core.cluster import LogEntry
from connector.io.sqlite_wal import open_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS binding_log (
    position INTEGER PRIMARY KEY, op TEXT NOT NULL, member TEXT NOT NULL, pool TEXT NOT NULL,
    name TEXT NOT NULL, addr INTEGER NOT NULL, at REAL NOT NULL);
"""


class SqliteBindingLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_wal(path, SCHEMA, what="the cluster's binding log", step="cluster")

    def append_at(self, position: int, entry: LogEntry) -> bool:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if self._length() != position:
                db.execute("ROLLBACK")
                return False
            db.execute("INSERT INTO binding_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (position, entry.op, entry.member, entry.pool, entry.name, entry.addr,
                        entry.at))
            db.execute("COMMIT")
            return True
        except sqlite3.Error:
            db.execute("ROLLBACK")
            raise

    def since(self, position: int) -> list[LogEntry]:
        rows = self._db.execute("SELECT op, member, pool, name, addr, at FROM binding_log "
                                "WHERE position >= ? ORDER BY position", (position,))
        return [LogEntry(*row) for row in rows]

    def __len__(self) -> int:
        return self._length()

    def _length(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM binding_log")
        return int(row.fetchone()[0])

    def close(self) -> None:
        self._db.close()
