"""`cclab attack` and `cclab diff`: a cloud's rules attacked on real packets, and what a
change to them opens.

    cclab attack my-vpc.yaml            # build, replay every attack, print the matrix
    cclab diff before.yaml after.yaml   # exit 1 if the change opens anything

`attack` writes matrix.json, matrix.md and junit.xml under reports/attack/NAME/ and
exits 0 when every attack is blocked, 1 when any gets through, 2 on bad input (or
when a probe never reached the cloud: the lab could not answer). The lab is always
torn down, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.cli_signals import interrupt
from lab.errors import LabError, TopologyError
from yamlissues import Issue

if TYPE_CHECKING:
    from lab.attack.matrix import Matrix

REPORTS = Path("reports/attack")
NAME_LIMIT = 31


def add_attack_commands(sub: Any, command: Any, progress: Callable[[bool], Any]) -> None:
    attack = command(sub, "attack", lambda a: cmd_attack(a, progress),
                     "build a topology, replay the attacks on real packets, print the matrix "
                     "(exit 0: all blocked, 1: one got through, 2: bad input)")
    attack.add_argument("topology", help="a shipped topology name or a YAML path "
                        "(`cclab import` writes one for your cloud)")
    _lab_options(attack)
    attack.add_argument("-o", "--output", type=Path,
                        help="where the matrix goes (default reports/attack/TOPOLOGY)")
    diff = command(sub, "diff", lambda a: cmd_diff(a, progress),
                   "two topologies (or their matrix.json) side by side: what opens, what "
                   "closes (exit 1 if anything opens)")
    diff.add_argument("before", help="a topology, or the matrix.json `cclab attack` wrote")
    diff.add_argument("after", help="the same, after the change")
    _lab_options(diff)


def _lab_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="netns", choices=["netns", "docker"])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every step")


def cmd_attack(args: argparse.Namespace, progress: Callable[[bool], Any]) -> int:
    from lab.attack.matrix import junit, markdown, text

    matrix = _attacked(args.topology, args, progress)
    folder = args.output or REPORTS / matrix.topology
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "matrix.json").write_text(matrix.to_json())
    (folder / "matrix.md").write_text(markdown(matrix))
    (folder / "junit.xml").write_text(junit(matrix))
    sys.stdout.write(text(matrix))
    for row in matrix.disagreements:
        print(f"cclab: DISAGREE {row.key}: the rules say "
              f"{'it gets through' if row.expected else 'blocked'} ({row.rule}), the packets "
              f"say {'it got through' if row.observed else 'blocked'} ({row.evidence}): an "
              "emulator bug or a cloud gotcha worth knowing", file=sys.stderr)
    print(f"cclab: wrote {folder}/matrix.json, matrix.md, junit.xml", file=sys.stderr)
    return int(matrix.exit_code())


def cmd_diff(args: argparse.Namespace, progress: Callable[[bool], Any]) -> int:
    from lab.attack.diff import compare, render

    before = _matrix(args.before, args, progress)
    after = _matrix(args.after, args, progress)
    diff = compare(before, after)
    sys.stdout.write(render(diff))
    return diff.exit_code()


def _matrix(source: str, args: argparse.Namespace, progress: Callable[[bool], Any]
            ) -> Matrix:
    from lab.attack.matrix import Matrix

    if source.endswith(".json"):
        try:
            return Matrix.from_json(Path(source).read_text())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TopologyError([Issue(source, "(file)", f"not a matrix `cclab attack` wrote "
                                       f"({exc})", "give a topology, or the "
                                       "reports/attack/NAME/matrix.json it wrote")]) from exc
    return _attacked(source, args, progress)


def _attacked(topology: str, args: argparse.Namespace, progress: Callable[[bool], Any]
              ) -> Matrix:
    from lab.api import up
    from lab.attack.expect import NoAttackSurface, plan
    from lab.attack.replay import replay
    from lab.catalog import topology_path
    from lab.lint.roles import connector_roles
    from lab.schema import load_topology

    path = topology_path(topology)
    topo = load_topology(path)
    try:
        planned = plan(topo, connector_roles(topo, path.parent))
    except NoAttackSurface as exc:
        raise TopologyError([Issue(str(path), "(topology)", f"nothing to attack: {exc}",
                                   "cloud topologies (lab/topologies/, `cclab import`) "
                                   "have both")]) from exc
    instance = f"attack-{topo.name}"[:NAME_LIMIT].rstrip("-")
    print(f"cclab: attacking '{topo.name}' ({len(planned.cells)} probes) as lab '{instance}' "
          f"on {args.backend}", file=sys.stderr)
    started = time.monotonic()
    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with up(path, instance=instance, backend=args.backend, clean=True,
                progress=progress(args.verbose)) as lab:
            print(f"cclab: up in {time.monotonic() - started:.1f} s; replaying", file=sys.stderr)
            matrix = replay(lab, planned, topo.name)
    except KeyboardInterrupt:
        raise LabError("interrupted; the lab was removed") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"cclab: attacked in {time.monotonic() - started:.1f} s, lab removed", file=sys.stderr)
    return matrix


