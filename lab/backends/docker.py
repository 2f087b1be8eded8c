"""The docker backend: each node a container of the lab image, each link a host bridge.

`deploy` renders the compose file into the lab's run folder, starts it with
docker compose (containers without docker's networking), makes the links
(docker_wiring.py), adds the host's part (docker_fabric.py), and waits until every
node agent reports ready (or one fails: then its log is shown). A compose file
started by hand (`cclab render`, then `cclab ready`: `adopt`) keeps docker's
`internal` networks instead. Everything is labelled `org.cclab.instance=INSTANCE`
(the host's bridges carry it as their alias); `destroy` removes by that label, so
it also cleans up after a start that failed or was interrupted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab import compose
from lab.backends import docker_engine as engine
from lab.backends import docker_fabric as fabric
from lab.backends import docker_wiring as wiring
from lab.backends import docker_zones, engine_calls
from lab.backends.agent_exec import exec_by_agent
from lab.backends.base import ExecResult, Progress, clear_leftovers
from lab.backends.capture import TcpdumpCapture
from lab.backends.processes import ready_count, stopped_count, wait_ready, wait_stopped
from lab.errors import BackendError, NotRunningError
from lab.model import Topology
from lab.names import LabNames
from lab.node_agent.exec_server import socket_path
from lab.node_agent.share import encode_share, topology_digest
from lab.security_groups import fabric_endpoints, render_security_groups
from lab.state import LabState, ProcessRecord, status_fields
from lab.steps import Step

READY_TIMEOUT_S = 120.0
REMOVE_TIMEOUT_S = 30.0
POLL_S = 0.1
ENGINE_POLL_S = 1.0
HOLDER_WAIT_S = 30.0


class DockerBackend:
    name = "docker"
    node_python = "python"  # the image's venv, first on PATH

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self.names = LabNames(instance)
        self.label = f"{compose.LABEL_INSTANCE}={instance}"

    # -- lifecycle ---------------------------------------------------------------
    def deploy(self, topo: Topology, plan: list[Step], *, clean: bool = False,
               progress: Progress | None = None) -> None:
        clear_leftovers(self, clean)
        LabState(self.instance, str(topo.source or topo.name), self.name).save(self.names.run_dir)
        try:
            from lab.images.build import ensure_images

            say = _say if progress else _quiet
            image = ensure_images(say=say)
            path = self.write_compose(topo, image, wired_by_host=True)
            self.write_node_shares(topo, wired_by_host=True)
            # sealed before the bridges exist: the rules name them, and hold from the first frame
            fabric.install(self._bridges(topo), self.instance)
            say(f"starting {len(topo.nodes)} containers")
            self._compose(["up", "-d", "--no-build"], path)
            say(f"wiring {len(topo.networks)} links")
            wiring.wire(topo, self.instance, self._pids_of([n.name for n in topo.nodes]))
            self.adopt(topo, progress=progress, sealed=True)
        except BaseException as failure:
            self.destroy_after(failure)
            raise

    def destroy_after(self, failure: BaseException) -> None:
        """destroy() after a failed bring-up; a failing cleanup is noted on `failure`,
        which stays the error the user sees."""
        try:
            self.destroy()
        except BackendError as cleanup:
            failure.add_note(f"and the cleanup after it failed: {cleanup}")

    def prepare_compose(self, path: Path) -> None:
        """Before a compose file is started by hand (or by testcontainers): refuse a
        stale lab, build the images if needed, keep the file for `down`."""
        from lab.images.build import ensure_images

        clear_leftovers(self, clean=False)
        ensure_images(say=_quiet)
        self.names.run_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, self.names.run_dir / "docker-compose.yml")

    def _source(self, topo: Topology) -> Path:
        if topo.source is None:
            raise BackendError("the docker backend needs a topology file", backend=self.name)
        return topo.source.resolve()

    def write_compose(self, topo: Topology, image: str, *, wired_by_host: bool = False) -> Path:
        source = self._source(topo)
        paths = compose.ComposePaths(str(source.parent), source.name, str(self.names.run_dir),
                                     image, wired_by_host)
        path = self.names.run_dir / "docker-compose.yml"
        path.write_text(compose.compose_text(topo, self.instance, paths))
        return path

    def write_node_shares(self, topo: Topology, *, wired_by_host: bool = False) -> None:
        """Each node's share of the plan, planned once here from the file the nodes mount
        rather than in every container (lab.node_agent.share)."""
        from lab.schema import load_topology

        source = self._source(topo)
        digest = topology_digest(source.read_bytes())
        folder = self.names.run_dir / "plans"
        folder.mkdir(parents=True, exist_ok=True)
        for share in compose.node_shares(load_topology(source), self.instance, digest,
                                         wired_by_host=wired_by_host):
            (folder / f"{share.node}.json").write_text(encode_share(share))

    def adopt(self, topo: Topology, *, progress: Progress | None = None,
              sealed: bool = False) -> None:
        """Add the host's part to running containers and wait for every node to be ready.
        `sealed`: the bridges' host rules are in already (`deploy` puts them in first).

        Also what `cclab ready` does after a plain `docker compose up`.
        """
        state = LabState.load(self.names.run_dir) or LabState(
            self.instance, str(topo.source or topo.name), self.name)
        state.backend = self.name
        state.save(self.names.run_dir)
        bridges = self._bridges(topo)
        if not sealed:  # a plain `docker compose up`: the containers came up unsealed
            fabric.install(bridges, self.instance)
        zones = docker_zones.reserve(self.instance, max(1, len(topo.networks)))
        ruleset = render_security_groups(
            topo, self._host_ports(topo), fabric.sg_tables(self.instance, zones.start),
            bridges={n.name: compose.bridge_name(self.instance, n.name) for n in topo.networks})
        if ruleset:
            fabric.install_security_groups(ruleset)
        if progress:
            _say(f"waiting for {len(topo.nodes)} node agents")
        reports = self._wait_nodes([n.name for n in topo.nodes])
        state.processes = [
            ProcessRecord(node, kind, pid, [], str(self._log(node, kind)))
            for node, report in reports.items() for kind, pid in report["services"].items()]
        state.ready = True
        state.save(self.names.run_dir)

    def _bridges(self, topo: Topology) -> list[str]:
        return [compose.bridge_name(self.instance, n.name) for n in topo.networks]

    def _wait_nodes(self, nodes: list[str]) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + READY_TIMEOUT_S
        reports: dict[str, dict[str, Any]] = {}
        checked = time.monotonic()
        while True:
            for node in nodes:
                report = self._node_report(node)
                if report.get("state") == "failed":
                    raise BackendError(f"node agent failed: {report.get('error')}\n"
                                       f"{self._container_log(node)}", backend=self.name,
                                       node=node)
                if report.get("state") == "ready":
                    reports[node] = report
            if len(reports) == len(nodes):
                return reports
            # the reports are files (cheap to read every poll); asking the engine which
            # containers exited is a `docker ps` that competes with the nodes starting
            if time.monotonic() - checked >= ENGINE_POLL_S:
                self._check_running(set(nodes) - set(reports))
                checked = time.monotonic()
            if time.monotonic() > deadline:
                waiting = ", ".join(sorted(set(nodes) - set(reports)))
                raise BackendError(f"nodes not ready after {READY_TIMEOUT_S:g} s: {waiting}",
                                   backend=self.name)
            time.sleep(POLL_S)

    def _check_running(self, nodes: set[str]) -> None:
        for node, info in self._containers().items():
            if node in nodes and info.get("State") == "exited":
                raise BackendError(f"container exited before it was ready\n"
                                   f"{self._container_log(node)}", backend=self.name, node=node)

    def destroy(self, *, may_restart_engine: bool = True) -> list[str]:
        """Remove every container, network and host rule of this instance. Safe to repeat.
        `may_restart_engine=False`: never restart the engine to free a stale network (a lab
        coming up beside this one would lose its engine); the removal fails instead."""
        removed = [info["Names"] for info in self._containers().values()]
        compose_file = self.names.run_dir / "docker-compose.yml"
        # A lab the host wired has no docker network, so its containers go at once
        # (`docker rm -f` below): no network is left with endpoints, and nothing the
        # services write on their way out is kept (the run folder goes too).
        if compose_file.exists() and removed and self._networks():
            try:
                self._compose(["down", "--volumes", "--remove-orphans", "--timeout", "5"],
                              compose_file, check=False)
            except engine_calls.EngineRestarted as restarted:
                engine_calls.report(restarted)  # what compose left is removed below
        # What compose left, or never knew (testcontainers nodes carry the label too).
        # A network still has endpoints while its containers' removal is in progress, and
        # a loaded engine answers both late: retry until gone, then say what stayed.
        remove_containers(self._container_names)
        _remove_until_gone(self._networks, ["network", "rm"])
        if may_restart_engine and (stuck := self._networks()) and not self._container_names():
            self._restart_engine_to_free(stuck)
        wiring.remove_links(self.instance)  # bridges, and veths a namespace kept
        fabric.remove(self.instance)
        fabric.remove_security_groups(fabric.sg_tables(self.instance))
        shutil.rmtree(self.names.run_dir, ignore_errors=True)
        stayed = [*self._container_names(), *self._networks()]
        if stayed:
            raise BackendError(
                f"lab '{self.instance}': docker did not remove {', '.join(stayed)} "
                f"within {REMOVE_TIMEOUT_S:g} s\n    hint: `docker network inspect NAME` shows "
                f"what still uses a network (none listed: docker's endpoint count is stale, "
                "moby#42119, and restarting dockerd repairs it); `cclab down --name "
                f"{self.instance}` tries again", backend=self.name)
        return removed

    def _restart_engine_to_free(self, networks: list[str]) -> None:
        """Networks with no container left that docker will not remove: its endpoint count
        is stale, which only a restart repairs (lab.backends.docker_engine)."""
        pid = engine.lab_engine_pid()
        running = _lines(_docker(["ps", "-q"]).stdout)
        if not engine.may_restart(pid, running):
            return
        assert pid is not None
        _say(f"docker keeps {', '.join(networks)} with no container on it (a stale endpoint "
             "count, moby#42119): restarting the engine the lab started, which repairs it")
        try:
            engine.restart(pid)
        except OSError as exc:
            raise BackendError(str(exc), backend=self.name) from exc
        _remove_until_gone(self._networks, ["network", "rm"])

    def leftovers(self) -> list[str]:
        found = [info["Names"] for info in self._containers().values()]
        found += self._networks()
        found += wiring.lab_links(self.instance)
        if self.names.run_dir.exists():
            found.append(str(self.names.run_dir))
        return found

    # -- using a running lab -----------------------------------------------------
    def exec(self, node: str, argv: list[str], *, timeout: float = 60.0,
             input_text: str | None = None) -> ExecResult:
        """By the node's agent (`lab.node_agent.exec_server`) once it listens, else by
        `docker exec` (which raises `EngineRestarted` if it hung on a deadlocked engine)."""
        answered = exec_by_agent(socket_path(self.names.run_dir, node), argv, timeout=timeout,
                                 input_text=input_text)
        if answered is not None:
            return answered
        container = compose.container_name(self.instance, node)
        flags = ["-i"] if input_text is not None else []
        try:  # not repeated after an engine restart: a command may not be run twice
            done = engine_calls.run(["docker", "exec", *flags, container, *argv],
                                    timeout=timeout, input_text=input_text)
        except subprocess.TimeoutExpired as exc:
            return ExecResult(124, _text(exc.stdout), _text(exc.stderr)
                              + f"\ntimed out after {timeout}s")
        if done.returncode != 0 and "No such container" in done.stderr:
            raise self._not_running(node)
        return ExecResult(done.returncode, done.stdout, done.stderr)

    def start_capture(self, node: str, iface: str, path: Path) -> TcpdumpCapture:
        pid = self._pid_of(node)
        return TcpdumpCapture.start(node, iface, path,
                                    enter=["nsenter", f"--net=/proc/{pid}/ns/net"])

    def restart_service(self, node: str, kind: str, timeout_s: float = 15.0) -> int:
        return self._ask_then_wait_ready(node, kind, "restart", timeout_s)

    def stop_service(self, node: str, kind: str, timeout_s: float = 15.0) -> None:
        events = self.names.run_dir / "events" / f"{node}.jsonl"
        before = stopped_count(events, kind)
        self._ask(node, kind, "stop")
        wait_stopped(events, node, kind, timeout_s, after=before, backend=self.name)

    def start_service(self, node: str, kind: str, timeout_s: float = 15.0) -> int:
        return self._ask_then_wait_ready(node, kind, "start", timeout_s)

    def _ask_then_wait_ready(self, node: str, kind: str, what: str, timeout_s: float) -> int:
        events = self.names.run_dir / "events" / f"{node}.jsonl"
        before = ready_count(events, kind)
        self._ask(node, kind, what)
        wait_ready(events, node, kind, None, self._log(node, kind), timeout_s, after=before,
                   backend=self.name)
        return int(self._node_report(node).get("services", {}).get(kind, 0))

    def _ask(self, node: str, kind: str, what: str) -> None:
        """Ask the node's agent to `restart`, `stop` or `start` one of its services."""
        asked = self.exec(node, ["python", "-m", "lab.node_agent", what, kind])
        if not asked.ok:
            raise BackendError(f"{what} {kind}: {asked.stderr.strip()}", backend=self.name,
                               node=node)

    def status(self) -> dict[str, Any]:
        state = LabState.load(self.names.run_dir)
        containers = self._containers()
        if state is None and not containers:
            raise NotRunningError(f"no lab named '{self.instance}' is running\n"
                                  f"    hint: start one with `cclab up TOPOLOGY --backend docker`")
        return {
            **status_fields(self.instance, self.name, state, self.names.run_dir),
            "containers": sorted(info["Names"] for info in containers.values()),
            "processes": [self._process_status(p, containers)
                          for p in (state.processes if state else [])],
        }

    def _process_status(self, record: ProcessRecord,
                        containers: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The pid is the node agent's latest report of it (a service it restarted has a
        new one), else the one recorded at `up`."""
        running = containers.get(record.node, {}).get("State") == "running"
        report = self._node_report(record.node)
        pid = report.get("services", {}).get(record.kind, record.pid)
        return {"node": record.node, "kind": record.kind, "pid": pid,
                "alive": running and record.kind not in report.get("exited", {}),
                "log": record.log}

    def fabric_ruleset(self) -> str:
        """The security groups as loaded on the host (the docker lab's fabric)."""
        return fabric.list_security_groups(fabric.sg_tables(self.instance))

    # -- helpers -----------------------------------------------------------------
    def _host_ports(self, topo: Topology) -> dict[tuple[str, str], str]:
        """The host's end of each guarded endpoint's veth (and of each router port where a
        network ACL acts): in a lab `cclab up` wired, by the name the host gave it; on a
        compose file's networks, found by the endpoint's address: the one docker attached
        (a stand-in, see compose.docker_subnets) or the planned one, whichever the node
        agent, starting meanwhile, has put there; for a moment it has neither, so ask
        again."""
        wanted = fabric_endpoints(topo)
        guarded = [n for n in topo.nodes if any((n.name, i.name) in wanted for i in n.interfaces)]
        if not guarded:
            return {}
        host = {link["ifindex"]: link["ifname"] for link in _ip_json([])}
        wired = {(n.name, i.name): wiring.host_port(self.instance, n.name, i.name)
                 for n in guarded for i in n.interfaces if (n.name, i.name) in wanted}
        if set(wired.values()) <= set(host.values()):  # a lab `cclab up` wired: named so
            return wired
        pids = self._pids_of([node.name for node in guarded])
        ports = {}
        for node in guarded:
            attached = compose.attached_addresses(topo, node.name)
            enter = ["nsenter", f"--net=/proc/{pids[node.name]}/ns/net"]
            for iface in (i for i in node.interfaces if (node.name, i.name) in wanted):
                addresses = {str(iface.address.ip), str(attached[iface.name].ip)}
                index = _holder_link_index(enter, addresses)
                if index not in host:
                    raise BackendError(f"no host-side port for {iface.name} ({iface.address})",
                                       backend=self.name, node=node.name)
                ports[(node.name, iface.name)] = host[index]
        return ports

    def _containers(self) -> dict[str, dict[str, Any]]:
        """This instance's containers by node name (from `docker ps` JSON lines)."""
        out = _docker(["ps", "-a", "--filter", f"label={self.label}", "--format",
                       "{{json .}}"]).stdout
        found = {}
        for line in _lines(out):
            info = json.loads(line)
            labels = dict(kv.split("=", 1) for kv in info.get("Labels", "").split(",") if "=" in kv)
            found[labels.get(compose.LABEL_NODE, info["Names"])] = info
        return found

    def _container_names(self) -> list[str]:
        return [info["Names"] for info in self._containers().values()]

    def _networks(self) -> list[str]:
        return _lines(_docker(["network", "ls", "--filter", f"label={self.label}", "--format",
                               "{{.Name}}"]).stdout)

    def _not_running(self, node: str) -> NotRunningError:
        return NotRunningError(f"node '{node}' of lab '{self.instance}' is not running\n"
                               f"    hint: `cclab status --name {self.instance}` lists nodes")

    def _pid_of(self, node: str) -> int:
        out = _docker(["inspect", "-f", "{{.State.Pid}}",
                       compose.container_name(self.instance, node)]).stdout
        if not out.strip().isdigit() or out.strip() == "0":
            raise self._not_running(node)
        return int(out.strip())

    def _pids_of(self, nodes: list[str]) -> dict[str, int]:
        """`_pid_of` for several nodes in one `docker inspect` (the engine answers slowly
        while a lab's containers start)."""
        names = {compose.container_name(self.instance, n): n for n in nodes}
        out = _docker(["inspect", "-f", "{{.Name}} {{.State.Pid}}", *names]).stdout
        pids = {names.get(name.lstrip("/")): pid for name, _, pid in
                (line.partition(" ") for line in _lines(out))}
        for node in nodes:
            if not pids.get(node, "").isdigit() or pids[node] == "0":
                raise self._not_running(node)
        return {node: int(pids[node]) for node in nodes}

    def _node_report(self, node: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(
                (self.names.run_dir / "nodes" / f"{node}.json").read_text())
        except (OSError, ValueError):
            return {}
        return data

    def _log(self, node: str, kind: str) -> Path:
        return self.names.run_dir / "logs" / f"{node}-{kind}.log"

    def _container_log(self, node: str) -> str:
        out = _docker(["logs", "--tail", "15", compose.container_name(self.instance, node)])
        text = (out.stdout + out.stderr).strip().splitlines()
        return "\n".join(f"    | {line}" for line in text) or "    (no container log)"

    def _compose(self, args: list[str], path: Path, *, check: bool = True) -> None:
        argv = [*compose_command(), "-p", compose.project_name(self.instance), "-f", str(path),
                *args]
        done = engine_calls.run(argv, timeout=300)
        if check and done.returncode != 0:
            raise BackendError(f"{' '.join(argv[:2])} {args[0]} failed:\n"
                               f"{_explain(done.stderr)}", backend=self.name)


def compose_command() -> list[str]:
    """`docker compose` (v2) where the plugin exists, else Debian's `docker-compose` (v1)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True,
                      check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise BackendError("neither `docker compose` nor `docker-compose` is installed\n"
                       "    hint: apt-get install docker-compose", backend="docker")


def _ip_json(enter: list[str]) -> list[dict[str, Any]]:
    done = subprocess.run([*enter, "ip", "-j", "addr"], capture_output=True, text=True,
                          check=False, timeout=30)
    if done.returncode != 0:
        raise BackendError(f"ip addr: {done.stderr.strip()}", backend="docker")
    found: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    return found


def _holder_link_index(enter: list[str], addresses: set[str]) -> int | None:
    """The peer index of the interface holding one of `addresses`, asked until
    HOLDER_WAIT_S has passed (the agent moves the address from docker's to the plan's)."""
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        links = _ip_json(enter)
        holder = next((link for link in links for a in link.get("addr_info", [])
                       if a.get("local") in addresses), None)
        if holder is not None or time.monotonic() > deadline:
            return holder.get("link_index") if holder else None
        time.sleep(POLL_S)


def _explain(stderr: str) -> str:
    text = stderr.strip()[-2000:]
    if "overlaps" in text or "Pool overlaps" in text:
        labs = lab_networks()
        owners = "; ".join(f"{net} (lab '{lab}')" for net, lab in labs.items())
        text += ("\n    hint: another docker network uses these subnets"
                 + (f"; cclab networks on this engine: {owners}; remove a lab with "
                    "`cclab down --name LAB`" if labs else
                    " (not a cclab lab's): `docker network ls`"))
    return text


def engine_instances() -> set[str]:
    """Instances with labelled containers or networks on the engine (none if it is down),
    or bridges the host made for them (docker_wiring)."""
    try:
        containers = _docker(["ps", "-a", "--filter", f"label={compose.LABEL_INSTANCE}",
                              "--format", f'{{{{.Label "{compose.LABEL_INSTANCE}"}}}}']).stdout
        on_engine = set(_lines(containers)) | set(lab_networks().values())
    except BackendError:
        on_engine = set()
    return on_engine | wiring.wired_instances()


def lab_networks() -> dict[str, str]:
    """Every cclab network on the engine, by name, with the lab instance it belongs to."""
    out = _docker(["network", "ls", "--filter", f"label={compose.LABEL_INSTANCE}", "--format",
                   f'{{{{.Name}}}} {{{{.Label "{compose.LABEL_INSTANCE}"}}}}']).stdout
    return dict(line.split(" ", 1) for line in _lines(out) if " " in line)


def _docker(argv: list[str], *, check: bool = False) -> subprocess.CompletedProcess[str]:
    done = engine_calls.docker(argv)
    if check and done.returncode != 0:
        raise BackendError(f"docker {argv[0]}: {done.stderr.strip()}", backend="docker")
    return done


def remove_containers(listed: Callable[[], list[str]]) -> None:
    """`docker rm -f -v` the containers `listed()` names, one a call, until none is left
    (or REMOVE_TIMEOUT_S): docker's CLI removes those it is given in parallel, and two
    containers leaving one network within microseconds is what deadlocks the engine's
    libnetwork (moby#46661; docs/decisions.md, "A deadlocked docker engine")."""
    _remove_until_gone(listed, ["rm", "-f", "-v"], one_by_one=True)


def _remove_until_gone(listed: Callable[[], list[str]], remove: list[str], *,
                       one_by_one: bool = False) -> None:
    """`docker *remove IDS` until `listed()` is empty, or REMOVE_TIMEOUT_S has passed;
    `one_by_one`: a call for each ID, the next once the last returned (its removal done)."""
    deadline = time.monotonic() + REMOVE_TIMEOUT_S
    while (ids := listed()) and time.monotonic() < deadline:
        for some in [[i] for i in ids] if one_by_one else [ids]:
            _docker([*remove, *some], check=False)
        if listed():
            time.sleep(POLL_S)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def _say(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def _quiet(text: str) -> None:
    pass
