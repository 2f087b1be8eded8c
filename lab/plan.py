"""Topology -> ordered steps. Pure: the same topology and instance give the same plan.

Layout of a lab instance: every node is a namespace; every link is a bridge in
one switch namespace of the instance; each endpoint is a veth pair with its
node end in the node's namespace and its peer on the bridge. Nothing is created
in the host's namespace, so nothing of the lab touches the host's networks.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Network, IPv6Network

from lab.gateways import render_gateway
from lab.model import Node, Topology
from lab.names import LabNames
from lab.security_groups import render_security_groups
from lab.services import KINDS, build_argv
from lab.steps import (
    MAIN_TABLE,
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

FIRST_SOURCE_TABLE = 100
SUPPRESS_PRIORITY = 1000
FIRST_SOURCE_PRIORITY = 2000

# Applied to every node namespace before its interfaces exist (default.* then
# reaches them): no IPv6 chatter in captures, no redirects from routers.
BASE_SYSCTLS = (
    ("net.ipv6.conf.all.disable_ipv6", "1"),
    ("net.ipv6.conf.default.disable_ipv6", "1"),
    ("net.ipv4.conf.all.send_redirects", "0"),
    ("net.ipv4.conf.default.send_redirects", "0"),
    ("net.ipv4.conf.all.rp_filter", "0"),
    ("net.ipv4.conf.default.rp_filter", "0"),
)


def build_plan(topo: Topology, instance: str | None = None) -> list[Step]:
    """Every step that brings `topo` up as lab `instance` (default: the topology's name)."""
    names = LabNames(instance or topo.name)
    return [
        *_namespaces(topo, names),
        *_bridges(topo, names),
        *(step for node in topo.nodes for step in _node_steps(topo, node, names)),
        *_services(topo, names),
    ]


def _namespaces(topo: Topology, names: LabNames) -> Iterator[Step]:
    yield CreateNamespace(names.switch_ns, "")
    yield SetSysctl(names.switch_ns, "net.ipv6.conf.all.disable_ipv6", "1")
    yield SetSysctl(names.switch_ns, "net.ipv6.conf.default.disable_ipv6", "1")
    for node in topo.nodes:
        ns = names.node_ns(node.name)
        yield CreateNamespace(ns, node.name)
        for key, value in node_sysctls(node):
            yield SetSysctl(ns, key, value)


# A dual-stack node (one with an IPv6 address) has IPv6 on, and only what its plan
# gives it: no router advertisements taken or solicited, no autoconfigured
# addresses, no duplicate address detection (addresses are planned, unique).
IPV6_SYSCTLS = (
    ("net.ipv6.conf.all.disable_ipv6", "0"),
    ("net.ipv6.conf.default.disable_ipv6", "0"),
    ("net.ipv6.conf.all.accept_ra", "0"),
    ("net.ipv6.conf.default.accept_ra", "0"),
    ("net.ipv6.conf.default.autoconf", "0"),
    ("net.ipv6.conf.default.router_solicitations", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
)


def node_sysctls(node: Node) -> list[tuple[str, str]]:
    base = list(BASE_SYSCTLS)
    forwards = node.forwards or any(KINDS[s.kind].forwards for s in node.services)
    if forwards:
        base.append(("net.ipv4.ip_forward", "1"))
    if node.dual_stack:
        six = dict(IPV6_SYSCTLS)
        base = [(k, six.pop(k, v)) for k, v in base] + list(six.items())
        if forwards:
            base.append(("net.ipv6.conf.all.forwarding", "1"))
    return base + list(node.sysctls)


def _bridges(topo: Topology, names: LabNames) -> Iterator[Step]:
    for i, net in enumerate(topo.networks):
        yield CreateBridge(names.switch_ns, bridge_name(i), net.name)
        yield LinkUp(names.switch_ns, bridge_name(i))
    ruleset = render_security_groups(topo, peer_names(topo), bridges={
        net.name: bridge_name(i) for i, net in enumerate(topo.networks)})
    if ruleset:
        # Bridged IPv4 goes through the inet hooks (with conntrack) of the switch namespace.
        yield SetSysctl(names.switch_ns, "net.bridge.bridge-nf-call-iptables", "1")
        if any(net.subnet6 for net in topo.networks):  # bridged IPv6 too: IPv6 rules judge it
            yield SetSysctl(names.switch_ns, "net.bridge.bridge-nf-call-ip6tables", "1")
        yield LoadNftables(names.switch_ns, ruleset)


def bridge_name(link_index: int) -> str:
    return f"br{link_index}"


def peer_names(topo: Topology) -> dict[tuple[str, str], str]:
    """The bridge-side name of every endpoint: v<link index>-<position on the link>."""
    link_index = {net.name: i for i, net in enumerate(topo.networks)}
    seen: dict[str, int] = {}
    peers = {}
    for node in topo.nodes:
        for iface in node.interfaces:
            position = seen.get(iface.network, 0)
            seen[iface.network] = position + 1
            peers[(node.name, iface.name)] = f"v{link_index[iface.network]}-{position}"
    return peers


def _node_steps(topo: Topology, node: Node, names: LabNames) -> Iterator[Step]:
    ns = names.node_ns(node.name)
    link_index = {net.name: i for i, net in enumerate(topo.networks)}
    peers = peer_names(topo)
    yield LinkUp(ns, "lo")
    for iface in node.interfaces:
        i = link_index[iface.network]
        peer = peers[(node.name, iface.name)]
        yield CreateVeth(ns, iface.name, names.switch_ns, peer, bridge_name(i))
        yield AddAddress(ns, iface.name, iface.address)
        if iface.address6 is not None:
            yield AddAddress(ns, iface.name, iface.address6)
        yield LinkUp(ns, iface.name)
    yield from _routes(node, ns)
    if node.gateway is not None:
        yield LoadNftables(ns, render_gateway(topo, node.gateway))
    if node.nftables.strip():
        yield LoadNftables(ns, node.nftables)
    if topo.dns:
        yield WriteResolvConf(ns, topo.dns)


def _routes(node: Node, ns: str) -> Iterator[Step]:
    tables: dict[IPv4Network | IPv6Network, int] = {}
    for route in node.routes:
        if route.source is None:
            yield AddRoute(ns, route.to, route.via)
            continue
        table = tables.setdefault(route.source, FIRST_SOURCE_TABLE + len(tables))
        yield AddRoute(ns, route.to, route.via, table)
    # Local and specific routes of the main table win; only defaults go per source.
    # Policy rules are per family: IPv6 sources get rules of their own.
    for family in (4, 6):
        if any(source.version == family for source in tables):
            yield AddRule(ns, SUPPRESS_PRIORITY, MAIN_TABLE, None, suppress_prefixlength=0,
                          family=family)
    for k, (source, table) in enumerate(tables.items()):
        yield AddRule(ns, FIRST_SOURCE_PRIORITY + k, table, source, family=source.version)


def _services(topo: Topology, names: LabNames) -> Iterator[Step]:
    started = []
    for node in topo.nodes:
        for service in node.services:
            yield StartService(names.node_ns(node.name), node.name, service.kind,
                               build_argv(node, service))
            started.append((node.name, service.kind))
    for node_name, kind in started:
        yield WaitReady(node_name, kind)


def steps_for_node(plan: list[Step], instance: str, node: str) -> list[Step]:
    """The steps that act inside `node` (its share of the plan, for an in-node agent)."""
    ns = LabNames(instance).node_ns(node)
    return [s for s in plan if (s.node == node if isinstance(s, WaitReady)
                                else getattr(s, "ns", None) == ns)]


def render_plan(steps: list[Step]) -> str:
    """The plan as text, one step a line (progress output and golden files)."""
    return "\n".join(f"{n:3d}. {step.describe()}" for n, step in enumerate(steps, 1)) + "\n"
