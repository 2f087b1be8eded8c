"""`cclab scenario run FILE`: play a failure scenario, measure it, check its bounds.

    cclab scenario run lab/scenarios/connector-kill.yaml
    cclab scenario run lab/scenarios/*.yaml --name my-gwlb   # on a running lab
    cclab scenario check lab/scenarios/*.yaml                # validate only

Writes reports/scenarios/NAME.json and NAME.png (the timeline picture); exits 0
when every bound held, 1 when one failed, 2 on a bad scenario file, 130 when
interrupted (Ctrl-C, SIGTERM, SIGHUP). Faults are always undone, and a lab the
command brought up is always taken down.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from lab.backends import BACKENDS
from lab.cli_signals import interrupt
from lab.scenario.errors import ScenarioFileError

REPORTS = Path("reports/scenarios")
EXIT_INTERRUPTED = 130


def add_scenario_commands(sub: Any, command: Any) -> None:
    scen = command(sub, "scenario", cmd_scenario,
                   "play failure scenarios (faults on a timeline) and check their bounds")
    scen.add_argument("action", choices=["run", "check"])
    scen.add_argument("files", nargs="+", type=Path, help="scenario YAML files")
    scen.add_argument("--backend", default="netns", choices=BACKENDS)
    scen.add_argument("--name", help="a running lab of the scenario's topology to use "
                      "(default: bring one up, and down after)")
    scen.add_argument("-o", "--output", type=Path, default=REPORTS,
                      help=f"where results go (default {REPORTS})")


def cmd_scenario(args: argparse.Namespace) -> int:
    from lab.scenario.schema import load_scenario

    scenarios, problems = [], []
    for file in args.files:
        try:
            scenarios.append(load_scenario(file))
        except ScenarioFileError as exc:
            problems.append(str(exc))
    if problems:
        print("cclab: " + "\n".join(problems), file=sys.stderr)
        return 2
    if args.action == "check":
        for s in scenarios:
            print(f"{s.source}: ok: scenario '{s.name}' on {s.topology}, "
                  f"{len(s.timeline)} fault(s)")
        return 0
    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return _run_all(scenarios, args)
    except KeyboardInterrupt:
        print("cclab: interrupted; the fault in play was undone"
              + ("" if args.name else " and the lab removed"), file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _run_all(scenarios: list[Any], args: argparse.Namespace) -> int:
    from lab.scenario.results import text, to_json
    from lab.scenario.runner import lab_for, play

    failed = 0
    by_topology: dict[str, list[Any]] = {}
    for s in scenarios:
        by_topology.setdefault(s.topology, []).append(s)
    if args.name and len(by_topology) > 1:
        from lab.errors import LabError

        raise LabError(f"--name {args.name}: one running lab, but the scenarios need "
                       f"{len(by_topology)} topologies ({', '.join(by_topology)})\n"
                       "    hint: run each topology's scenarios apart, or leave out --name")
    for topology, group in by_topology.items():
        lab, ours = lab_for(group[0], name=args.name, backend=args.backend, say=_say)
        try:
            for scenario in group:
                _say(f"scenario {scenario.name}: playing ({scenario.traffic.duration_s:g} s)")
                run = play(lab, scenario, _say)
                data = to_json(run)
                written = write(data, args.output)
                sys.stdout.write(text(run))
                _say(f"cclab: wrote {', '.join(str(p) for p in written)}")
                failed += 0 if run.outcome.passed else 1
        finally:
            if ours:
                _say(f"scenario: taking the {topology} lab down")
                lab.down()
    return 1 if failed else 0


def write(data: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{data['scenario']}.json"
    out.write_text(json.dumps(data, indent=1) + "\n")
    try:
        from reports.scenario_timeline import draw
    except ImportError:  # matplotlib is a dev dependency
        return [out]
    return [out, draw(data, folder / f"{data['scenario']}.png")]
