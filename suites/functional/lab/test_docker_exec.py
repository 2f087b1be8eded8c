"""A command run in a docker node by its agent (lab.node_agent.exec_server) runs where
`docker exec` runs it: the same namespaces, cgroup, capabilities, seccomp, environment
and folder. `docker exec` itself is the oracle, asked directly."""

from __future__ import annotations

import subprocess
import time

import pytest

from lab.api import LabHandle
from lab.backends.agent_exec import exec_by_agent
from lab.compose import container_name
from lab.node_agent.exec_server import socket_path

pytestmark = [pytest.mark.docker,
              pytest.mark.parametrize("minimal_lab", ["docker"], indirect=True)]

NODE = "cc1"
# What makes a process's place in a container: read by the process itself.
WHERE = ("grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|Seccomp|NoNewPrivs):' /proc/self/status; "
         "cat /proc/self/cgroup; readlink /proc/self/ns/net /proc/self/ns/mnt "
         "/proc/self/ns/pid /proc/self/ns/uts /proc/self/ns/ipc; "
         "pwd; id; hostname; env | grep -v -E '^(_|SHLVL|PWD|OLDPWD)=' | sort")


def _by_agent(lab: LabHandle, argv: list[str], *, timeout: float = 10.0,
              input_text: str | None = None):
    answered = exec_by_agent(socket_path(lab.run_dir, NODE), argv, timeout=timeout,
                             input_text=input_text)
    assert answered is not None, "the node agent did not answer on its exec socket"
    return answered


def _by_docker(lab: LabHandle, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", container_name(lab.instance, NODE), *argv],
                          capture_output=True, text=True, check=False, timeout=30)


def test_a_command_runs_where_docker_exec_runs_it(minimal_lab: LabHandle) -> None:
    agent = _by_agent(minimal_lab, ["sh", "-c", WHERE])
    docker = _by_docker(minimal_lab, ["sh", "-c", WHERE])
    assert docker.returncode == 0, docker.stderr
    assert "CapEff" in docker.stdout
    assert (agent.returncode, agent.stdout) == (0, docker.stdout)


def test_input_output_and_exit_code_come_back_as_given(minimal_lab: LabHandle) -> None:
    got = _by_agent(minimal_lab, ["sh", "-c", "cat; echo to-stderr >&2; exit 3"],
                    input_text="from stdin\n")
    assert (got.returncode, got.stdout, got.stderr) == (3, "from stdin\n", "to-stderr\n")


def test_a_command_past_its_timeout_is_killed_and_answers_124(minimal_lab: LabHandle) -> None:
    started = time.monotonic()
    got = _by_agent(minimal_lab, ["sh", "-c", "sleep 30 & sleep 31; wait"], timeout=1.0)
    assert got.returncode == 124, got
    assert time.monotonic() - started < 10
    left = _by_docker(minimal_lab, ["sh", "-c", "ps -eo args | grep -c '^sleep 3[01]'"])
    assert left.stdout.strip() == "0", "a timed-out command's processes kept running"


def test_the_lab_api_uses_the_agent_and_falls_back_to_docker_without_it(
        minimal_lab: LabHandle) -> None:
    """Through the agent a command's parent is the agent; through `docker exec` it has
    none in the container (the engine started it from outside)."""
    agent_pid = int(_by_docker(minimal_lab, ["cat", "/run/cclab-node.pid"]).stdout)
    assert minimal_lab.exec(NODE, "sh", "-c", "echo $PPID").stdout.strip() == str(agent_pid)
    path = socket_path(minimal_lab.run_dir, NODE)
    hidden = path.with_suffix(".hidden")
    path.rename(hidden)
    try:
        parent = minimal_lab.exec(NODE, "sh", "-c", "echo $PPID").stdout.strip()
    finally:
        hidden.rename(path)
    assert parent == "0", "without the agent's socket the command still went through it"
