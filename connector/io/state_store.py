"""Bindings that survive a restart: SQLite in WAL mode, one row per binding.

Every synthetic binding is written before its DNS answer leaves, so a restart
or a crash loses no address a workload was given (issue: state that survives).
Learned address->name entries are written too, with their expiry; a sub-location's
(issue 18) in a table of their own, keyed by the location as well, so a restart
gives each location back its own names and no other's.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

from connector.io.sqlite_wal import open_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS pool_bindings (
    pool TEXT NOT NULL, name TEXT NOT NULL, addr INTEGER NOT NULL, last_use REAL NOT NULL,
    PRIMARY KEY (pool, addr));
CREATE UNIQUE INDEX IF NOT EXISTS pool_binding_names ON pool_bindings (pool, name);
CREATE TABLE IF NOT EXISTS learned (
    addr INTEGER NOT NULL, name TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (addr, name));
CREATE TABLE IF NOT EXISTS located_learned (
    location TEXT NOT NULL, addr INTEGER NOT NULL, name TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (location, addr, name));
"""


class StateStore:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "bindings.sqlite3"
        self._db = open_wal(self.path, SCHEMA, what="the state store", step="state")

    def save_binding(self, pool: str, name: str, addr: IPv4Address, last_use: float) -> None:
        """The binding of `addr` in `pool` is now `name` (replaces a reclaimed one)."""
        with self._db:
            self._db.execute("DELETE FROM pool_bindings WHERE pool = ? AND (addr = ? OR name = ?)",
                             (pool, int(addr), name))
            self._db.execute("INSERT INTO pool_bindings VALUES (?, ?, ?, ?)",
                             (pool, name, int(addr), last_use))

    def bindings(self) -> Iterator[tuple[str, str, int, float]]:
        """(pool, name, address, last use), oldest use first (the LRU order to rebuild)."""
        yield from self._db.execute(
            "SELECT pool, name, addr, last_use FROM pool_bindings ORDER BY last_use, addr")

    def save_learned(self, addr: IPv4Address, name: str, expires: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO learned VALUES (?, ?, ?)",
                         (int(addr), name, expires))

    def save_located(self, location: str, addr: IPv4Address, name: str, expires: float
                     ) -> None:
        """A name learned in a sub-location (never the own location: `save_learned`)."""
        self._db.execute("INSERT OR REPLACE INTO located_learned VALUES (?, ?, ?, ?)",
                         (location, int(addr), name, expires))

    def located(self, now: float) -> Iterator[tuple[str, int, str, float]]:
        """(location, address, name, expiry) of the sub-locations' unexpired names."""
        yield from self._db.execute(
            "SELECT location, addr, name, expires FROM located_learned WHERE expires > ? "
            "ORDER BY expires", (now,))

    def learned(self, now: float) -> Iterator[tuple[int, str, float]]:
        yield from self._db.execute(
            "SELECT addr, name, expires FROM learned WHERE expires > ? ORDER BY expires", (now,))

    def close(self) -> None:
        self._db.close()
