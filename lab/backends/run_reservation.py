"""A share of something host-wide that a lab holds in a file of its run folder.

Labs on one host share address space and conntrack zones. Each lab writes what it
holds to RUN_ROOT/INSTANCE/FILE; `destroy` removing the run folder gives it back.
`take` runs under an exclusive lock (flock on RUN_ROOT/.FILE.lock) from reading the
other labs' files until the lab's own is written, so two labs starting at once never
choose the same share. A file that cannot be read (a folder being removed, a torn
write) holds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from lab.file_lock import exclusive
from lab.names import RUN_ROOT

Share = TypeVar("Share")


@dataclass(frozen=True, slots=True)
class RunReservation(Generic[Share]):
    file: str  # the file's name in each lab's run folder
    parse: Callable[[str], Share]  # raises ValueError on a bad text
    text: Callable[[Share], str]
    root: Path = RUN_ROOT  # where the labs' run folders are

    @property
    def lock(self) -> Path:
        return self.root / f".{self.file}.lock"

    def _path(self, instance: str) -> Path:
        return self.root / instance / self.file

    def held(self, instance: str) -> Share | None:
        """What `instance` holds, or None (not reserved, or not readable)."""
        return self._read(self._path(instance))

    def others(self, instance: str) -> list[Share]:
        """What every other lab on this host holds."""
        return [share for path in sorted(self.root.glob(f"*/{self.file}"))
                if path.parent.name != instance and (share := self._read(path)) is not None]

    def take(self, instance: str, choose: Callable[[list[Share]], Share]) -> Share:
        """`choose(what the others hold)`, written as `instance`'s, under the lock.
        `choose` raises when nothing is free; then nothing is written."""
        with exclusive(self.lock):
            chosen = choose(self.others(instance))
            path = self._path(instance)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{self.text(chosen)}\n")
        return chosen

    def _read(self, path: Path) -> Share | None:
        try:
            return self.parse(path.read_text().strip())
        except (OSError, ValueError):
            return None
