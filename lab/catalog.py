"""Finding topologies by name and labs by instance."""

from __future__ import annotations

from pathlib import Path

from lab.errors import LabError
from lab.names import RUN_ROOT

TOPOLOGY_DIR = Path(__file__).parent / "topologies"


def topology_path(name_or_path: str) -> Path:
    """`minimal` -> lab/topologies/minimal.yaml; a path is taken as it is."""
    given = Path(name_or_path)
    if given.suffix in (".yaml", ".yml") or given.exists():
        return given
    candidate = TOPOLOGY_DIR / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    raise LabError(f"no topology '{name_or_path}'\n    hint: shipped topologies: "
                   f"{', '.join(shipped_topologies())}")


def shipped_topologies() -> list[str]:
    return sorted(p.stem for p in TOPOLOGY_DIR.glob("*.yaml"))


def running_instances() -> list[str]:
    if not RUN_ROOT.exists():
        return []
    return sorted(p.name for p in RUN_ROOT.iterdir() if (p / "state.json").exists())
