"""A played scenario's timeline as a PNG: the faults (shaded while they hold), when each
was detected and recovered, and every background flow's attempts, one row a method
(green got through, red lost) so each method's gap is seen at once.

Pure drawing from the JSON `cclab scenario run` writes (lab/scenario/results.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first

OK, LOST, FAULT = "#55a868", "#c44e52", "#dd8452"


def draw(data: dict[str, Any], path: Path) -> Path:
    methods: list[str] = data["methods"]
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.55 * len(methods)))
    rows = {m: i for i, m in enumerate(reversed(methods))}
    for method, _seq, t0, t1, ok, *_detail_and_port in data["attempts"]:
        y = rows[method]
        ax.plot([t0, max(t1, t0 + 0.03)], [y, y], color=OK if ok else LOST,
                linewidth=6 if ok else 9, solid_capstyle="butt")
    top = len(methods) - 0.4
    for fault in data["faults"]:
        start, end = fault["start_s"], fault["undone_s"]
        if end is not None:
            ax.axvspan(start, end, color=FAULT, alpha=0.15)
        ax.axvline(start, color=FAULT, linewidth=1.5)
        params = " ".join(f"{k}={v}" for k, v in fault.get("params", {}).items())
        ax.text(start, top, f" {fault['kind']} {','.join(fault['nodes'])} {params}", fontsize=8,
                va="bottom", color="#8c4a16")
        if fault["detect_s"] is not None:
            ax.axvline(start + fault["detect_s"], color="#4c72b0", linestyle="--", linewidth=1)
        if fault["recover_s"] is not None and fault["recover_s"] > 0:
            ax.axvline(start + fault["recover_s"], color="#8172b3", linestyle=":", linewidth=1.5)
    ax.set_yticks(list(rows.values()), list(rows))
    ax.set_ylim(-0.6, len(methods) + 0.2)
    ax.set_xlim(0, data["duration_s"])
    ax.set_xlabel("seconds after the background flows started")
    verdict = "bounds held" if data["passed"] else "a bound FAILED"
    ax.set_title(f"scenario {data['scenario']} ({data['topology']}): {verdict}\n"
                 "green: flow got through, red: lost; shaded: fault holds; "
                 "dashed: detected; dotted: recovered", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
