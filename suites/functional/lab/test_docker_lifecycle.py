"""`cclab up/down --backend docker` leave the machine as they found it, also when up fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.backends.docker_wiring import host_port
from lab.compose import LABEL_INSTANCE
from lab.errors import BackendError
from suites.fixtures.lab import unique_instance
from suites.functional.lab.cli_helpers import cclab

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_capable")]

# Its own subnet, so it never meets the minimal lab's networks on the host.
TWO_NODES = """
name: pair
links:
  - name: lan
    subnet: 10.99.7.0/24
    endpoints:
      - {{node: client, ifname: eth0, address: 10.99.7.10}}
      - {{node: server, ifname: eth0, address: 10.99.7.80}}
nodes:
  client: {{role: host}}
  server:
    role: server
    services:
      - {{kind: web, port: {port}}}
"""


def _leftovers(instance: str) -> dict[str, str]:
    label = f"label={LABEL_INSTANCE}={instance}"
    found = {
        "containers": subprocess.run(["docker", "ps", "-aq", "--filter", label],
                                     capture_output=True, text=True).stdout.strip(),
        "networks": subprocess.run(["docker", "network", "ls", "-q", "--filter", label],
                                   capture_output=True, text=True).stdout.strip(),
        "host rules": "\n".join(line for line in subprocess.run(
            ["iptables", "-S"], capture_output=True, text=True).stdout.splitlines()
            if f"cclab:{instance}" in line),
        "run dir": str(Path("/run/cclab", instance).exists() or ""),
        "bridges": "\n".join(link["ifname"] for link in json.loads(subprocess.run(
            ["ip", "-j", "-d", "link", "show", "type", "bridge"], capture_output=True,
            text=True).stdout) if link.get("ifalias") == f"cclab:{instance}"),
        "veths": "\n".join(link["ifname"] for link in json.loads(subprocess.run(
            ["ip", "-j", "link", "show"], capture_output=True, text=True).stdout)
            if link["ifname"] in {host_port(instance, node, "eth0")
                                  for node in ("client", "server")}),
    }
    return {k: v for k, v in found.items() if v}


def _topology(tmp_path: Path, port: str) -> Path:
    path = tmp_path / "pair.yaml"
    path.write_text(TWO_NODES.format(port=port))
    return path


def test_up_works_and_down_removes_every_container_network_and_rule(tmp_path: Path) -> None:
    name = unique_instance("dk-pair")
    up = cclab("up", str(_topology(tmp_path, "80")), "--backend", "docker", "--name", name,
               timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        got = cclab("exec", "client", "--name", name, "--", "curl", "-s", "-m", "5",
                    "http://10.99.7.80/pair")
        assert '"seen_source": "10.99.7.10"' in got.stdout, got.stdout + got.stderr
        # the links are the host's bridges, not docker networks (lab.backends.docker_wiring)
        assert _leftovers(name).keys() == {"containers", "bridges", "veths", "host rules",
                                           "run dir"}
    finally:
        down = cclab("down", "--name", name, timeout=120)
    assert down.returncode == 0, down.stderr
    assert _leftovers(name) == {}
    again = cclab("down", "--name", name)
    assert again.returncode == 0


def test_down_finds_the_bridges_of_a_lab_whose_journal_is_gone(tmp_path: Path) -> None:
    """A lab whose containers and run folder went (a killed `up`, a host cleaned by hand)
    still has the bridges the host made; `cclab down` finds them by their alias."""
    name = unique_instance("dk-orphan")
    up = cclab("up", str(_topology(tmp_path, "80")), "--backend", "docker", "--name", name,
               timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        label = f"label={LABEL_INSTANCE}={name}"
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", label], capture_output=True,
                             text=True, check=True).stdout.split()
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=True)
        shutil.rmtree(Path("/run/cclab", name))
        # the veths go with the namespaces, which the kernel frees a moment later
        assert {"bridges", "host rules"} <= _leftovers(name).keys() <= {
            "bridges", "host rules", "veths"}
    finally:
        down = cclab("down", "--name", name, timeout=120)
    assert down.returncode == 0, down.stderr
    assert _leftovers(name) == {}


def test_down_removes_the_veths_of_a_namespace_that_outlives_its_container(
        tmp_path: Path) -> None:
    """A container's network namespace lives on while anything holds it (here an open
    reference; in the wild an orphaned TCP socket still sending its FIN), and its veths
    with it: down removes them anyway, and the same lab comes up again at once under the
    same name (their host ends' names are the lab's)."""
    name = unique_instance("dk-held")
    topology = str(_topology(tmp_path, "80"))
    up = cclab("up", topology, "--backend", "docker", "--name", name, timeout=300)
    held = None
    try:
        assert up.returncode == 0, up.stderr
        pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}",
                              f"cclab-{name}-client"], capture_output=True, text=True,
                             check=True).stdout.strip()
        held = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        assert "veths" in _leftovers(name)  # the host ends exist, so their removal is seen
        down = cclab("down", "--name", name, timeout=120)
        assert down.returncode == 0, down.stderr
        assert _leftovers(name) == {}
        again = cclab("up", topology, "--backend", "docker", "--name", name, timeout=300)
        assert again.returncode == 0, again.stderr
    finally:
        if held is not None:
            os.close(held)
        cclab("down", "--name", name, timeout=120)
    assert _leftovers(name) == {}


def test_failed_start_names_the_node_and_leaves_nothing(tmp_path: Path) -> None:
    name = unique_instance("dk-fail")
    up = cclab("up", str(_topology(tmp_path, "notaport")), "--backend", "docker", "--name", name,
               timeout=300)
    try:
        assert up.returncode == 1
        assert "[docker/server]" in up.stderr
        assert "web exited" in up.stderr
        assert _leftovers(name) == {}
    finally:
        cclab("down", "--name", name, timeout=120)


def test_a_network_docker_keeps_is_named_and_down_removes_it_later(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lab network docker refuses to remove (here: a container outside the lab still
    uses it) makes destroy() fail naming it; the next `cclab up` of the same subnets comes
    up beside it (its links are the host's bridges, no docker network); a compose
    file rendered for a user, which keeps the real subnets, fails to start with an error
    that names the leftover lab; `cclab down` removes the leftover though the lab's
    journal is gone."""
    from lab.backends import docker as backend_module
    from lab.images.build import ensure_images

    name = unique_instance("dk-left")
    network = f"cclab-{name}-lan"
    blocker = f"cclab-{name}-blocker"
    docker = ["docker", "network", "create", "--internal", "--subnet", "10.99.7.0/24",
              "--label", f"{LABEL_INSTANCE}={name}", network]
    subprocess.run(docker, check=True, capture_output=True)
    try:
        subprocess.run(["docker", "run", "-d", "--name", blocker, "--network", network,
                        "--entrypoint", "sleep", ensure_images(), "120"],
                       check=True, capture_output=True)
        monkeypatch.setattr(backend_module, "REMOVE_TIMEOUT_S", 1.0)
        with pytest.raises(BackendError) as failed:
            backend_module.DockerBackend(name).destroy()
        assert network in str(failed.value)
        assert "docker network inspect" in str(failed.value)

        other = unique_instance("dk-next")
        up = cclab("up", str(_topology(tmp_path, "80")), "--backend", "docker", "--name",
                   other, timeout=300)
        try:
            assert up.returncode == 0, up.stderr
            got = cclab("exec", "client", "--name", other, "--", "curl", "-s", "-m", "5",
                        "http://10.99.7.80/pair")
            assert '"seen_source": "10.99.7.10"' in got.stdout, got.stdout + got.stderr
        finally:
            assert cclab("down", "--name", other, timeout=120).returncode == 0
        assert _leftovers(other) == {}

        failure = _start_rendered_compose(tmp_path, unique_instance("dk-user"))
        assert f"{network} (lab '{name}')" in failure, failure

        subprocess.run(["docker", "rm", "-f", blocker], check=True, capture_output=True)
        down = cclab("down", "--name", name, timeout=120)
        assert down.returncode == 0, down.stderr
        assert _leftovers(name) == {}
    finally:
        subprocess.run(["docker", "rm", "-f", blocker], capture_output=True)
        subprocess.run(["docker", "network", "rm", network], capture_output=True)


def _start_rendered_compose(tmp_path: Path, instance: str) -> str:
    """Start the pair as a user would a file from `cclab render` (real subnets); the
    start's error text, after the lab is removed again ('' if it started)."""
    from lab.backends.docker import DockerBackend
    from lab.compose import ComposePaths, compose_text
    from lab.schema import load_topology

    source = _topology(tmp_path, "80")
    backend = DockerBackend(instance)
    path = tmp_path / "docker-compose.yml"
    path.write_text(compose_text(load_topology(source), instance, ComposePaths(
        str(tmp_path), source.name, str(backend.names.run_dir))))
    backend.prepare_compose(path)
    try:
        backend._compose(["up", "-d", "--no-build"], path)
    except BackendError as exc:
        return str(exc)
    finally:
        backend.destroy()
    return ""


@pytest.mark.host_wide  # the engine must run no container: no other test's lab is up
@pytest.mark.quiet  # so it runs alone (suites/fixtures/parallel_groups.py)
def test_the_lab_engine_restarts_and_its_networks_can_go(tmp_path: Path) -> None:
    """destroy()'s repair for a network docker keeps with no endpoint (a stale count,
    moby#42119, seen in CI and here): restart the engine the lab started, while it runs no
    container. The engine comes back, a new process, and a network made before is removed."""
    from lab.backends import docker_engine as engine
    from lab.backends.docker import DockerBackend

    pid = engine.lab_engine_pid()
    if pid is None:
        pytest.skip("the docker engine was not started by the lab (`make engine`)")
    running = subprocess.run(["docker", "ps", "-q"], capture_output=True, text=True).stdout
    assert engine.may_restart(pid, running.split()), f"containers still run: {running}"
    name = unique_instance("dk-restart")
    network = f"cclab-{name}-lan"
    subprocess.run(["docker", "network", "create", "--internal", "--subnet", "10.99.8.0/24",
                    "--label", f"{LABEL_INSTANCE}={name}", network],
                   check=True, capture_output=True)
    engine.restart(pid)
    again = engine.lab_engine_pid()
    assert again is not None
    assert again != pid
    assert subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    DockerBackend(name).destroy()
    assert _leftovers(name) == {}


@pytest.mark.host_wide  # the engine restarts: no other test's lab may be on it
@pytest.mark.quiet  # so it runs alone (suites/fixtures/parallel_groups.py)
def test_a_call_hung_on_a_deadlocked_engine_restarts_it_and_is_tried_again() -> None:
    """The recovery from libnetwork's deadlock (lab.backends.engine_calls), end to end on
    the real engine: a docker call that hangs (`docker exec ... sleep`, as calls hang on a
    deadlocked engine), the engine's own goroutine dump (SIGUSR1), a restart, and the
    call tried once more on the new engine, with a warning. The deadlock cannot be made
    on demand, so the verdict on the dump is the one stand-in: here any dump that lists
    goroutines is called deadlocked. The real verdict is checked on a real deadlocked
    engine's dump (suites/unit/lab/test_engine_deadlock.py)."""
    from lab.backends import docker_engine as engine
    from lab.backends import engine_calls
    from lab.backends.engine_deadlock import Deadlock, Goroutine
    from lab.images.build import ensure_images

    pid = engine.lab_engine_pid()
    if pid is None:
        pytest.skip("the docker engine was not started by the lab (`make engine`)")
    name = unique_instance("dk-stuck")
    container = f"cclab-{name}-sleeper"
    subprocess.run(["docker", "run", "-d", "--name", container, "--network", "none",
                    "--label", f"{LABEL_INSTANCE}={name}", "--entrypoint", "sleep",
                    ensure_images(), "300"], check=True, capture_output=True)
    judged: list[int] = []
    dumps = set(engine.DUMP_FOLDER.glob("goroutine-stacks-*.log"))

    def any_dump_is_deadlocked(goroutines: list[Goroutine]) -> Deadlock | None:
        judged.append(len(goroutines))
        return Deadlock(0, 0, 1) if goroutines else None

    try:
        with pytest.warns(engine_calls.EngineRestartedWarning, match="was deadlocked"):
            retried = engine_calls.call_retrying(
                ["docker", "exec", container, "sleep", "60"], timeout=60, stuck_after=3,
                recover=lambda: engine.recover_if_deadlocked(any_dump_is_deadlocked))
        assert judged, "the hung call had the engine's dump judged"
        assert judged[0] > 10, f"a real engine's dump lists goroutines: {judged}"
        again = engine.lab_engine_pid()
        assert again is not None
        assert again != pid, "a new engine process"
        # tried again on the new engine, which stopped the container when it restarted
        assert retried.returncode != 0, retried
        assert "is not running" in retried.stderr, retried
        assert len(judged) == 1, "the retry returned at once: nothing more was judged"
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        for dump in set(engine.DUMP_FOLDER.glob("goroutine-stacks-*.log")) - dumps:
            dump.unlink()  # the stacks it kept for the "deadlock": this test's own
    assert _leftovers(name) == {}


def test_a_healthy_engine_asked_about_a_slow_call_is_left_running_and_its_dump_removed(
        ) -> None:
    """What a call that is merely slow costs (lab.backends.engine_calls asks at 65 s):
    the engine's real dump is judged not deadlocked by the real verdict, the engine keeps
    its process, and the dump is not left in /var/run/docker."""
    from lab.backends import docker_engine as engine
    from lab.backends.engine_deadlock import Deadlock, Goroutine, libnetwork_deadlock

    pid = engine.lab_engine_pid()
    if pid is None:
        pytest.skip("the docker engine was not started by the lab (`make engine`)")
    dumps = set(engine.DUMP_FOLDER.glob("goroutine-stacks-*.log"))
    judged: list[int] = []

    def real_verdict(goroutines: list[Goroutine]) -> Deadlock | None:
        judged.append(len(goroutines))
        return libnetwork_deadlock(goroutines)

    assert engine.recover_if_deadlocked(real_verdict) is None
    assert judged, "the engine's dump was read"
    assert judged[0] > 10, f"a real engine's dump lists goroutines: {judged}"
    assert engine.lab_engine_pid() == pid
    assert set(engine.DUMP_FOLDER.glob("goroutine-stacks-*.log")) == dumps
