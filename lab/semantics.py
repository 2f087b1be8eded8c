"""Semantic checks on a parsed topology: each returns issues, none raises.

These catch what a schema cannot: references between parts (a route via an
address nobody owns), overlaps, and kernel limits (interface names).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from lab.model import Node, SecurityGroup, Topology
from lab.services import KINDS
from yamlissues import Issue

NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
IFNAMSIZ = 15


@dataclass(frozen=True, slots=True)
class Paths:
    """Where each link and endpoint stands in the YAML, for messages."""

    links: dict[str, int] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def link(self, name: str) -> str:
        return f"links[{self.links.get(name, '?')}]"

    def endpoint(self, node: str, ifname: str, nth: int = 0) -> str:
        found = self.endpoints.get((node, ifname), [])
        return found[min(nth, len(found) - 1)] if found else f"nodes.{node}"


def check_topology(topo: Topology, paths: Paths, base: Path | None) -> list[Issue]:
    checks = (_names(topo, paths), _subnets(topo, paths), _interfaces(topo, paths),
              _addresses(topo, paths), _addresses6(topo, paths), _routes(topo), _dns(topo),
              _services(topo, base), _security_groups(topo, paths), _gateways(topo),
              _cloud_rules(topo, paths))
    return [issue for check in checks for issue in check]


def _issue(path: str, message: str, hint: str = "") -> Issue:
    return Issue("", path, message, hint)


def _names(topo: Topology, paths: Paths) -> Iterator[Issue]:
    hint = "use lower-case letters, digits and '-', starting with a letter, at most 31"
    if not NAME.match(topo.name):
        yield _issue("name", f"invalid lab name '{topo.name}'", hint)
    for node in topo.nodes:
        if not NAME.match(node.name):
            yield _issue(f"nodes.{node.name}", f"invalid node name '{node.name}'", hint)
    seen: set[str] = set()
    for net in topo.networks:
        if not NAME.match(net.name):
            yield _issue(f"{paths.link(net.name)}.name", f"invalid link name '{net.name}'", hint)
        if net.name in seen:
            yield _issue(f"{paths.link(net.name)}.name", f"duplicate link name '{net.name}'",
                         "give each link its own name")
        seen.add(net.name)


def _subnets(topo: Topology, paths: Paths) -> Iterator[Issue]:
    nets = list(topo.networks)
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            if a.isolated and b.isolated:
                continue  # two private sites may reuse addresses: nothing routes between them
            if a.subnet.overlaps(b.subnet):
                yield _issue(f"{paths.link(b.name)}.subnet",
                             f"subnet {b.subnet} of link '{b.name}' overlaps {a.subnet} "
                             f"of link '{a.name}'",
                             "give each link a subnet of its own, or mark both "
                             "'isolated: true' if they are private sites nothing routes to")
            if a.subnet6 and b.subnet6 and a.subnet6.overlaps(b.subnet6):
                yield _issue(f"{paths.link(b.name)}.subnet6",
                             f"subnet6 {b.subnet6} of link '{b.name}' overlaps {a.subnet6} "
                             f"of link '{a.name}'", "give each link an IPv6 prefix of its own")


def _interfaces(topo: Topology, paths: Paths) -> Iterator[Issue]:
    for node in topo.nodes:
        seen: list[str] = []
        for iface in node.interfaces:
            path = paths.endpoint(node.name, iface.name, seen.count(iface.name))
            if len(iface.name) > IFNAMSIZ:
                yield _issue(f"{path}.ifname", f"interface name '{iface.name}' has "
                             f"{len(iface.name)} characters; the kernel allows {IFNAMSIZ}",
                             "shorten it, e.g. eth-svc")
            elif not IFNAME.match(iface.name):
                yield _issue(f"{path}.ifname", f"invalid interface name '{iface.name}'",
                             "use letters, digits, '-', '_' and '.'")
            if iface.name in seen:
                yield _issue(f"{path}.ifname",
                             f"node '{node.name}' has two interfaces named '{iface.name}'",
                             "give each interface of a node its own name")
            seen.append(iface.name)


def _addresses(topo: Topology, paths: Paths) -> Iterator[Issue]:
    owners: dict[tuple[str, IPv4Address], str] = {}
    subnets = {net.name: net.subnet for net in topo.networks}
    # An isolated link is an address space of its own; all the others share one.
    space = {net.name: net.name if net.isolated else "" for net in topo.networks}
    for node in topo.nodes:
        for iface in node.interfaces:
            path = f"{paths.endpoint(node.name, iface.name)}.address"
            subnet = subnets.get(iface.network)
            ip = iface.address.ip
            if subnet is not None and iface.address.network != subnet:
                yield _issue(path, f"{iface.address} is not in subnet {subnet} of link "
                             f"'{iface.network}'", f"use an address inside {subnet}")
            elif subnet is not None and ip in (subnet.network_address, subnet.broadcast_address):
                yield _issue(path, f"{ip} is the network or broadcast address of {subnet}",
                             "use a host address")
            key = (space.get(iface.network, ""), ip)
            if key in owners:
                yield _issue(path, f"duplicate address {ip} (also on {owners[key]})",
                             "every interface needs its own address")
            owners.setdefault(key, f"{node.name}/{iface.name}")


def _addresses6(topo: Topology, paths: Paths) -> Iterator[Issue]:
    """Dual stack: an IPv6 address needs its link's `subnet6`, inside it, once in the lab."""
    owners: dict[IPv6Address, str] = {}
    for node in topo.nodes:
        for iface in node.interfaces:
            if iface.address6 is None:
                continue
            path = f"{paths.endpoint(node.name, iface.name)}.address6"
            subnet6 = topo.network(iface.network).subnet6
            ip = iface.address6.ip
            if subnet6 is None:
                yield _issue(path, f"link '{iface.network}' has no IPv6 subnet for {ip}",
                             f"give link '{iface.network}' a `subnet6:` (e.g. fd00:10:1::/64), "
                             "or remove address6")
            elif iface.address6.network != subnet6:
                yield _issue(path, f"{iface.address6} is not in subnet6 {subnet6} of link "
                             f"'{iface.network}'", f"use an address inside {subnet6}")
            if ip in owners:
                yield _issue(path, f"duplicate address {ip} (also on {owners[ip]})",
                             "every interface needs its own address")
            owners.setdefault(ip, f"{node.name}/{iface.name}")


def _routes(topo: Topology) -> Iterator[Issue]:
    for node in topo.nodes:
        for i, route in enumerate(node.routes):
            path = f"nodes.{node.name}.routes[{i}].via"
            families = {route.to.version, route.via.version} | (
                {route.source.version} if route.source is not None else set())
            if len(families) > 1:
                yield _issue(path, f"route to {route.to} via {route.via}"
                             + (f" from {route.source}" if route.source else "")
                             + " mixes IPv4 and IPv6",
                             "an IPv6 prefix (::/0) takes an IPv6 next hop and `from:`; "
                             "an IPv4 one (default) IPv4 ones")
            elif topo.owner_of(route.via) is None:
                yield _issue(path, f"route to {route.to} via {route.via}: no node owns "
                             f"{route.via}", "a next hop must be an address of a lab node")
            elif not _on_link(node, route.via):
                yield _issue(path, f"{route.via} is not on any link of '{node.name}'",
                             "the next hop must be in the subnet of one of its interfaces")


def _on_link(node: Node, address: IPv4Address | IPv6Address) -> bool:
    if address.version == 6:
        return any(iface.address6 is not None and address in iface.address6.network
                   for iface in node.interfaces)
    return any(address in iface.address.network for iface in node.interfaces)


def _dns(topo: Topology) -> Iterator[Issue]:
    for i, server in enumerate(topo.dns):
        if topo.owner_of(server) is None:
            yield _issue(f"dns[{i}]", f"resolver {server} is not a lab address",
                         "lab nodes resolve names only through lab DNS servers")


def _security_groups(topo: Topology, paths: Paths) -> Iterator[Issue]:
    known = sorted(group.name for group in topo.security_groups)
    for node in topo.nodes:
        for iface in node.interfaces:
            for k, name in enumerate(iface.security_groups):
                if name not in known:
                    close = difflib.get_close_matches(name, known, n=1)
                    hint = f"did you mean '{close[0]}'?" if close else \
                        f"define it under security_groups: ({', '.join(known) or 'none yet'})"
                    yield _issue(f"{paths.endpoint(node.name, iface.name)}.security_groups[{k}]",
                                 f"unknown security group '{name}'", hint)


NSG_TAGS = ("VirtualNetwork", "AzureLoadBalancer", "Internet")


def _nsg_levels(topo: Topology, paths: Paths, groups: dict[str, SecurityGroup]
                ) -> Iterator[Issue]:
    """Azure allows one NSG on a subnet and one on a NIC; a subnet has no AWS groups."""
    for net in topo.networks:
        kinds = [groups[g].kind for g in net.security_groups if g in groups]
        if "gcp-firewall" in kinds:
            yield _issue(f"{paths.link(net.name)}.security_groups",
                         "GCP firewall rules belong to the NICs, not to a subnet",
                         "name the group on the endpoints of the network's NICs; its "
                         "`targets:` choose instances")
        elif kinds and (kinds.count("nsg") > 1 or "sg" in kinds):
            yield _issue(f"{paths.link(net.name)}.security_groups",
                         "a subnet takes one NSG (kind: nsg), no security groups",
                         "AWS groups belong on interfaces; Azure allows one NSG per subnet")
    for node in topo.nodes:
        for iface in node.interfaces:
            kinds = [groups[g].kind for g in iface.security_groups if g in groups]
            if "nsg" in kinds and len(kinds) > 1:
                yield _issue(f"{paths.endpoint(node.name, iface.name)}.security_groups",
                             "an interface takes one NSG, alone",
                             "Azure allows one NSG per NIC; put its rules in one group")
            if "gcp-firewall" in kinds and len(kinds) > 1:
                yield _issue(f"{paths.endpoint(node.name, iface.name)}.security_groups",
                             "an interface takes one VPC network's firewall rules, alone",
                             "a GCP NIC is in one VPC network: put that network's rules in "
                             "one group of kind gcp-firewall")


def _cloud_rules(topo: Topology, paths: Paths) -> Iterator[Issue]:
    """Subnet NSGs and network ACLs exist; an ACL's router is on its links; an NSG's
    default rules have their tags; a user-defined route says which subnet it serves."""
    groups = {g.name: g for g in topo.security_groups}
    acls = {a.name: a for a in topo.network_acls}
    for net in topo.networks:
        where = paths.link(net.name)
        for k, name in enumerate(net.security_groups):
            if name not in groups:
                yield _issue(f"{where}.security_groups[{k}]", f"unknown security group '{name}'",
                             f"define it under security_groups: ({', '.join(groups) or 'none'})")
        if net.network_acl and net.network_acl not in acls:
            yield _issue(f"{where}.network_acl", f"unknown network ACL '{net.network_acl}'",
                         f"define it under network_acls: ({', '.join(acls) or 'none'})")
        elif net.network_acl:
            router = acls[net.network_acl].router
            if not any(i.network == net.name for n in topo.nodes if n.name == router
                       for i in n.interfaces):
                yield _issue(f"{where}.network_acl", f"the ACL's router '{router}' has no "
                             f"interface on link '{net.name}'",
                             "the ACL acts where the subnet meets its router: give the router "
                             "an endpoint here, or name another with `router:`")
    yield from _nsg_levels(topo, paths, groups)
    if any(g.kind == "nsg" for g in topo.security_groups):
        declared = {t.name for t in topo.computed_tags} | {name for name, _ in topo.tags}
        for tag in NSG_TAGS:
            if tag not in declared:
                yield _issue("tags", f"an NSG's default rules use the tag '{tag}'",
                             f"define `{tag}:` under tags:")
    for node in topo.nodes:
        for i, route in enumerate(node.routes):
            if route.udr and route.source is None:
                yield _issue(f"nodes.{node.name}.routes[{i}].udr",
                             "a user-defined route needs `from:`, the subnet it serves",
                             "write `from: <the subnet's prefix>`")


def _gateways(topo: Topology) -> Iterator[Issue]:
    for node in topo.nodes:
        if node.gateway is None:
            continue
        names = [i.name for i in node.interfaces]
        for key in ("inside", "outside"):
            ifname = getattr(node.gateway, key)
            if ifname not in names:
                yield _issue(f"nodes.{node.name}.gateway.{key}",
                             f"'{node.name}' has no interface '{ifname}'",
                             f"its interfaces: {', '.join(names) or 'none'}")
        if not node.forwards:
            yield _issue(f"nodes.{node.name}.role", "a gateway must forward",
                         "set role: gateway")


def _services(topo: Topology, base: Path | None) -> Iterator[Issue]:
    for node in topo.nodes:
        for i, service in enumerate(node.services):
            path = f"nodes.{node.name}.services[{i}]"
            kind = KINDS.get(service.kind)
            if kind is None:
                yield _issue(f"{path}.kind", f"unknown service kind '{service.kind}'",
                             f"known kinds: {', '.join(sorted(KINDS))}")
                continue
            given = {k for k, _ in service.options}
            for key in sorted(set(kind.required) - given):
                yield _issue(path, f"service '{service.kind}' needs option '{key}'",
                             f"add `{key}:`")
            for key in sorted(given - set(kind.required) - set(kind.optional)):
                yield _issue(f"{path}.{key}", f"unknown option for '{service.kind}'",
                             f"options: {', '.join(kind.required + kind.optional) or 'none'}")
            yield from _service_files(service.options, kind.files, path, base)


def _service_files(options: tuple[tuple[str, str], ...], files: tuple[str, ...], path: str,
                   base: Path | None) -> Iterator[Issue]:
    for key, value in options:
        if key in files and base is not None and not (base / value).is_file():
            yield _issue(f"{path}.{key}", f"file not found: {value}",
                         f"paths are relative to the topology's folder ({base})")
