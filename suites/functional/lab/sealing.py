"""Checks of a lab's sealing that hold on every backend (through `lab.exec`)."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network

from lab.api import LabHandle


def routes_leaving_the_lab(lab: LabHandle) -> list[tuple[str, dict]]:
    """Every route of every node whose next hop or direct subnet is outside the lab's links."""
    lab_nets = [net.subnet for net in lab.topology.networks]
    wrong = []
    for node in lab.topology.nodes:
        routes = json.loads(lab.exec(node.name, "ip", "-j", "route", "show", "table",
                                     "all").stdout or "[]")
        for route in routes:
            gateway = route.get("gateway")
            if gateway and not any(IPv4Address(gateway) in net for net in lab_nets):
                wrong.append((node.name, route))
            dst = route.get("dst", "")
            if (route.get("type") == "unicast" and "/" in dst and not gateway
                    and not any(IPv4Network(dst).subnet_of(net) for net in lab_nets)):
                wrong.append((node.name, route))
    return wrong
