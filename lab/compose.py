"""Topology -> docker-compose model. Pure: the same topology and paths give the same file.

Every link becomes an `internal` bridge network with the link's subnet (or a
stand-in where links overlap, see `docker_subnets`), except in a lab `cclab up`
starts (`wired_by_host`): there every container has `network_mode: none` and the host
makes the links (backends/docker_wiring.py); every
node a container of the lab image whose entrypoint, the node agent, wires the
node as the plan says (interface names, routes, nftables) and starts its
services. Docker needs an address of each subnet for the host's side of the
bridge; it gets the highest address no endpoint uses, and the host drops
everything the lab sends to it (docker_fabric.py). No port is published.

The file is written in compose format 2.4, which both Debian's docker-compose
(v1) and `docker compose` (v2) read, and which, unlike 3.x, keeps `gateway`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

import yaml

from lab.container_layout import CONTAINER_RUN as CONTAINER_RUN
from lab.container_layout import CONTAINER_TOPOLOGY as CONTAINER_TOPOLOGY
from lab.container_layout import STAND_IN_SPACE as STAND_IN_SPACE
from lab.model import Network, Node, Service, Topology
from lab.node_agent.share import NodeShare
from lab.plan import build_plan, node_sysctls, steps_for_node
from lab.services import KINDS

LABEL_INSTANCE = "org.cclab.instance"
LABEL_NODE = "org.cclab.node"


@dataclass(frozen=True, slots=True)
class ComposePaths:
    """Host paths the containers mount (the topology's folder and the lab's run folder),
    the image, and who makes the links."""

    topology_dir: str
    topology_file: str  # the file's name inside topology_dir
    run_dir: str
    image: str = "cclab/lab:latest"
    # `cclab up`: no docker networks, the host makes the links (backends/docker_wiring.py)
    wired_by_host: bool = False


def project_name(instance: str) -> str:
    return f"cclab-{instance}"


def container_name(instance: str, node: str) -> str:
    return f"cclab-{instance}-{node}"


def network_name(instance: str, link: str) -> str:
    return f"cclab-{instance}-{link}"


def bridge_name(instance: str, link: str) -> str:
    """The host's bridge device for a link: 15 characters at most, stable per instance+link."""
    return "ccb" + hashlib.sha256(f"{instance}/{link}".encode()).hexdigest()[:10]


def docker_subnets(topo: Topology) -> dict[str, IPv4Network]:
    """The subnet docker's IPAM is given per link.

    Docker refuses two networks with overlapping subnets, on one engine. In a compose
    file rendered for a user to start (like docker-compose.lab.yml; a lab `cclab up`
    starts has no docker network), links keep their own subnets, except one that
    overlaps an earlier link of the lab (isolated sites, both 192.0.2.0/24): it gets a
    block of the same size from 100.64.0.0/10. Containers are attached at the same
    offsets, and the node agent puts the planned addresses in place (`docker_address`).
    """
    given: dict[str, IPv4Network] = {}
    for net in topo.networks:
        subnet = net.subnet
        if any(subnet.overlaps(other) for other in given.values()):
            size = max(subnet.prefixlen, STAND_IN_SPACE.prefixlen)
            subnet = next(b for b in STAND_IN_SPACE.subnets(new_prefix=size)
                          if not any(b.overlaps(o) for o in given.values()))
        given[net.name] = subnet
    return given


def docker_address(topo: Topology, link: str, address: IPv4Address) -> IPv4Address:
    """Where docker attaches `address` of `link`: itself, or its twin in the stand-in."""
    real = next(n.subnet for n in topo.networks if n.name == link)
    given = docker_subnets(topo)[link]
    return given.network_address + (int(address) - int(real.network_address))


def attached_addresses(topo: Topology, node: str) -> dict[str, IPv4Interface]:
    """Where docker attaches each interface of `node` (see `docker_subnets`)."""
    return {i.name: IPv4Interface(f"{docker_address(topo, i.network, i.address.ip)}/"
                                  f"{i.address.network.prefixlen}")
            for i in topo.node(node).interfaces}


def node_shares(topo: Topology, instance: str, digest: str, *,
                wired_by_host: bool = False) -> list[NodeShare]:
    """Every node's share of the plan, as its agent would plan it from the same file.
    `wired_by_host`: the host makes the node's interfaces under their planned names, with
    no address (backends/docker_wiring.py); the agent waits for them."""
    plan = build_plan(topo, instance)
    return [NodeShare(instance, node.name, digest, tuple(steps_for_node(plan, instance, node.name)),
                      {} if wired_by_host else attached_addresses(topo, node.name),
                      wired_by_host)
            for node in topo.nodes]


def host_side_address(topo: Topology, net: Network) -> IPv4Address:
    """The highest address of the subnet that no endpoint uses: docker's bridge takes it
    (in the link's docker subnet, see `docker_subnets`)."""
    used = {i.address.ip for n in topo.nodes for i in n.interfaces if i.network == net.name}
    candidate = net.subnet.broadcast_address - 1
    while candidate in used:
        candidate -= 1
    if candidate <= net.subnet.network_address:
        raise ValueError(f"link '{net.name}': no free address in {net.subnet} for docker")
    return docker_address(topo, net.name, candidate)


def render_compose(topo: Topology, instance: str, paths: ComposePaths) -> dict[str, Any]:
    services = {node.name: _service(topo, node, instance, paths) for node in topo.nodes}
    if paths.wired_by_host:
        return {"version": "2.4", "services": services}
    return {
        "version": "2.4",
        "services": services,
        "networks": {net.name: _network(topo, net, instance)
                     for net in topo.networks},
    }


def compose_text(topo: Topology, instance: str, paths: ComposePaths) -> str:
    header = (f"# Lab '{instance}' from topology '{topo.name}', rendered by\n"
              f"#   cclab render {topo.name} --backend docker --name {instance}\n"
              "# Do not edit: a golden test renders it again and compares.\n"
              f"# Run: docker-compose -p {project_name(instance)} -f THIS_FILE up -d\n"
              f"#      cclab ready --name {instance}   (host side, then waits for every node)\n")
    body = yaml.dump(render_compose(topo, instance, paths), Dumper=_Dumper, sort_keys=False,
                     default_flow_style=False, width=100)
    return header + body


class _Dumper(yaml.SafeDumper):
    """Lists of plain values on one line (`cap_add: [NET_ADMIN]`), the rest in blocks."""


def _list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(isinstance(x, str | int) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_Dumper.add_representer(list, _list)


def _service(topo: Topology, node: Node, instance: str, paths: ComposePaths) -> dict[str, Any]:
    service: dict[str, Any] = {
        "image": paths.image,
        "container_name": container_name(instance, node.name),
        "hostname": node.name,
        "command": ["--node", node.name, "--instance", instance,
                    "--topology", f"{CONTAINER_TOPOLOGY}/{paths.topology_file}"],
        "init": True,
        # NET_ADMIN: the agent names interfaces, routes and loads nftables; NET_RAW
        # (docker's default set) covers raw sockets. Nothing runs --privileged.
        "cap_add": _capabilities(topo, node),
    }
    if _needs_tun(node):
        service["devices"] = ["/dev/net/tun:/dev/net/tun"]
    service["sysctls"] = dict(node_sysctls(node))
    if paths.wired_by_host:
        service["network_mode"] = "none"
    else:
        service["networks"] = {
            i.network: {"ipv4_address": str(docker_address(topo, i.network, i.address.ip))}
            for i in node.interfaces}
    service["volumes"] = [f"{paths.topology_dir}:{CONTAINER_TOPOLOGY}:ro",
                          f"{paths.run_dir}:{CONTAINER_RUN}"]
    service["labels"] = {LABEL_INSTANCE: instance, LABEL_NODE: node.name}
    # No health check: each is a `docker exec` (a containerd shim's 40 ms of CPU), and at
    # 10 s a 20-node lab kept 13 % of a core busy doing nothing else. Nothing waited on it:
    # readiness is the node agents' reports (`cclab status`, `cclab ready`).
    service["stop_grace_period"] = "5s"
    return service


def _capabilities(topo: Topology, node: Node) -> list[str]:
    """NET_ADMIN for every node; SYS_ADMIN too for a connector that loads a fast path
    (GENEVE or routed), or a GWLB that loads its own (`fast-path: "on"`), each a tc BPF
    program: this docker (20.10) knows no CAP_BPF, and its seccomp profile lets bpf()
    through only with SYS_ADMIN."""
    loads_bpf = any((s.kind == "connector" and _fast_path_on(topo, s))
                    or (s.kind == "gwlb" and s.option("fast-path", "off") == "on")
                    for s in node.services)
    return ["NET_ADMIN", "SYS_ADMIN"] if loads_bpf else ["NET_ADMIN"]


def _fast_path_on(topo: Topology, service: Service) -> bool:
    """Does the connector config this service names ask for the fast path? An unreadable
    one is the connector's to report when it starts."""
    if topo.source is None:
        return False
    try:
        data = yaml.safe_load((topo.source.parent / service.option("config")).read_text())
    except (OSError, yaml.YAMLError):
        return False
    runtime = data.get("runtime") if isinstance(data, dict) else None
    return isinstance(runtime, dict) and any(
        runtime.get(option) is True for option in ("geneve_fast_path", "routed_fast_path"))


def _needs_tun(node: Node) -> bool:
    return any(KINDS[s.kind].needs_tun for s in node.services)


def _network(topo: Topology, net: Network, instance: str) -> dict[str, Any]:
    gateway = host_side_address(topo, net)
    return {
        "name": network_name(instance, net.name),
        "driver": "bridge",
        "internal": True,
        "driver_opts": {"com.docker.network.bridge.name": bridge_name(instance, net.name)},
        "ipam": {"config": [{"subnet": str(docker_subnets(topo)[net.name]),
                             "gateway": str(gateway)}]},
        "labels": {LABEL_INSTANCE: instance},
    }

