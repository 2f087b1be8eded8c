"""Human and JSON descriptions of a running lab (what `up` and `status` print)."""

from __future__ import annotations

from typing import Any

from lab.model import Topology


def nodes_json(topo: Topology) -> list[dict[str, Any]]:
    return [
        {
            "name": node.name,
            "role": node.role,
            "interfaces": [
                {"name": i.name, "link": i.network, "address": str(i.address),
                 "public": str(i.public) if i.public else None}
                for i in node.interfaces
            ],
            "services": [s.kind for s in node.services],
        }
        for node in topo.nodes
    ]


def describe_lab(topo: Topology, status: dict[str, Any]) -> str:
    alive = {(p["node"], p["kind"]): p for p in status.get("processes", [])}
    lines = [f"lab '{status['instance']}' ({topo.name}, {status['backend']})",
             f"{'node':<11} {'role':<10} {'interface':<10} {'address':<17} link"]
    for node in topo.nodes:
        for n, iface in enumerate(node.interfaces):
            head = f"{node.name:<11} {node.role:<10}" if n == 0 else " " * 22
            public = f" public {iface.public}" if iface.public else ""
            address = str(iface.address)
            lines.append(f"{head} {iface.name:<10} {address:<17} {iface.network}{public}")
        for service in node.services:
            proc = alive.get((node.name, service.kind))
            state = f"pid {proc['pid']}" if proc and proc["alive"] else "NOT RUNNING"
            lines.append(f"{'':<22} service {service.kind}: {state}")
    lines += _connector_lines(topo)
    lines.append(f"events and logs: {status['run_dir']}")
    return "\n".join(lines)


def _connector_lines(topo: Topology) -> list[str]:
    out = []
    for node in topo.nodes:
        if node.role != "connector":
            continue
        for iface in node.interfaces:
            if iface.network == "service":
                out.append(f"connector {node.name}: service address {iface.address.ip} "
                           f"({iface.name})")
    return out
