"""A node's forwarding decision, as the plan sets its kernel up (lab.plan `_routes`).

The main table holds the connected subnets and the routes without `from`. A rule
at priority 1000 looks it up with `suppress_prefixlength 0` (specific routes win,
its default route does not), then each per-source table in the order its source
first appears, then the main table again (its default route).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from lab.model import Node


@dataclass(frozen=True, slots=True)
class NextHop:
    iface: str
    via: IPv4Address  # the neighbour to hand the packet to (the destination when connected)
    why: str


def next_hop(node: Node, src: IPv4Address, dst: IPv4Address) -> NextHop | None:
    connected = [(i.address.network, i.name) for i in node.interfaces]
    # IPv4: the reachability walk's probes are IPv4; IPv6 routes play no part in it
    main = [(r.to, r.via, i) for i, r in enumerate(node.routes) if r.source is None
            and isinstance(r.to, IPv4Network) and isinstance(r.via, IPv4Address)]
    specific: list[tuple[IPv4Network, IPv4Address | None, object]] = [
        (net, None, ifname) for net, ifname in connected if dst in net]
    specific += [(to, via, i) for to, via, i in main if to.prefixlen > 0 and dst in to]
    if specific:
        return _choose(node, dst, max(specific, key=lambda c: c[0].prefixlen))
    tables: dict[IPv4Network, list[tuple[IPv4Network, IPv4Address, int]]] = {}
    for i, r in enumerate(node.routes):
        if isinstance(r.source, IPv4Network) and isinstance(r.to, IPv4Network) \
                and isinstance(r.via, IPv4Address):
            tables.setdefault(r.source, []).append((r.to, r.via, i))
    for source, routes in tables.items():
        if src in source:
            hits = [c for c in routes if dst in c[0]]
            if hits:
                return _choose(node, dst, max(hits, key=lambda c: c[0].prefixlen))
    defaults = [(to, via, i) for to, via, i in main if dst in to]
    return _choose(node, dst, defaults[0]) if defaults else None


def forced_hop(node: Node, via: IPv4Address) -> NextHop | None:
    """The hop to `via`, a neighbour on one of `node`'s links, whatever the routes say."""
    iface = next((i for i in node.interfaces if via in i.address.network), None)
    return None if iface is None else NextHop(iface.name, via, f"handed to {via}")


def _choose(node: Node, dst: IPv4Address,
            choice: tuple[IPv4Network, IPv4Address | None, object]) -> NextHop | None:
    net, via, index = choice
    hop = via or dst
    iface = next((i for i in node.interfaces if hop in i.address.network), None)
    if iface is None:
        return None
    why = f"connected {net}" if via is None else \
        f"route {net} via {via} (nodes.{node.name}.routes[{index}])"
    return NextHop(iface.name, hop, why)
