"""`python -m reports.figures`: the benchmark figures as one table, written to docs/figures.md.

Every row comes from a reports/bench/*.json file that `make bench` wrote: the
figure in plain words, its value, the reference the same run measured and its
value, the ratio as the JSON records it, the target and whether it is met.
reports/summary.py puts the same rows in SUMMARY.md and reports/plots.py draws
the same targets, so the three cannot disagree. `figures`, `table` and `page`
are pure; `main` reads the JSONs and docs/figures-notes.md (the hand-written
part) and writes docs/figures.md.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

BENCH = Path("reports/bench")
NOTES = Path("docs/figures-notes.md")
OUT = Path("docs/figures.md")

Op = Literal[">=", "<", "<="]
_SIGN = {">=": "≥", "<": "<", "<=": "≤"}


@dataclass(frozen=True, slots=True)
class Target:
    """`value op bound`; a bound in "x" is on the ratio to the reference, else on the value."""

    op: Op
    bound: float
    unit: str
    source: str  # where the target comes from, shown under the table

    @property
    def on_ratio(self) -> bool:
        return self.unit == "x"

    def met(self, figure: Figure) -> bool:
        measured = figure.ratio if self.on_ratio else figure.value
        if measured is None:
            return False
        if self.op == ">=":
            return measured >= self.bound
        return measured < self.bound if self.op == "<" else measured <= self.bound

    def at(self, figure: Figure) -> float | None:
        """The bound in the figure's own unit (where a picture draws the target line)."""
        if not self.on_ratio:
            return self.bound
        if figure.reference_value is None:
            return None
        return self.bound * figure.reference_value

    def text(self) -> str:
        bound = f"{self.bound:.1f}" if self.on_ratio else _number(self.bound)
        return f"{_SIGN[self.op]} {bound}{_unit(self.unit)}"


@dataclass(frozen=True, slots=True)
class Figure:
    """One row of the table."""

    bench: str  # the JSON file's stem (reports/bench/BENCH.json)
    key: str  # which figure of that file, for the pictures and the tests
    name: str
    value: float
    unit: str
    reference: str = ""  # what the same run measured to compare with, in words
    reference_value: float | None = None  # in the figure's unit
    ratio: float | None = None  # value / reference, as the JSON records it
    faster: bool = False  # the ratio is reference / value ("N x faster")
    targets: tuple[Target, ...] = ()
    also: str = ""  # a second value in the same cell (a lab's `down` beside its `up`)

    @property
    def met(self) -> bool | None:
        """None without a target; else whether every target is met."""
        if not self.targets:
            return None
        return all(t.met(self) for t in self.targets)


# The one table of targets: every figure's target is declared here and nowhere else.
# The table of docs/figures.md and SUMMARY.md shows them (below), reports/plots.py draws
# them, and the benchmarks that record a target in their JSON take it from here
# (bench/bench_connector.py, bench_dataplane.py, bench_flood.py, bench_attack.py). The
# failover target is no constant: it is the run's own health-check window (failover()).
CORE_ISSUE = "the core issue, as quoted in bench/bench_core.py"
FLOOD_ISSUE = ("issue #7, as quoted in bench/bench_flood.py (flood.json records whether each "
               "is met: `meets_1x_tcpreplay`, `meets_500k_pps`)")
ISSUE_19 = ("issue #19 (batched I/O), which raised issue #4's 0.5x, 0.5x and 0.2x (met) to "
            "these")
TARGETS: dict[str, tuple[Target, ...]] = {
    "connector:dns": (Target(">=", 1.0, "x", ISSUE_19),),  # of unbound's answers per second
    "connector:direct": (Target(">=", 0.8, "x", ISSUE_19),),  # of kernel forwarding's pps
    "connector:tunnel": (Target(">=", 0.6, "x", ISSUE_19),),  # the same, the ZIA tunnels
    # the lab's GWLB, of the connector's GENEVE Direct pps (a flood then measures the connector)
    "lab:gwlb": (Target(">=", 2.0, "x", "issue 19: the lab's GWLB at least twice the "
                        "connector's GENEVE rate, so the connector is what a flood measures"),),
    "core:decision": (Target("<", 50, "µs", CORE_ISSUE),),  # first packet, either case
    "core:flow-cache-hit": (Target("<", 2, "µs", CORE_ISSUE),),
    "core:pool-allocations": (Target(">=", 100_000, "allocations/s", CORE_ISSUE),),
    "core:bytes-per-binding": (Target("<", 300, "bytes", CORE_ISSUE),),
    "flood:engine": (Target(">=", 1.0, "x", FLOOD_ISSUE),  # of tcpreplay --topspeed
                     Target(">=", 500_000, "pps", FLOOD_ISSUE)),
    "lab:cloud-up": (Target("<", 10, "s", "the cloud topologies' target, from the README's "
                            "figures table (and the line reports/plots.py drew) before this "
                            "page replaced it"),),
    "attack:run": (Target("<", 60, "s", "issue 16: `cclab attack` on any shipped cloud "
                          "topology (bench/bench_attack.py)"),),
    "tests:make-test": (Target("<", 12, "min", "issue 19: `make test` under 12 minutes on "
                               "this machine, every tier run"),
                        Target("<", 30, "min", "the developers' guide: `make test` stays under "
                               "30 minutes (CI has 90)")),
}
CLOUD_PREFIXES = ("aws-", "azure-", "gcp-", "insecure")  # the cloud topologies (lab:cloud-up)
FAILOVER_SOURCE = ("the health-check window failover.json records (interval x unhealthy "
                   "threshold: the GWLB cannot move a flow sooner), plus one ping interval, "
                   "the measurement's resolution")


def bound(key: str, unit: str = "") -> float:
    """The bound of the table's target `key` (the one in `unit` when it has several), for
    a benchmark to record beside its figure."""
    return next(t.bound for t in TARGETS[key] if not unit or t.unit == unit)


PATHS = {  # the data plane's paths, in plain words
    "direct-routed": "routed Direct",
    "direct-routed-kernel": "routed Direct, kernel fast path",
    "direct-geneve": "GENEVE Direct",
    "direct-geneve-kernel": "GENEVE Direct, kernel fast path",
    "zia-routed": "ZIA tunnel, routed",
    "zia-routed-kernel": "ZIA tunnel, routed, kernel fast path",
    "zia-geneve": "ZIA tunnel, GENEVE",
    "zia-geneve-kernel": "ZIA tunnel, GENEVE, kernel fast path",
}


def _num(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _one(bench: str, key: str, name: str, value: float | None, unit: str,
         **rest: Any) -> list[Figure]:
    return [] if value is None else [Figure(bench, key, name, value, unit, **rest)]


def _median(count: object, what: str = "") -> str:
    """"median of 5 rounds", or nothing if the JSON does not say how many."""
    return f"median of {count}{' ' + what if what else ''}" if isinstance(count, int) else ""


def _paren(*parts: str) -> str:
    """" (a, b)" of the parts that are not empty."""
    shown = [p for p in parts if p]
    return f" ({', '.join(shown)})" if shown else ""


def core(doc: Mapping[str, Any]) -> list[Figure]:
    d, p = doc.get("decisions", {}), doc.get("pool", {})
    size = (f"{d['rules']:,} rules and {d['fqdn_entries']:,} FQDN entries"
            if isinstance(d.get("rules"), int) and isinstance(d.get("fqdn_entries"), int)
            else "the benchmark's rules")
    bindings = f", {p['bindings']:,} names" if isinstance(p.get("bindings"), int) else ""
    return [
        *_one("core", "decision",
              f"Forwarding decision, first packet, {size}, the last rule matches",
              _num(d, "first_packet_last_rule_us"), "µs",
              reference="a naive scan of the same rules",
              reference_value=_num(d, "naive_scan_last_rule_us"),
              ratio=_num(d, "speedup_vs_naive_scan"), faster=True,
              targets=TARGETS["core:decision"]),
        *_one("core", "decision-no-match",
              "Forwarding decision, first packet, no rule matches (default ZIA)",
              _num(d, "first_packet_no_match_us"), "µs", targets=TARGETS["core:decision"]),
        *_one("core", "flow-cache-hit", "Flow-cache hit (a known flow)",
              _num(d, "flow_cache_hit_us"), "µs", targets=TARGETS["core:flow-cache-hit"]),
        *_one("core", "pool-allocations", f"Synthetic pool allocations{bindings}",
              _num(p, "allocations_per_s"), "allocations/s",
              targets=TARGETS["core:pool-allocations"]),
        *_one("core", "bytes-per-binding",
              "Memory per synthetic binding (names included, tracemalloc)",
              _num(p, "bytes_per_binding"), "bytes", targets=TARGETS["core:bytes-per-binding"]),
    ]


def connector(doc: Mapping[str, Any]) -> list[Figure]:
    return [*_dns(doc.get("dns", {})), *_batching(doc.get("batching", {})),
            *_dataplane(doc.get("dataplane", {}))]


def _batching(d: Mapping[str, Any]) -> list[Figure]:
    """What batching a query's two system calls would save, per datagram (no target:
    the figure that decided whether the listener batches; docs/decisions.md)."""
    batch = f"{d['batch']} a call" if isinstance(d.get("batch"), int) else "batched"
    rows = []
    for part, one, many, call in (("receive", "recvmsg", "recvmmsg", "Receiving"),
                                  ("send", "sendto", "sendmmsg", "Sending")):
        figures = d.get(part, {})
        rows += _one("connector", f"batching-{part}",
                     f"{call} a DNS datagram in CPython, {many} ({batch}, ctypes)"
                     + _paren(_median(d.get("rounds"), "rounds")),
                     _num(figures, f"{many}_us_median"), "µs",
                     reference=f"{one}, one a call (what the listener does)",
                     reference_value=_num(figures, f"{one}_us_median"),
                     ratio=_num(figures, "ratio"))
    return rows


def _dns(d: Mapping[str, Any]) -> list[Figure]:
    """The connector with its kernel answers (runtime.dns_fast_path, the target's row),
    and the same connector answering every query in user space."""
    share = d.get("kernel_answered_share")
    kernel = f"{share:.0%} answered by the kernel" if isinstance(share, float) else ""
    reference = {"reference": "unbound, same client, path and names",
                 "reference_value": _num(d, "unbound_qps_median")}
    return [*_one("connector", "dns", "Connector DNS answers per second, with "
                  "runtime.dns_fast_path" + _paren("dnsperf", kernel,
                                                   _median(d.get("rounds"), "rounds")),
                  _num(d, "connector_qps_median"), "q/s", **reference,
                  ratio=_num(d, "ratio"), targets=TARGETS["connector:dns"]),
            *_one("connector", "dns-user-space", "Connector DNS answers per second, user "
                  "space alone" + _paren("dnsperf", _median(d.get("rounds"), "rounds")),
                  _num(d, "connector_user_space_qps_median"), "q/s", **reference,
                  ratio=_num(d, "user_space_ratio"))]


GWLB_PATHS = {"lab-gwlb": "its fast path on", "lab-gwlb-user": "user space only"}


def _dataplane(d: Mapping[str, Any]) -> list[Figure]:
    pps, ratios = (d.get(k, {}) for k in ("pps_median", "ratio_to_kernel"))
    rows = []
    for path in [*PATHS, *sorted(set(pps) - set(PATHS) - set(GWLB_PATHS) - {"kernel"})]:
        kind = "direct" if path.startswith("direct") else "tunnel" if path.startswith("zia") \
            else ""
        rows += _one("connector", path, f"Packets per second through the connector, "
                     f"{PATHS.get(path, path)}{_paren(_median(d.get('rounds'), 'rounds'))}",
                     _num(pps, path), "pps",
                     reference="kernel forwarding through a router namespace",
                     reference_value=_num(pps, "kernel"), ratio=_num(ratios, path),
                     targets=TARGETS.get(f"connector:{kind}", ()))
    to_connector = d.get("gwlb_to_connector", {})
    for path, how in GWLB_PATHS.items():
        rows += _one("connector", path, f"Packets per second through the lab's GWLB, {how}"
                     f"{_paren(_median(d.get('rounds'), 'rounds'))}", _num(pps, path), "pps",
                     reference="the connector's GENEVE Direct, same sender and flows",
                     reference_value=_num(pps, "direct-geneve"),
                     ratio=_num(to_connector, path),
                     targets=TARGETS["lab:gwlb"] if path == "lab-gwlb" else ())
    return rows


def flood(doc: Mapping[str, Any]) -> list[Figure]:
    rows = []
    for r in doc.get("results", []):
        what = f"{r.get('profile', '?')}, {r.get('frame_bytes', '?')}-byte frames"
        reference = {"reference": "tcpreplay --topspeed, the same frames",
                     "reference_value": _num(r, "tcpreplay_pps")}
        rows += _one("flood", str(r.get("profile")), f"Flood engine, {what}"
                     + _paren("one CPU, one veth", _median(r.get("runs"))),
                     _num(r, "engine_pps"), "pps", ratio=_num(r, "ratio"),
                     targets=TARGETS["flood:engine"], **reference)
        rows += _one("flood", f"{r.get('profile')} tx-ring",
                     f"Flood engine's PACKET_MMAP TX ring sender, {what}"
                     + _paren("not the default sender"), _num(r, "tx_ring_pps"), "pps",
                     ratio=_num(r, "tx_ring_ratio"), **reference)
    return rows


def lab_flood(doc: Mapping[str, Any]) -> list[Figure]:
    """What a DNS flood at the engine's top rate delivers to the connectors through each
    lab (no target: the figure says where a lab on this machine saturates)."""
    rows = []
    for r in doc.get("results", []):
        run = r.get("median_run", {})
        busiest = (f"busiest {run['busiest']} at {run['busiest_cpu']} of a core, "
                   f"softirq {run['softirq_cpu']}" if "busiest" in run else "")
        rows += _one("lab_flood", str(r.get("topology")),
                     f"DNS flood through {r.get('topology')}: frames reaching the connectors"
                     + _paren("netns", busiest, _median(r.get("runs")),
                              f"first flood {r['first_carried']}x" if "first_carried" in r
                              else ""),
                     _num(run, "connectors_rx_pps"), "frames/s",
                     reference="what workload1 sent (the flood engine, same run)",
                     reference_value=_num(run, "sent_pps"), ratio=_num(r, "carried_median"))
    return rows


def failover(doc: Mapping[str, Any]) -> list[Figure]:
    window, ping = _num(doc, "health_window_s"), _num(doc, "ping_interval_s") or 0.0
    runs = doc.get("runs")
    count = _median(len(runs) if isinstance(runs, list) else None)
    return _one("failover", "gap", "Connector killed mid-traffic: longest silence of a running flow"
                + _paren("gwlb lab", count), _num(doc, "gap_median_s"), "s",
                reference="the GWLB's health-check window", reference_value=window,
                ratio=_num(doc, "ratio_to_window"),
                targets=() if window is None else
                (Target("<=", round(window + ping, 3), "s", FAILOVER_SOURCE),))


def lab(doc: Mapping[str, Any]) -> list[Figure]:
    backend = doc.get("backend", "netns")
    rows = []
    for r in doc.get("results", []):
        name = str(r.get("topology", "?"))
        down = _num(r, "down_median_s")
        rows += _one("lab", name, f"`cclab up` / `cclab down` {name}"
                     + _paren(str(backend), _median(r.get("runs"))), _num(r, "up_median_s"), "s",
                     also="" if down is None else f"{_number(down)} s",
                     targets=TARGETS["lab:cloud-up"] if name.startswith(CLOUD_PREFIXES) else ())
    return rows


def docker(doc: Mapping[str, Any]) -> list[Figure]:
    topology, runs = doc.get("topology", "minimal"), _paren(_median(doc.get("runs")))
    up, down = _num(doc, "docker_warm_up_median_s"), _num(doc, "docker_down_median_s")
    netns_down = _num(doc, "netns_down_median_s")
    return [
        *_one("docker", "cold-up",
              f"`make lab-up` {topology} on docker, cold (the images built first)",
              _num(doc, "docker_cold_up_s"), "s"),
        *_one("docker", "warm-up", f"`make lab-up` {topology} on docker, warm{runs}", up, "s",
              reference="the same on netns", reference_value=_num(doc, "netns_up_median_s"),
              ratio=_num(doc, "docker_to_netns_up_ratio")),
        *_one("docker", "warm-up-cpu",
              f"the machine's CPU-seconds for that warm `make lab-up`{runs}",
              _num(doc, "docker_warm_up_cpu_median_s"), "CPU-s",
              reference="the same on netns",
              reference_value=_num(doc, "netns_up_cpu_median_s"),
              ratio=_ratio(doc, "docker_warm_up_cpu_median_s", "netns_up_cpu_median_s")),
        *_one("docker", "down", f"`cclab down` {topology} on docker{runs}", down, "s",
              reference="the same on netns", reference_value=netns_down,
              ratio=None if down is None or not netns_down else round(down / netns_down, 2)),
    ]


def _ratio(doc: Mapping[str, Any], over: str, under: str) -> float | None:
    top, bottom = _num(doc, over), _num(doc, under)
    return None if top is None or not bottom else round(top / bottom, 2)


def attack(doc: Mapping[str, Any]) -> list[Figure]:
    backend = doc.get("backend", "netns")
    rows = []
    for r in doc.get("results", []):
        name = str(r.get("topology", "?"))
        rows += _one("attack", name, f"`cclab attack` {name}"
                     + _paren(str(backend), _median(r.get("runs"))),
                     _num(r, "attack_median_s"), "s",
                     reference="`cclab up` + `cclab down` of it, same run",
                     reference_value=_num(r, "up_down_median_s"),
                     ratio=_num(r, "attack_to_up_down"), targets=TARGETS["attack:run"])
    return rows


def scenarios(doc: Mapping[str, Any]) -> list[Figure]:
    """Per fault of each shipped scenario: time to detect and to recover, each against
    the bound its scenario file writes (none: no target)."""
    rows = []
    for r in doc.get("results", []):
        name, kind = str(r.get("scenario", "?")), str(r.get("fault", "?"))
        source = f"the bound in lab/scenarios/{name}.yaml"
        for key, what in (("detect", "time to detect"), ("recover", "time to recover")):
            bound = _num(r, f"{key}_bound_s")
            by = f", by {r.get('detect_by')}" if key == "detect" else ""
            params = ", ".join(f"{k} {v}" for k, v in (r.get("params") or {}).items())
            rows += _one("scenarios", f"{name}/{r.get('index', 0)}/{key}",
                         f"Scenario {name}: {kind}{' (' + params + ')' if params else ''}, {what}"
                         + _paren(f"{r.get('topology', 'gwlb')} lab{by}"),
                         _num(r, f"{key}_s"), "s",
                         targets=() if bound is None else (Target("<=", bound, "s", source),))
    return rows


def tests(doc: Mapping[str, Any]) -> list[Figure]:
    """`make test`'s wall time (`make test-times` from the last run's JUnit), against the
    issue's and the guide's bounds; each tier's wall time beside it, without a target."""
    count = doc.get("tests")
    wall = _num(doc, "wall_s")
    rows = _one("tests", "make-test", f"`make test` wall time ({count:,} tests)"
                if isinstance(count, int) else "`make test` wall time",
                None if wall is None else round(wall / 60, 1), "min",
                targets=TARGETS["tests:make-test"])
    for tier, t in sorted((doc.get("tiers") or {}).items()):
        rows += _one("tests", f"tier-{tier}", f"`make test`, {tier} tier's wall time"
                     + _paren(f"{t.get('tests')} tests, overlapping the other tiers"),
                     _num(t, "wall_s"), "s")
    return rows


# Each benchmark file (reports/bench/NAME.json) and its rows, in the table's order.
BUILDERS: dict[str, Callable[[Mapping[str, Any]], list[Figure]]] = {
    "connector": connector, "core": core, "flood": flood, "failover": failover, "lab": lab,
    "docker": docker, "attack": attack, "scenarios": scenarios, "tests": tests,
    "lab_flood": lab_flood,
}


def figures(bench: Mapping[str, Mapping[str, Any]]) -> list[Figure]:
    """Every row, from {file stem: its JSON document}; files no builder knows are left out."""
    return [f for name, build in BUILDERS.items() if name in bench for f in build(bench[name])]


def unknown(bench: Iterable[str]) -> list[str]:
    """Benchmark files the table has no rows for (a builder is missing above)."""
    return sorted(set(bench) - set(BUILDERS))


def table(rows: Iterable[Figure]) -> list[str]:
    """The rows as a Markdown table."""
    lines = ["| figure | value | reference (same run) | ratio | target | met |",
             "|---|---|---|---|---|---|"]
    for f in rows:
        value = f"{_number(f.value)}{_unit(f.unit)}" + (f" / {f.also}" if f.also else "")
        reference = f.reference
        if f.reference_value is not None:
            reference += f": {_number(f.reference_value)}{_unit(f.unit)}"
        ratio = "" if f.ratio is None else (
            f"{f.ratio:g}x faster" if f.faster else f"{f.ratio:.2f}x")
        target = " and ".join(t.text() for t in f.targets)
        met = {None: "", True: "yes", False: "**no**"}[f.met]
        cells = [f.name, value, reference, ratio, target, met]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def sources(rows: Iterable[Figure]) -> list[str]:
    """Where the targets of these rows come from, one line each."""
    seen: dict[str, list[str]] = {}
    for f in rows:
        for t in f.targets:
            texts = seen.setdefault(t.source, [])
            if t.text() not in texts:
                texts.append(t.text())
    return [f"- {', '.join(texts)}: {source}" for source, texts in seen.items()]


def page(bench: Mapping[str, Mapping[str, Any]], notes: str, pictures: Iterable[str]) -> str:
    """docs/figures.md: generated header and table, then the notes as written."""
    rows = figures(bench)
    links = ", ".join(f"[`{name}.json`](../reports/bench/{name}.json)" for name in sorted(bench))
    lines = [
        "<!-- Generated by `python -m reports.figures` (`make figures`; `make bench` runs it",
        "     after the benchmarks and plots) from reports/bench/*.json and",
        "     docs/figures-notes.md. Do not edit by hand: edit the notes, or the rows in",
        "     reports/figures.py, and run `make figures`. -->",
        "",
        "# Figures",
        "",
        "Generated by `make bench` (or `make figures`, from the JSONs already there) from "
        f"{links}; not written by hand, so it says what the last measurement said.",
        "Each benchmark measures its reference in the same run, so a ratio holds on a "
        "shared, noisy machine. The ratio is the one the JSON records: for DNS and the data "
        "plane, the median of each round's own ratio, so not always value / reference.",
        "",
        *table(rows),
    ]
    missing = unknown(bench)
    if missing:
        lines += ["", "No rows yet (reports/figures.py has no builder) for: "
                  + ", ".join(f"`{name}.json`" for name in missing) + "."]
    lines += ["", "Where the targets come from:", "", *sources(rows), "", notes.strip(), ""]
    shown = sorted(pictures)
    if shown:
        lines += ["## Pictures", "",
                  "Each next to its JSON in `reports/bench/`; a red dashed line is a target "
                  "(across the bar it applies to).", ""]
        for name in shown:
            lines += [f"![{name}](../reports/bench/{name}.png)", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _unit(unit: str) -> str:
    return unit if unit == "x" else f" {unit}"


def load(folder: Path = BENCH) -> dict[str, Any]:
    """{file stem: JSON document} of every benchmark file in `folder`."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def main() -> int:
    bench = load()
    if not bench:
        print(f"reports.figures: no {BENCH}/*.json; run `make bench` first", file=sys.stderr)
        return 2
    pictures = [p.stem for p in sorted(BENCH.glob("*.png"))]
    OUT.write_text(page(bench, NOTES.read_text(), pictures))
    print(f"reports.figures: wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
