"""Which conntrack zones a docker lab holds: reserved when the host's part is added, kept
in the lab's run folder, given back when `destroy` removes that folder.

Under an exclusive lock (flock on RUN_ROOT/.ct-zones.lock) a lab reads every other
lab's reservation and takes the first free block (lab.conntrack_zones), then writes
its own before the lock is released, so two labs starting at once never share a zone.
"""

from __future__ import annotations

from pathlib import Path

from lab.conntrack_zones import free_block
from lab.errors import BackendError
from lab.file_lock import exclusive
from lab.names import RUN_ROOT, LabNames

RESERVATION = "ct-zones"  # the file in a lab's run folder: "FIRST COUNT"
LOCK = RUN_ROOT / ".ct-zones.lock"


def reserve(instance: str, count: int) -> range:
    """The lab's block of `count` zones: the one it holds, else a free one, now reserved."""
    held = reserved(instance)
    if held is not None and len(held) == count:
        return held
    with exclusive(LOCK):
        taken = others_reserved(instance)
        chosen = free_block(count, taken)
        if chosen is None:
            raise BackendError(f"no {count} free conntrack zones left for lab '{instance}': "
                               f"{len(taken)} labs hold blocks\n    hint: `cclab status` "
                               "lists the labs; `cclab down --name LAB` removes one",
                               backend="docker")
        path = LabNames(instance).run_dir / RESERVATION
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{chosen.start} {len(chosen)}\n")
    return chosen


def reserved(instance: str) -> range | None:
    return _read(LabNames(instance).run_dir / RESERVATION)


def others_reserved(instance: str) -> list[range]:
    return [block for path in sorted(RUN_ROOT.glob(f"*/{RESERVATION}"))
            if path.parent.name != instance and (block := _read(path)) is not None]


def _read(path: Path) -> range | None:
    try:
        first, count = (int(x) for x in path.read_text().split())
    except (OSError, ValueError):
        return None  # not reserved, a folder being removed, or a torn file
    return range(first, first + count)
