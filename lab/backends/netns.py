"""The netns backend: each node a network namespace, each link a bridge.

`deploy` journals every namespace and process before it moves on and, if
anything fails or the user interrupts, tears down what it made before
re-raising. `destroy` removes by ownership (name prefix and journal), so it is
idempotent and also cleans a lab whose `up` was killed.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from lab.backends import netns_links as links
from lab.backends.base import ExecResult, Progress, clear_leftovers
from lab.backends.capture import TcpdumpCapture
from lab.backends.processes import (
    pids_in_namespace,
    ready_count,
    start_in_namespace,
    stop_pids,
    wait_ready,
)
from lab.errors import BackendError, NotRunningError
from lab.model import Topology
from lab.names import LabNames
from lab.security_groups import SG_TABLE
from lab.services import resolve_argv
from lab.state import LabState, ProcessRecord, status_fields
from lab.steps import (
    AddAddress,
    AddRoute,
    AddRule,
    CreateBridge,
    CreateNamespace,
    CreateVeth,
    LinkUp,
    LoadNftables,
    SetSysctl,
    StartService,
    Step,
    WaitReady,
    WriteResolvConf,
)

ETC_NETNS = Path("/etc/netns")


class NetnsBackend:
    name = "netns"
    node_python = sys.executable  # nodes share the host's file system

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self.names = LabNames(instance)
        self._procs: dict[tuple[str, str], subprocess.Popen[bytes]] = {}

    # -- lifecycle ---------------------------------------------------------------
    def deploy(self, topo: Topology, plan: list[Step], *, clean: bool = False,
               progress: Progress | None = None) -> None:
        clear_leftovers(self, clean)
        state = LabState(self.instance, str(topo.source or topo.name), self.name)
        state.save(self.names.run_dir)
        try:
            self._run(plan, state, topo, progress)
        except BaseException:
            self.destroy()
            raise
        state.ready = True
        state.save(self.names.run_dir)

    def _run(self, plan: list[Step], state: LabState, topo: Topology,
             progress: Progress | None) -> None:
        spaces = links.Namespaces()
        # A namespace's sysctls come in a row: one `sysctl` for the row, not one each (a
        # cloud topology has 136, at ~13 ms a process).
        sysctls: list[SetSysctl] = []
        try:
            for n, step in enumerate(plan, 1):
                if progress:
                    progress(n, len(plan), step)
                if sysctls and not (isinstance(step, SetSysctl) and step.ns == sysctls[0].ns):
                    self._set_sysctls(sysctls)
                    sysctls = []
                if isinstance(step, SetSysctl):
                    sysctls.append(step)
                else:
                    self._execute(step, spaces, state, topo)
            if sysctls:
                self._set_sysctls(sysctls)
        finally:
            spaces.close()

    def destroy(self) -> list[str]:
        """Remove every process, namespace and file of this instance. Safe to repeat."""
        owned = [ns for ns in links.list_namespaces() if self.names.owns(ns)]
        state = LabState.load(self.names.run_dir)
        pids = {p for ns in owned for p in pids_in_namespace(ns)}
        pids |= {p.pid for p in (state.processes if state else []) if _is_our_process(p)}
        stop_pids(sorted(pids))
        for proc in self._procs.values():
            _reap(proc)
        for ns in owned:
            links.remove_namespace(ns)
            shutil.rmtree(ETC_NETNS / ns, ignore_errors=True)
        for path in ETC_NETNS.glob(f"{self.names.prefix}*"):
            shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(self.names.run_dir, ignore_errors=True)
        return owned

    def leftovers(self) -> list[str]:
        found = [ns for ns in links.list_namespaces() if self.names.owns(ns)]
        if self.names.run_dir.exists():
            found.append(str(self.names.run_dir))
        return found

    # -- steps -------------------------------------------------------------------
    def _execute(self, step: Step, spaces: links.Namespaces, state: LabState,
                 topo: Topology) -> None:
        match step:
            case CreateNamespace():
                state.namespaces.append(step.ns)
                state.save(self.names.run_dir)
                links.create_namespace(step.ns)
            case SetSysctl():
                self._set_sysctls([step])
            case CreateBridge():
                links.create_bridge(spaces(step.ns), step)
            case CreateVeth():
                links.create_veth(spaces, step)
            case AddAddress():
                links.add_address(spaces(step.ns), step)
            case LinkUp():
                links.link_up(spaces(step.ns), step)
            case AddRoute():
                links.add_route(spaces(step.ns), step)
            case AddRule():
                links.add_rule(spaces(step.ns), step)
            case LoadNftables():
                self._checked(step.ns, ["nft", "-f", "-"], "nftables", input_text=step.ruleset)
            case WriteResolvConf():
                _write_resolv_conf(step)
            case StartService():
                self._start(step, state, topo)
            case WaitReady():
                self._wait(step)

    def _set_sysctls(self, steps: list[SetSysctl]) -> None:
        """Sysctls of one namespace, in order, in one process."""
        self._checked(steps[0].ns, ["sysctl", "-qw", *(f"{s.key}={s.value}" for s in steps)],
                      "sysctl")

    def _checked(self, ns: str, argv: list[str], what: str, input_text: str | None = None) -> None:
        result = _run_in(ns, argv, timeout=30, input_text=input_text)
        if not result.ok:
            raise BackendError(f"{what} failed: {result.stderr.strip() or result.stdout.strip()}",
                               backend=self.name, node=ns)

    def _start(self, step: StartService, state: LabState, topo: Topology) -> None:
        argv = self._resolve(step.argv, topo)
        log = self.names.run_dir / "logs" / f"{step.node}-{step.kind}.log"
        proc = start_in_namespace(step.ns, argv, log)
        self._procs[(step.node, step.kind)] = proc
        state.processes.append(ProcessRecord(step.node, step.kind, proc.pid, argv, str(log)))
        state.save(self.names.run_dir)

    def _resolve(self, argv: tuple[str, ...], topo: Topology) -> list[str]:
        topodir = str(topo.source.parent.resolve()) if topo.source else "."
        return resolve_argv(argv, python=sys.executable, run=str(self.names.run_dir),
                            topodir=topodir)

    def _wait(self, step: WaitReady) -> None:
        events = self.names.run_dir / "events" / f"{step.node}.jsonl"
        log = self.names.run_dir / "logs" / f"{step.node}-{step.kind}.log"
        wait_ready(events, step.node, step.kind, self._procs.get((step.node, step.kind)),
                   log, step.timeout_s)

    # -- using a running lab -----------------------------------------------------
    def restart_service(self, node: str, kind: str, timeout_s: float = 15.0) -> int:
        """Stop a service with SIGTERM and start it again as it was; returns the new PID."""
        self.stop_service(node, kind, timeout_s)
        return self.start_service(node, kind, timeout_s)

    def stop_service(self, node: str, kind: str, timeout_s: float = 15.0) -> None:
        """SIGTERM (SIGKILL after a grace); the service stays stopped until started."""
        _, record = self._service_record(node, kind)
        stop_pids([record.pid], grace_s=timeout_s)

    def start_service(self, node: str, kind: str, timeout_s: float = 15.0) -> int:
        """Start a stopped service again as it was; waits for its readiness; the new PID."""
        state, record = self._service_record(node, kind)
        events = self.names.run_dir / "events" / f"{node}.jsonl"
        before = ready_count(events, kind)
        proc = start_in_namespace(self._ns_of(node), record.argv, Path(record.log))
        self._procs[(node, kind)] = proc
        record.pid = proc.pid
        state.save(self.names.run_dir)
        wait_ready(events, node, kind, proc, Path(record.log), timeout_s, after=before)
        return proc.pid

    def _service_record(self, node: str, kind: str) -> tuple[LabState, ProcessRecord]:
        state = LabState.load(self.names.run_dir)
        if state is None:
            raise NotRunningError(self.instance)
        record = next((p for p in state.processes if (p.node, p.kind) == (node, kind)), None)
        if record is None:
            raise BackendError(f"no service '{kind}' in node '{node}'", backend=self.name,
                               node=node)
        return state, record

    def exec(self, node: str, argv: list[str], *, timeout: float = 60.0,
             input_text: str | None = None) -> ExecResult:
        return _run_in(self._ns_of(node), argv, timeout=timeout, input_text=input_text)

    def start_capture(self, node: str, iface: str, path: Path) -> TcpdumpCapture:
        return TcpdumpCapture.start(self._ns_of(node), iface, path)

    def status(self) -> dict[str, Any]:
        state = LabState.load(self.names.run_dir)
        if state is None and not self.leftovers():
            raise NotRunningError(f"no lab named '{self.instance}' is running\n"
                                  f"    hint: start one with `cclab up TOPOLOGY`")
        present = set(links.list_namespaces())
        return {
            **status_fields(self.instance, self.name, state, self.names.run_dir),
            "namespaces": sorted(ns for ns in present if self.names.owns(ns)),
            "processes": [_process_status(p) for p in (state.processes if state else [])],
        }

    def fabric_ruleset(self) -> str:
        """The security groups as loaded in the switch namespace (the lab's fabric)."""
        return _run_in(self.names.switch_ns, ["nft", "list", "table", "inet", SG_TABLE],
                       timeout=30, input_text=None).stdout

    def _ns_of(self, node: str) -> str:
        ns = self.names.node_ns(node)
        if ns not in links.list_namespaces():
            raise NotRunningError(f"node '{node}' of lab '{self.instance}' is not running\n"
                                  f"    hint: `cclab status --name {self.instance}` lists nodes")
        return ns


def _run_in(ns: str, argv: list[str], *, timeout: float, input_text: str | None) -> ExecResult:
    try:
        done = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                              timeout=timeout, input=input_text)
    except subprocess.TimeoutExpired as exc:
        note = f"\ntimed out after {timeout}s"
        return ExecResult(124, _text(exc.stdout), _text(exc.stderr) + note)
    except FileNotFoundError as exc:
        raise BackendError("`ip` not found\n    hint: apt-get install iproute2",
                           backend="netns", node=ns) from exc
    return ExecResult(done.returncode, done.stdout, done.stderr)


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def _write_resolv_conf(step: WriteResolvConf) -> None:
    folder = ETC_NETNS / step.ns
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"nameserver {server}" for server in step.servers]
    (folder / "resolv.conf").write_text("# written by cclab: lab DNS only\n" + "\n".join(lines)
                                        + "\noptions timeout:1 attempts:1\n")


def _is_our_process(record: ProcessRecord) -> bool:
    """A journalled PID still counts only if it still runs the command we started."""
    try:
        cmdline = Path(f"/proc/{record.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(arg.decode(errors="replace") in record.argv for arg in cmdline[-3:] if arg)


def _process_status(record: ProcessRecord) -> dict[str, Any]:
    return {"node": record.node, "kind": record.kind, "pid": record.pid,
            "alive": _is_our_process(record), "log": record.log}


def _reap(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=1)
