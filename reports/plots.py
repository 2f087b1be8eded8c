"""`python -m reports.plots`: one PNG per benchmark figure, next to its JSON in reports/bench/.

Each picture shows the figure beside the reference the same run measured (the
ratio is what the README quotes), so a reader sees at once how far a target is.
Benchmarks not run yet are skipped. Pure drawing: the numbers come from the JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first

BENCH = Path("reports/bench")


def _bars(title: str, labels: list[str], values: list[float], unit: str,
          note: str = "") -> Any:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    bars = ax.barh(labels, values, color=["#4c72b0", "#dd8452", "#55a868", "#c44e52",
                                           "#8172b3", "#937860", "#da8bc3"][:len(values)])
    ax.bar_label(bars, labels=[f"{_number(v)} {unit}" for v in values], padding=3, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, max(values) * 1.3 if values and max(values) > 0 else 1)
    ax.invert_yaxis()
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def connector(data: dict[str, Any]) -> Any:
    dns = data["dns"]  # the data plane's figures have their own picture
    return _bars("DNS queries answered per second (dnsperf, same run)",
                 ["connector", "unbound (reference)"],
                 [dns["connector_qps_median"], dns["unbound_qps_median"]], "q/s",
                 f"ratio {dns['ratio']} (target {dns['target_ratio']})")


def dataplane(data: dict[str, Any]) -> Any:
    d = data["dataplane"]
    names = ["direct-routed", "direct-geneve", "zia-routed", "zia-geneve", "kernel"]
    return _bars("Packets per second through each path (same sender, same run)",
                 [n if n != "kernel" else "kernel forwarding (reference)" for n in names],
                 [d["pps_median"][n] for n in names], "pps",
                 "ratios: " + ", ".join(f"{n} {r}x" for n, r in d["ratio_to_kernel"].items())
                 + f" (targets: Direct {d['targets']['direct']}x, "
                   f"tunnel {d['targets']['tunnel']}x)")


def core(data: dict[str, Any]) -> Any:
    d = data["decisions"]
    return _bars(f"First-packet decision, {d['rules']} rules (µs, lower is better)",
                 ["indexed core", "flow cache hit", "naive scan (reference)"],
                 [d["first_packet_last_rule_us"], d["flow_cache_hit_us"],
                  d["naive_scan_last_rule_us"]], "µs",
                 f"{d['speedup_vs_naive_scan']}x faster than the naive scan")


def lab(data: dict[str, Any]) -> Any:
    rows = data["results"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = [r["topology"] for r in rows]
    y = range(len(rows))
    ax.barh([i - 0.2 for i in y], [r["up_median_s"] for r in rows], 0.4, label="up")
    ax.barh([i + 0.2 for i in y], [r["down_median_s"] for r in rows], 0.4, label="down")
    ax.axvline(10, color="#c44e52", linestyle="--", linewidth=1, label="target (10 s)")
    ax.set_yticks(list(y), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds, median")
    ax.set_title("cclab up / down per topology (netns)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def docker(data: dict[str, Any]) -> Any:
    return _bars("make lab-up, minimal (seconds)",
                 ["docker cold", "docker warm", "netns (reference)"],
                 [data["docker_cold_up_s"], data["docker_warm_up_median_s"],
                  data["netns_up_median_s"]], "s",
                 f"warm docker is {data['docker_to_netns_up_ratio']}x netns")


def flood(data: dict[str, Any]) -> Any:
    labels, values = [], []
    for r in data["results"]:
        labels += [f"{r['profile']}: engine", f"{r['profile']}: tcpreplay"]
        values += [r["engine_pps"], r["tcpreplay_pps"]]
    ratios = ", ".join(f"{r['profile']} {r['ratio']}x" for r in data["results"])
    return _bars("Packets per second on one veth, one CPU", labels, values, "pps",
                 f"engine / tcpreplay: {ratios} (targets 1.0x and 500k pps)")


def failover(data: dict[str, Any]) -> Any:
    return _bars("Connector killed mid-traffic: silence of a running flow",
                 ["gap (median)", "health-check window (reference)"],
                 [data["gap_median_s"], data["health_window_s"]], "s",
                 f"ratio {data['ratio_to_window']}")


PLOTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "connector": connector, "core": core, "lab": lab, "docker": docker, "flood": flood,
    "failover": failover, "connector-dataplane": dataplane,
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
