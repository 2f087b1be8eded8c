"""Checks of a lab's sealing that hold on every backend (through `lab.exec`)."""

from __future__ import annotations

import json
from ipaddress import IPv6Network, ip_address, ip_network

from lab.api import LabHandle

LINK_LOCAL = IPv6Network("fe80::/10")  # on-link only: never routed off the link


def routes_leaving_the_lab(lab: LabHandle) -> list[tuple[str, dict]]:
    """Every route of every node, IPv4 and IPv6, whose next hop or direct subnet is
    outside the lab's links (their `subnet` and, dual stack, `subnet6`)."""
    lab_nets = [net.subnet for net in lab.topology.networks]
    lab_nets += [net.subnet6 for net in lab.topology.networks if net.subnet6 is not None]
    wrong = []
    for node in lab.topology.nodes:
        for family in ("-4", "-6"):
            routes = json.loads(lab.exec(node.name, "ip", "-j", family, "route", "show",
                                         "table", "all").stdout or "[]")
            wrong += [(node.name, r) for r in routes if _leaves(r, lab_nets)]
    return wrong


def _leaves(route: dict, lab_nets: list) -> bool:
    gateway = route.get("gateway")
    if gateway and not any(ip_address(gateway) in net for net in lab_nets):
        return True
    dst = route.get("dst", "")
    if route.get("type", "unicast") != "unicast" or "/" not in dst or gateway:
        return False
    net = ip_network(dst)
    if net.version == 6 and net.subnet_of(LINK_LOCAL):
        return False
    return not any(net.version == lab.version and net.subnet_of(lab) for lab in lab_nets)
