"""`cclab`: bring labs up and down, look inside them, validate topologies."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from lab.backends import BACKENDS, backend_of, engine_instances, get_backend
from lab.catalog import running_instances, topology_path
from lab.cli_attack import add_attack_commands
from lab.cli_cloud import add_commands
from lab.cli_scenario import add_scenario_commands
from lab.cli_signals import interrupt
from lab.errors import LabError, TopologyError
from lab.imports.problems import ExportError
from lab.names import valid_instance
from lab.plan import build_plan, render_plan
from lab.report import describe_lab
from lab.schema import load_topology
from lab.steps import Step

EXIT_INPUT = 2
TREX_PPS = 1_000_000.0  # `cclab traffic --engine trex` without --pps


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:  # everything after `--` is the command for `cclab exec`
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1:]
    args = _parser().parse_args(argv)
    args.command = command
    try:
        return int(args.func(args) or 0)
    except (TopologyError, ExportError) as exc:
        print(f"cclab: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except LabError as exc:
        print(f"cclab: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cclab", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    up = _command(sub, "up", cmd_up, "bring a topology up")
    up.add_argument("topology", help="a shipped topology name (e.g. minimal) or a YAML path")
    up.add_argument("--backend", default="netns", choices=BACKENDS)
    up.add_argument("--name", help="lab instance name (default: the topology's name)")
    up.add_argument("--clean", action="store_true", help="remove a stale lab of that name first")
    up.add_argument("-v", "--verbose", action="store_true", help="print every step")
    down = _command(sub, "down", cmd_down, "remove a lab and everything it made")
    down.add_argument("--name", help="lab instance (default: the one running)")
    down.add_argument("--all", action="store_true", help="every lab on this machine")
    status = _command(sub, "status", cmd_status, "what is running")
    status.add_argument("--name")
    status.add_argument("--json", action="store_true")
    ex = _command(sub, "exec", cmd_exec, "run a command in a node")
    ex.add_argument("node")
    ex.add_argument("cmd", nargs="*", help="-- CMD ARGS... (after a --)")
    ex.add_argument("--name")
    cap = _command(sub, "capture", cmd_capture, "capture packets on a node's interface")
    cap.add_argument("node")
    cap.add_argument("iface")
    cap.add_argument("-o", "--output", required=True, type=Path)
    cap.add_argument("--duration", type=float, required=True, help="seconds (at most 3600)")
    cap.add_argument("--name")
    ren = _command(sub, "render", cmd_render, "write a topology as a docker-compose file")
    ren.add_argument("topology")
    ren.add_argument("--backend", default="docker", choices=["docker"])
    ren.add_argument("--name", help="lab instance name (default: the topology's name)")
    ren.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    ready = _command(sub, "ready", cmd_ready,
                     "after `docker compose up`: add the host's part, wait for every node")
    ready.add_argument("topology")
    ready.add_argument("--name", help="lab instance name (default: the topology's name)")
    gra = _command(sub, "graph", cmd_graph, "draw a topology (SVG, PNG, PDF or DOT)")
    gra.add_argument("topology")
    gra.add_argument("-o", "--output", type=Path, required=True, help="e.g. topo.svg")
    tra = _command(sub, "traffic", cmd_traffic, "send a flood profile from inside a node")
    tra.add_argument("action", choices=["run"])
    tra.add_argument("profile", help="legit-mix, spoofed-flood, dns-flood, dns-reflection, "
                     "syn-flood or ssh-attempts")
    tra.add_argument("--node", help="native: the node it leaves from")
    tra.add_argument("--to", help="the address it aims at")
    tra.add_argument("--count", type=int, default=100_000, help="frames at most")
    tra.add_argument("--duration", type=float, default=10.0, help="seconds at most (<= 120)")
    tra.add_argument("--engine", default="native", choices=["native", "trex"],
                     help="native: the PACKET_MMAP engine inside a node; trex: the same "
                     "profile as a TRex STL profile, on a TRex server (--server)")
    tra.add_argument("--server", help="trex: the TRex server (its port 0 sends)")
    tra.add_argument("--pps", type=float, default=None,
                     help="frames a second: native, paced (default: its top rate); trex, "
                     f"its rate (default {TREX_PPS:,.0f})")
    tra.add_argument("--name")
    val = _command(sub, "validate", cmd_validate, "check a topology; print its plan")
    val.add_argument("topology")
    val.add_argument("--plan", action="store_true", help="also print the steps")
    add_commands(sub, _command)
    add_attack_commands(sub, _command, _progress)
    add_scenario_commands(sub, _command)
    return parser


def _command(sub: Any, name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(func=func)
    return parser


def cmd_validate(args: argparse.Namespace) -> int:
    topo = load_topology(topology_path(args.topology))
    links = len(topo.networks)
    print(f"{topo.source}: ok: lab '{topo.name}', {len(topo.nodes)} nodes, {links} links")
    if args.plan:
        print(render_plan(build_plan(topo)), end="")
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from lab.graph import draw

    topo = load_topology(topology_path(args.topology))
    print(f"cclab: wrote {draw(topo, args.output)}", file=sys.stderr)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from lab.compose import ComposePaths, compose_text
    from lab.names import LabNames

    topo = load_topology(topology_path(args.topology))
    instance = _valid_name(args.name or topo.name)
    source = (topo.source or Path(args.topology)).resolve()
    where = (args.output.resolve().parent if args.output else Path.cwd())
    topodir = os.path.relpath(source.parent, where)
    paths = ComposePaths(topodir if topodir.startswith(("/", ".")) else f"./{topodir}",
                         source.name, str(LabNames(instance).run_dir))
    text = compose_text(topo, instance, paths)
    if args.output:
        args.output.write_text(text)
        print(f"cclab: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_ready(args: argparse.Namespace) -> int:
    from lab.backends.docker import DockerBackend

    topo = load_topology(topology_path(args.topology))
    instance = _valid_name(args.name or topo.name)
    started = time.monotonic()
    DockerBackend(instance).adopt(topo, progress=_progress(False))
    print(f"cclab: lab '{instance}' is ready ({time.monotonic() - started:.2f} s)",
          file=sys.stderr)
    return 0


def _valid_name(instance: str) -> str:
    if not valid_instance(instance):
        raise LabError(f"invalid lab name '{instance}'\n    hint: lower-case letters, digits, '-'")
    return instance


def cmd_up(args: argparse.Namespace) -> int:
    topo = load_topology(topology_path(args.topology))
    instance = _valid_name(args.name or topo.name)
    plan = build_plan(topo, instance)
    backend = get_backend(args.backend, instance)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, interrupt)
    started = time.monotonic()
    print(f"cclab: bringing up '{topo.name}' as lab '{instance}' on {args.backend} "
          f"({len(plan)} steps)", file=sys.stderr)
    try:
        backend.deploy(topo, plan, clean=args.clean, progress=_progress(args.verbose))
    except KeyboardInterrupt:
        print("\ncclab: interrupted; everything this run made was removed", file=sys.stderr)
        return 130
    print(f"cclab: lab '{instance}' is up in {time.monotonic() - started:.2f} s", file=sys.stderr)
    print(describe_lab(topo, backend.status()))
    return 0


def _progress(verbose: bool) -> Any:
    last: list[str] = [""]

    def show(n: int, total: int, step: Step) -> None:
        phase = _PHASES.get(type(step).__name__, "wiring links, addresses and routes")
        if verbose:
            print(f"  [{n:3d}/{total}] {step.describe()}", file=sys.stderr)
        elif phase != last[0]:
            print(f"  [{n:3d}/{total}] {phase}", file=sys.stderr)
        last[0] = phase

    return show


_PHASES = {
    "CreateNamespace": "creating namespaces", "SetSysctl": "creating namespaces",
    "LoadNftables": "loading nftables rulesets", "StartService": "starting services",
    "WaitReady": "waiting for services to be ready",
}


def _instance(args: argparse.Namespace) -> str:
    if args.name:
        return str(args.name)
    running = running_instances()
    if len(running) == 1:
        return running[0]
    if not running:
        raise LabError("no lab is running\n    hint: `make lab-up` or `cclab up minimal`")
    raise LabError(f"several labs are running ({', '.join(running)})\n    hint: add --name")


def cmd_down(args: argparse.Namespace) -> int:
    targets = (sorted(set(running_instances()) | engine_instances()) if args.all
               else [args.name] if args.name else None)
    if targets is None:
        running = running_instances()
        targets = running if len(running) <= 1 else [_instance(args)]
    for instance in targets:
        backend = backend_of(instance)
        removed = backend.destroy()
        what = "namespaces" if backend.name == "netns" else "containers"
        print(f"cclab: lab '{instance}' removed ({len(removed)} {what})", file=sys.stderr)
    if not targets:
        print("cclab: no lab running; nothing to remove", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = backend_of(_instance(args)).status()
    topo = load_topology(status["topology"]) if status.get("topology") else None
    if args.json:
        print(json.dumps(_status_json(topo, status), indent=2))
    elif topo is not None:
        print(describe_lab(topo, status))
    else:
        print(json.dumps(status, indent=2))
    return 0


def _status_json(topo: Any, status: dict[str, Any]) -> dict[str, Any]:
    from lab.report import nodes_json

    return {**status, "nodes": nodes_json(topo) if topo is not None else []}


def cmd_exec(args: argparse.Namespace) -> int:
    cmd = args.command or args.cmd
    if not cmd:
        raise LabError("no command given\n    hint: cclab exec NODE -- CMD ARGS...")
    result = backend_of(_instance(args)).exec(args.node, cmd, timeout=3600)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


def cmd_traffic(args: argparse.Namespace) -> int:
    from lab.traffic.flood.in_lab import run_flood

    if not 0 < args.duration <= 120 or not 0 < args.count <= 50_000_000:
        raise LabError("--duration must be 0..120 s and --count 1..50,000,000\n"
                       "    hint: floods are bounded; run again for more")
    if args.pps is not None and args.pps <= 0:
        raise LabError("--pps must be above 0\n    hint: leave it out for the top rate")
    if args.engine == "trex":
        from lab.traffic.flood.trex_run import run_on_trex

        print(run_on_trex(args.profile, args.to, args.server, args.duration,
                          args.pps or TREX_PPS))
        return 0
    if not args.node or not args.to:
        raise LabError("--node and --to are needed\n"
                       "    hint: cclab traffic run dns-flood --node workload1 --to 198.18.53.53")
    report = run_flood(backend_of(_instance(args)), args.node, args.profile, args.to,
                       args.count, args.duration, pps=args.pps)
    print(json.dumps(report))
    return 0


def cmd_capture(args: argparse.Namespace) -> int:
    if not 0 < args.duration <= 3600:
        raise LabError("--duration must be between 0 and 3600 seconds")
    capture = backend_of(_instance(args)).start_capture(args.node, args.iface, args.output)
    print(f"cclab: capturing {args.node}/{args.iface} for {args.duration:g} s -> {args.output}",
          file=sys.stderr)
    try:
        time.sleep(args.duration)
    finally:
        capture.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
