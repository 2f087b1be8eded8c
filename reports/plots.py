"""`python -m reports.plots`: one PNG per benchmark figure, next to its JSON in reports/bench/.

Each picture shows the figure beside the reference the same run measured (the
ratio is what docs/figures.md quotes), and each figure that has a target a red
dashed mark across its bar at the target, so a reader sees at once how far a
target is. The targets are reports/figures.py's one table (TARGETS, the rows of
docs/figures.md), marks and notes alike; docker's figures have none.
Benchmarks not run yet are skipped. Pure drawing: the numbers come from the JSON.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

from reports import figures

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first

BENCH = Path("reports/bench")
NOTE_WIDTH = 125  # characters of a picture's note on one line (7-point type, 7 inches)
COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"]
TARGET: dict[str, Any] = {"color": "#c44e52", "linestyle": "--", "linewidth": 1.5}


def marks(figure: figures.Figure | None) -> list[float]:
    """Where the figure's targets fall in its own unit (a ratio's, times its reference)."""
    if figure is None:
        return []
    return [x for t in figure.targets if (x := t.at(figure)) is not None]


def _goals(targets: Sequence[figures.Target]) -> str:
    """The targets as the table writes them ("≥ 0.5x"), for a picture's note."""
    return " and ".join(t.text() for t in targets) or "none"


def _bars(title: str, labels: list[str], values: list[float], unit: str,
          note: str = "", targets: Sequence[list[float]] = (), ax: Any = None,
          log: bool = False, room: float = 1.3) -> Any:
    """Horizontal bars; targets[i] are the target marks across bar i."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.2))
    bars = ax.barh(labels, values, color=COLOURS[:len(values)])
    ax.bar_label(bars, labels=[f"{_number(v)} {unit}" for v in values], padding=3, fontsize=8)
    ax.set_title(title, fontsize=10)
    _target_marks(ax, targets)
    every = [*values, *(x for xs in targets for x in xs)]
    top = max(every) if every and max(every) > 0 else 1
    if log:
        ax.set_xscale("log")
        low = min(v for v in every if v > 0) if any(v > 0 for v in every) else 0.1
        ax.set_xlim(low / 3, top * 8)
    else:
        ax.set_xlim(0, top * room)
    ax.invert_yaxis()
    if fig is not None:
        lines = textwrap.wrap(note, NOTE_WIDTH)  # a long note on lines of its own
        if lines:
            fig.text(0.01, 0.01, "\n".join(lines), fontsize=7, color="#555555")
        fig.tight_layout(rect=(0, 0.05 + 0.035 * max(0, len(lines) - 1), 1, 1))
    return fig


def _target_marks(ax: Any, targets: Sequence[list[float]], offset: float = 0.0,
                  height: float = 0.8) -> None:
    """A dashed line across bar i at each of targets[i], and one legend entry for them all."""
    drawn = False
    for i, xs in enumerate(targets):
        for x in xs:
            ax.vlines(x, i + offset - height / 2, i + offset + height / 2,
                      label=None if drawn else "target", **TARGET)
            drawn = True
    if drawn:
        ax.legend(fontsize=7, loc="lower right")


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _find(rows: list[figures.Figure], words: str) -> figures.Figure | None:
    return next((f for f in rows if words in f.name), None)


def _keyed(rows: list[figures.Figure]) -> dict[str, figures.Figure]:
    return {f.key: f for f in rows}


def connector(data: dict[str, Any]) -> Any:
    dns = data["dns"]  # the data plane's figures have their own picture
    row = _keyed(figures.connector({"dns": dns})).get("dns")
    return _bars("DNS queries answered per second (dnsperf, same run)",
                 ["connector", "unbound (reference)"],
                 [dns["connector_qps_median"], dns["unbound_qps_median"]], "q/s",
                 f"ratio {dns['ratio']} (target {_goals(figures.TARGETS['connector:dns'])}"
                 " unbound)",
                 targets=[marks(row), []])


def dataplane(data: dict[str, Any]) -> Any:
    d = data["dataplane"]
    rows = _keyed(figures.connector({"dataplane": d}))
    names = [n for n in ["direct-routed", "direct-routed-kernel", "direct-geneve",
                         "direct-geneve-kernel", "zia-routed", "zia-routed-kernel", "zia-geneve",
                         "zia-geneve-kernel", "lab-gwlb",
                         "lab-gwlb-user", "kernel"]
             if n in d["pps_median"]]
    gwlb = d.get("gwlb_to_connector", {})
    return _bars("Packets per second through each path (same sender, same run)",
                 [n if n != "kernel" else "kernel forwarding (reference)" for n in names],
                 [d["pps_median"][n] for n in names], "pps",
                 "ratios: " + ", ".join(f"{n} {r}x" for n, r in d["ratio_to_kernel"].items()
                                        if n not in gwlb)
                 + f" (targets: Direct {_goals(figures.TARGETS['connector:direct'])}, "
                   f"tunnel {_goals(figures.TARGETS['connector:tunnel'])} the kernel)"
                 + "".join(f"; {n} {r}x GENEVE Direct" for n, r in gwlb.items())
                 + (f" (target {_goals(figures.TARGETS['lab:gwlb'])})" if gwlb else ""),
                 targets=[marks(rows.get(n)) for n in names])


def core(data: dict[str, Any]) -> Any:
    d = data["decisions"]
    rows = _keyed(figures.core(data))
    pool = "pool" in data
    fig, axes = plt.subplots(1, 3 if pool else 1, figsize=(11 if pool else 7, 3.2),
                             gridspec_kw={"width_ratios": [3, 1, 1]} if pool else None,
                             squeeze=False)
    _bars(f"First-packet decision, {d['rules']} rules (µs, log scale, lower is better)",
          ["indexed core", "flow cache hit", "naive scan (reference)"],
          [d["first_packet_last_rule_us"], d["flow_cache_hit_us"],
           d["naive_scan_last_rule_us"]], "µs",
          targets=[marks(rows.get("decision")), marks(rows.get("flow-cache-hit")), []],
          ax=axes[0][0], log=True)
    if pool:
        p = data["pool"]
        _bars("Pool allocations/s", [""], [p["allocations_per_s"]], "/s",
              targets=[marks(rows.get("pool-allocations"))], ax=axes[0][1], room=1.8)
        axes[0][1].ticklabel_format(axis="x", style="plain")
        axes[0][1].tick_params(axis="x", labelrotation=30, labelsize=7)
        _bars("Bytes per binding", [""], [p["bytes_per_binding"]], "B",
              targets=[marks(rows.get("bytes-per-binding"))], ax=axes[0][2], room=1.6)
    fig.text(0.01, 0.01, f"{d['speedup_vs_naive_scan']}x faster than the naive scan",
             fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def lab(data: dict[str, Any]) -> Any:
    rows = data["results"]
    # One line: every cloud topology has the same target (figures.TARGETS["lab:cloud-up"]).
    return _per_topology(f"cclab up / down per topology ({data.get('backend', 'netns')})",
                         rows, figures.lab(data), {"up": "up_median_s",
                                                   "down": "down_median_s"},
                         "target: cloud topologies up < {x:g} s", figsize=(7, 3.6))


def _per_topology(title: str, rows: list[dict[str, Any]], built: list[figures.Figure],
                  series: dict[str, str], target_label: str,
                  figsize: tuple[float, float]) -> Any:
    """Two bars per topology (`series`: legend label -> JSON key, the first the figure),
    and a line at each distinct target the rows' figures have."""
    keyed = _keyed(built)
    fig, ax = plt.subplots(figsize=figsize)
    names = [r["topology"] for r in rows]
    y = range(len(rows))
    (first, key), (second, other) = series.items()
    ax.barh([i - 0.2 for i in y], [r[key] for r in rows], 0.4, label=first)
    ax.barh([i + 0.2 for i in y], [r[other] for r in rows], 0.4, label=second)
    bounds = sorted({x for n in names for x in marks(keyed.get(n))})
    for x in bounds:
        ax.axvline(x, label=target_label.format(x=x), **TARGET)
    ax.set_xlim(0, max([*(r[k] for r in rows for k in (key, other)), *bounds]) * 1.15)
    ax.set_yticks(list(y), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds, median")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def docker(data: dict[str, Any]) -> Any:
    """A run with CCLAB_BENCH_COLD=0 has no cold bring-up: its bar is left out."""
    bars = [("docker cold", data.get("docker_cold_up_s")),
            ("docker warm", data["docker_warm_up_median_s"]),
            ("netns (reference)", data["netns_up_median_s"])]
    kept = [(label, value) for label, value in bars if value is not None]
    return _bars("make lab-up, minimal (seconds)", [label for label, _ in kept],
                 [value for _, value in kept], "s",
                 f"warm docker is {data['docker_to_netns_up_ratio']}x netns (no target)")


def flood(data: dict[str, Any]) -> Any:
    keyed = _keyed(figures.flood(data))
    labels, values, targets = [], [], []
    for r in data["results"]:
        labels += [f"{r['profile']}: engine", f"{r['profile']}: tcpreplay"]
        values += [r["engine_pps"], r["tcpreplay_pps"]]
        targets += [marks(keyed.get(r["profile"])), []]
    ratios = ", ".join(f"{r['profile']} {r['ratio']}x" for r in data["results"])
    return _bars("Packets per second on one veth, one CPU", labels, values, "pps",
                 f"engine / tcpreplay: {ratios} (targets "
                 f"{_goals(figures.TARGETS['flood:engine'])}, x: of tcpreplay)",
                 targets=targets)


def attack(data: dict[str, Any]) -> Any:
    # One line: every row has the same target (figures.TARGETS["attack:run"]).
    return _per_topology(f"cclab attack per cloud topology ({data.get('backend', 'netns')})",
                         data["results"], figures.attack(data),
                         {"cclab attack": "attack_median_s",
                          "cclab up + down (reference)": "up_down_median_s"},
                         "target: under {x:g} s", figsize=(7, 3.8))


def failover(data: dict[str, Any]) -> Any:
    row = _keyed(figures.failover(data)).get("gap")
    return _bars("Connector killed mid-traffic: silence of a running flow",
                 ["gap (median)", "health-check window (reference)"],
                 [data["gap_median_s"], data["health_window_s"]], "s",
                 f"ratio {data['ratio_to_window']} (target: the window, within one "
                 f"{data.get('ping_interval_s', 0) * 1000:g} ms ping)",
                 targets=[marks(row), []])


def lab_flood(data: dict[str, Any]) -> Any:
    labels, values = [], []
    for r in data["results"]:
        run = r["median_run"]
        labels += [f"{r['topology']}: sent", f"{r['topology']}: at the connectors"]
        values += [run["sent_pps"], run["connectors_rx_pps"]]
    busiest = ", ".join(f"{r['median_run']['busiest']} {r['median_run']['busiest_cpu']:.2f}"
                        for r in data["results"])
    return _bars("DNS flood through each lab (netns): frames per second", labels, values,
                 "fps", f"busiest node in each, in cores: {busiest} (no target)")


PLOTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "connector": connector, "core": core, "lab": lab, "docker": docker, "flood": flood,
    "failover": failover, "connector-dataplane": dataplane, "attack": attack,
    "lab_flood": lab_flood,
}
SOURCE = {"connector-dataplane": ("connector", "dataplane")}  # picture -> (JSON, its key)


def main() -> int:
    for name, draw in PLOTS.items():
        json_name, key = SOURCE.get(name, (name, None))
        source = BENCH / f"{json_name}.json"
        if not source.exists():
            continue
        data = json.loads(source.read_text())
        if key is not None and key not in data:
            continue
        figure = draw(data)
        figure.savefig(BENCH / f"{name}.png", dpi=110)
        plt.close(figure)
        print(f"plots: {BENCH / f'{name}.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
