"""What the lab benchmarks share: a lab of their own for one measurement, and one JSON
file that several benchmarks write their parts of."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lab.api import LabHandle, bring_up

T = TypeVar("T")


def in_lab(topology: Path, prefix: str, measure: Callable[[LabHandle], T]) -> T:
    """Bring `topology` up under a name of its own, measure, and always take it down."""
    lab = bring_up(topology, instance=f"{prefix}-{os.getpid()}"[:31])
    try:
        return measure(lab)
    finally:
        lab.down()


def write_part(out: Path, key: str, figures: dict[str, Any]) -> None:
    """Set `key` in the JSON file `out`, keeping the parts other benchmarks wrote."""
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**previous, key: figures}, indent=2) + "\n")
