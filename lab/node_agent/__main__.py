"""`python -m lab.node_agent --node N --instance I --topology FILE` (the image's entrypoint);
`python -m lab.node_agent restart|stop|start KIND` asks the running agent to restart, stop
or start again one of its services (the caller waits for the service's events)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from ipaddress import IPv4Interface
from pathlib import Path
from types import FrameType

from lab.errors import LabError
from lab.node_agent import exec_server, wiring
from lab.node_agent.services import RUN, Services
from lab.node_agent.share import decode_share, topology_digest
from lab.steps import StartService, Step, WaitReady

PID_FILE = Path("/run/cclab-node.pid")
RESTART_FILE = Path("/run/cclab-node.restart")


class Agent:
    def __init__(self, node: str) -> None:
        self.node = node
        self.services = Services(node)
        self.stopping = False
        self.restart_asked = False

    def bring_up(self, topology: Path, instance: str) -> None:
        steps, attached, wired_by_host = node_share(topology, instance, self.node)
        wiring.apply_all([s for s in steps if not isinstance(s, StartService | WaitReady)],
                         attached, self.node, wired_by_host=wired_by_host)
        for step in steps:
            if isinstance(step, StartService):
                self.services.start(step)
        for step in steps:
            if isinstance(step, WaitReady):
                self.services.wait(step)

    def report(self, state: str, error: str = "") -> None:
        status = {"node": self.node, "state": state, "services": self.services.pids(),
                  "exited": self.services.exited(), "error": error}
        folder = Path(RUN, "nodes")
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{self.node}.json"
        tmp.write_text(json.dumps(status))
        os.replace(tmp, folder / f"{self.node}.json")

    def serve(self) -> None:
        while not self.stopping:
            if self.restart_asked:
                self.restart_asked = False
                what, kind = RESTART_FILE.read_text().split()
                ACTIONS[what](self.services, kind)
                self.report("ready")
            time.sleep(0.1)


def node_share(topology: Path, instance: str, node: str
               ) -> tuple[list[Step], dict[str, IPv4Interface], bool]:
    """The node's steps, where docker attached its interfaces, and whether the host makes
    them instead: from the share the host wrote (`cclab up`), else planned here from the
    topology (a compose file started by hand, on docker's networks), which imports and
    parses far more."""
    try:
        share = decode_share(Path(RUN, "plans", f"{node}.json").read_text())
    except FileNotFoundError:
        share = None
    if (share is not None and (share.instance, share.node) == (instance, node)
            and share.topology_digest == topology_digest(topology.read_bytes())):
        return list(share.steps), share.attached, share.wired_by_host
    from lab.compose import attached_addresses
    from lab.plan import build_plan, steps_for_node
    from lab.schema import load_topology

    topo = load_topology(topology)
    return (steps_for_node(build_plan(topo, instance), instance, node),
            attached_addresses(topo, node), False)


def run_agent(args: argparse.Namespace) -> int:
    agent = Agent(args.node)

    def on_stop(signum: int, frame: FrameType | None) -> None:
        agent.stopping = True

    def on_restart(signum: int, frame: FrameType | None) -> None:
        agent.restart_asked = True

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGUSR1, on_restart)
    PID_FILE.write_text(str(os.getpid()))
    try:
        agent.bring_up(Path(args.topology), args.instance)
    except (LabError, OSError) as exc:
        print(f"node agent {args.node}: {exc}", file=sys.stderr, flush=True)
        agent.report("failed", str(exc))
        agent.services.stop_all()
        return 1
    # Not shut down at the end: its thread dies with the agent (a shutdown() waits out the
    # server's poll, and so would every container's stop).
    exec_server.serve_in_background(exec_server.socket_path(Path(RUN), args.node),
                                    exec_server.container_environment())
    agent.report("ready")
    print(f"node agent {args.node}: ready", file=sys.stderr, flush=True)
    try:
        agent.serve()
    finally:
        agent.services.stop_all()
    return 0


ACTIONS = {"restart": Services.restart, "stop": Services.stop, "start": Services.start_again}


def ask(what: str, kind: str) -> int:
    RESTART_FILE.write_text(f"{what} {kind}\n")
    os.kill(int(PID_FILE.read_text()), signal.SIGUSR1)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in ACTIONS and len(argv) == 2:
        return ask(argv[0], argv[1])
    parser = argparse.ArgumentParser(prog="python -m lab.node_agent")
    parser.add_argument("--node", required=True)
    parser.add_argument("--instance", required=True)
    parser.add_argument("--topology", required=True)
    return run_agent(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
