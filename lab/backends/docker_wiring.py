"""A `cclab up` docker lab's links, made by the host as the netns backend makes them.

Docker makes each container (`network_mode: none`: a network namespace with only its
loopback) and the host does the rest: one bridge per link, named as a docker network's
bridge would be (`compose.bridge_name`), so the fabric's seal and the security groups
(docker_fabric.py) name the same devices, and one veth per interface, its container end
created in the node's namespace under the plan's name. The node agent, which waits for
its interfaces to appear (`lab.node_agent.wiring`), then adds the planned addresses,
routes and rules as it does on docker's networks.

Why not docker's networks: for each container docker re-executes itself three times
(`set-ipv6`, `setup-resolver`, the `libnetwork-setkey` hook) and sets up an embedded
resolver the lab never uses; measured on aws-natgw (22 containers, 9 links, containers
that only sleep), up and down took 8.0 s and 11 CPU-s on docker's networks against
5.1 s and 8.0 CPU-s wired here (docs/decisions.md, "Docker labs wired by the host").
A compose file rendered for a user (`cclab render`) keeps docker's networks: it has to
work with `docker compose up` alone.

Everything the host makes carries the lab's name: each bridge's and each veth's host
end's alias is `cclab:INSTANCE`, which is how `destroy` finds them, after a bring-up
that failed half way too. A veth does not always go with its container: a namespace
outlives its last process while anything holds it (an open reference, an orphaned TCP
socket still sending its FIN to a peer that is gone), and its veths with it, so a lab
brought up again under the same name would find its host ends' names taken. `destroy`
deletes them by their alias (a veth's deletion takes its other end with it).
"""

from __future__ import annotations

import hashlib
import json
import subprocess

from lab import compose
from lab.errors import BackendError
from lab.model import Topology


def bridge_alias(instance: str) -> str:
    return f"cclab:{instance}"


def host_port(instance: str, node: str, ifname: str) -> str:
    """The host's end of a node interface's veth: 15 characters at most, stable."""
    return "ccv" + hashlib.sha256(f"{instance}/{node}/{ifname}".encode()).hexdigest()[:10]


def wiring_lines(topo: Topology, instance: str, pids: dict[str, int]) -> list[str]:
    """`ip -batch` lines that make every link of `topo`, given each node's container PID.
    Pure."""
    lines: list[str] = []
    for net in topo.networks:
        bridge = compose.bridge_name(instance, net.name)
        lines += [f"link add {bridge} type bridge",
                  f"link set dev {bridge} alias {bridge_alias(instance)}",
                  f"link set dev {bridge} up"]
    for node in topo.nodes:
        for iface in node.interfaces:
            port = host_port(instance, node.name, iface.name)
            lines += [f"link add {port} type veth peer name {iface.name} netns {pids[node.name]}",
                      f"link set dev {port} master {compose.bridge_name(instance, iface.network)}"
                      f" alias {bridge_alias(instance)} up"]
    return lines


def wire(topo: Topology, instance: str, pids: dict[str, int]) -> None:
    """Make every link; on a failure, remove what was made and say which line failed."""
    lines = wiring_lines(topo, instance, pids)
    done = subprocess.run(["ip", "-batch", "-"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        remove_links(instance)
        raise BackendError(f"wiring the lab's links failed: {done.stderr.strip()}\n"
                           "    hint: `ip -br link` shows what is on the host; a link of the "
                           f"same name is another lab's of the name '{instance}'",
                           backend="docker")


def lab_links(instance: str) -> list[str]:
    """The host's bridges and veth ends made for `instance` (by their alias)."""
    return [name for name, alias in _aliased_links() if alias == bridge_alias(instance)]


def wired_instances() -> set[str]:
    """Every lab with a bridge or a veth on the host, journal or not: what `cclab down
    --all`, or `down` of a lab whose run folder is gone, finds to remove."""
    prefix = bridge_alias("")
    return {alias.removeprefix(prefix) for _, alias in _aliased_links()
            if alias.startswith(prefix)}


def _aliased_links() -> list[tuple[str, str]]:
    """(name, alias) of every link in the host's namespace that has an alias."""
    done = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True,
                          check=False, timeout=30)
    links = json.loads(done.stdout or "[]") if done.returncode == 0 else []
    return [(str(link["ifname"]), str(link["ifalias"])) for link in links
            if link.get("ifalias")]


def remove_links(instance: str) -> None:
    """Delete the lab's bridges and veth ends (`-force`: one already gone, its namespace
    freed meanwhile, stops none of the others)."""
    links = lab_links(instance)
    if links:
        subprocess.run(["ip", "-force", "-batch", "-"],
                       input="".join(f"link del {name}\n" for name in links),
                       capture_output=True, text=True, check=False, timeout=60)
