"""A Terraform plan's (or state's) `azurerm_*` resources -> `Subscription`, the same the
Azure CLI reader builds, so `lab.imports.azure_lab` lays it out the same way.

What the CLI finds on one object Terraform often spreads over several resources:
a subnet's NSG and route table are association resources, a standalone rule or
route names its NSG or route table by name (with the resource group), a NIC
learns its VM and whether it is the primary one from the VM's
`network_interface_ids` (the first, or `primary_network_interface_id`), a load
balancer's probe is its own resource, and a peering's remote address space is
the remote VNet's (it must be in the plan). Ids unknown before apply are the
plan's stand-ins (`lab.imports.terraform_plan`); addresses unknown before apply
are chosen: a private one the highest free in its subnet (Azure keeps the first
four and the last), a public one from the top of the lab's range, each with a
warning. Rules and routes are read by the CLI reader's own functions, so what
the lab does not model (application security groups, source ports, other service
tags, NAT gateways on the connectors' paths...) is reported the same way. Other
`azurerm_*` resources are listed as not needed. Argument names: the azurerm
provider's documentation
(<https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs>).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from lab.imports.azure_cli import ipv4_address, ipv4_prefix, route, rule
from lab.imports.azure_model import (
    AzRoute,
    AzRouteTable,
    AzSubnet,
    Frontend,
    Nic,
    Nsg,
    NsgRule,
    Subscription,
    Vnet,
    rid,
)
from lab.imports.connector_config import first_free
from lab.imports.problems import Origin, Problems
from lab.imports.terraform_plan import Plan, PlanReader, Resource

VNET, NSG, TABLE = "azurerm_virtual_network", "azurerm_network_security_group", \
    "azurerm_route_table"
VMS = ("azurerm_linux_virtual_machine", "azurerm_windows_virtual_machine",
       "azurerm_virtual_machine")
# azurerm's names for a rule's and a route's fields, where the REST API's name in snake
# case is not it
RENAMED = {"sourceApplicationSecurityGroups": "source_application_security_group_ids",
           "destinationApplicationSecurityGroups": "destination_application_security_group_ids",
           "nextHopIpAddress": "next_hop_in_ip_address"}


def snake(key: str) -> str:
    """The azurerm argument for the REST API's field: `sourceAddressPrefix` ->
    `source_address_prefix`."""
    return RENAMED.get(key) or re.sub(r"([A-Z])", r"_\1", key).lower()


@dataclass
class _Subnet:
    name: str
    vnet: str
    cidr: IPv4Network
    origin: Origin
    nsg: str = ""  # inline in the VNet's `subnet` block; associations win
    route_table: str = ""


@dataclass
class _Nic:
    resource: Resource
    address: IPv4Address
    subnet: str
    public_ip: str
    tags: tuple[tuple[str, str], ...]


@dataclass
class _Found:
    vnets: dict[str, tuple[Resource, list[IPv4Network], list[IPv4Network]]] = \
        field(default_factory=dict)  # id -> (resource, prefixes, peered prefixes)
    subnets: dict[str, _Subnet] = field(default_factory=dict)
    rules: dict[str, list[NsgRule]] = field(default_factory=dict)  # NSG id -> its rules
    routes: dict[str, list[AzRoute]] = field(default_factory=dict)  # route table id ->
    subnet_nsg: dict[str, str] = field(default_factory=dict)
    subnet_table: dict[str, str] = field(default_factory=dict)
    subnet_nat: dict[str, str] = field(default_factory=dict)
    nic_nsg: dict[str, str] = field(default_factory=dict)
    vm_of: dict[str, tuple[str, bool]] = field(default_factory=dict)  # NIC -> (VM, primary)
    probes: dict[str, int] = field(default_factory=dict)  # load balancer id -> first port
    frontends: dict[str, list[IPv4Address]] = field(default_factory=dict)  # by balancer id
    nics: list[_Nic] = field(default_factory=list)
    used: dict[str, set[IPv4Address]] = field(default_factory=dict)  # by subnet id


class _Reader(PlanReader):
    def __init__(self, plan: Plan, problems: Problems, sources: list[str]) -> None:
        super().__init__(plan, problems)
        self.found = _Found()
        self.sub = Subscription(sources=sources)

    def id(self, resource: Resource) -> str:
        return rid(super().id(resource))

    def ref(self, resource: Resource, attr: str) -> str:
        return rid(self.text(resource, attr))

    def item(self, resource: Resource) -> dict[str, Any]:
        """Every argument of a resource as planned, or as its references resolve."""
        return {k: self.get(resource, k) for k in {**resource.values, **resource.expressions}}

    def by_name(self, r: Resource, attr: str, kind: str, what: str) -> str:
        """The id of the `kind` resource that `r` names in `attr` (with its resource
        group), as azurerm's child resources do; '' and a problem when not in the plan."""
        value, group = self.text(r, attr), self.text(r, "resource_group_name")
        for other in self.plan.by_type(kind):
            theirs = self.text(other, "resource_group_name")
            if rid(value) == self.id(other) or (
                    value == self.text(other, "name") and (not group or not theirs
                                                           or group == theirs)):
                return self.id(other)
        self.problems.error(r.origin.at("values").at(attr), f"{r.address}: its {what} "
                            f"{value} is not in the plan",
                            f"this resource needs its {kind} in the same plan")
        return ""

    def address(self, r: Resource, value: Any, subnet: str, where: Origin,
                what: str) -> IPv4Address | None:
        """A private address as planned; unknown until apply (a Dynamic one, or one
        computed from what is not known yet), the highest free in its subnet."""
        text = "" if value is None else str(value)
        if text[:1].isdigit() or ":" in text:
            return ipv4_address(text, where, self.problems)
        info = self.found.subnets.get(subnet)
        used = self.found.used.setdefault(subnet, set())
        if info is None:
            self.problems.error(r.origin, f"{r.address}: its subnet is not in the plan",
                                "add the azurerm_subnet to the plan")
            return None
        try:
            chosen = first_free(info.cidr, used, from_top=True)
        except ValueError:
            self.problems.error(r.origin, f"{r.address}: no address of {info.cidr} is left "
                                "for it", "")
            return None
        self.problems.warn(r.origin, f"{what}: the private IP is unknown until apply; the "
                           f"lab uses {chosen}")
        return chosen


def read_azure(plan: Plan, problems: Problems, sources: list[str]) -> Subscription:
    reader = _Reader(plan, problems, sources)
    # in this order: each needs what the ones before found (subnets their VNets, routes
    # the balancers and NICs their hops may name)
    readers: list[tuple[tuple[str, ...], Callable[[_Reader, Resource], None]]] = [
        ((VNET,), _vnet), (("azurerm_subnet",), _subnet),
        (("azurerm_virtual_network_peering",), _peering),
        ((NSG,), _nsg), (("azurerm_network_security_rule",), _nsg_rule),
        (("azurerm_subnet_network_security_group_association",), _subnet_nsg),
        (("azurerm_subnet_route_table_association",), _subnet_table),
        (("azurerm_subnet_nat_gateway_association",), _subnet_nat),
        (("azurerm_network_interface_security_group_association",), _nic_nsg),
        (VMS, _vm), (("azurerm_lb_probe",), _probe), (("azurerm_lb",), _balancer),
        (("azurerm_network_interface",), _nic), ((TABLE,), _route_table),
        (("azurerm_route",), _route), (("azurerm_virtual_network_gateway",), _gateway)]
    read = {kind for kinds, _ in readers for kind in kinds} | {"azurerm_public_ip"}  # by NICs
    for resource in plan.resources:
        if resource.type not in read:
            reader.not_read(resource, "azurerm_")
    _reserve(reader)
    for kinds, read_one in readers:
        for resource in plan.by_type(*kinds):
            read_one(reader, resource)
    _finish(reader)
    return reader.sub


def _reserve(reader: _Reader) -> None:
    """Every private address the plan knows, taken before any is chosen: a chosen one
    never takes a known one's place, whatever the order of the plan."""
    known = [_primary(reader, r)[1] for r in reader.plan.by_type("azurerm_network_interface")]
    known += [b for r in reader.plan.by_type("azurerm_lb")
              for b in reader.blocks(r, "frontend_ip_configuration")]
    for block in known:
        try:
            address = IPv4Address(str(block.get("private_ip_address")))
        except ValueError:
            continue
        reader.found.used.setdefault(rid(str(block.get("subnet_id") or "")), set()).add(address)


def _values(r: Resource, attr: str) -> Origin:
    return r.origin.at("values").at(attr)


def _prefixes(reader: _Reader, values: dict[str, Any], where: Origin, *attrs: str
              ) -> list[IPv4Network]:
    """The IPv4 prefixes of the first of `attrs` given, a list or one (IPv6 warned about
    and left out)."""
    for attr in attrs:
        value = values.get(attr)
        if isinstance(value, list) and value:
            return [n for i, t in enumerate(value)
                    if (n := ipv4_prefix(str(t), where.at(attr).at(i), reader.problems))]
        if value:
            return [n] if (n := ipv4_prefix(str(value), where.at(attr), reader.problems)) \
                else []
    return []


def _vnet(reader: _Reader, r: Resource) -> None:
    vid = reader.id(r)
    reader.found.vnets[vid] = (r, _prefixes(reader, reader.item(r), r.origin.at("values"),
                                            "address_space"), [])
    for i, block in enumerate(reader.blocks(r, "subnet")):  # inline subnets
        where = _values(r, "subnet").at(i)
        name = str(block.get("name") or "")
        sid = rid(str(block.get("id") or f"{vid}/subnets/{name}"))
        cidrs = _prefixes(reader, block, where, "address_prefixes", "address_prefix")
        if cidrs:
            reader.found.subnets[sid] = _Subnet(name, vid, cidrs[0], where,
                                                rid(str(block.get("security_group") or "")),
                                                rid(str(block.get("route_table_id") or "")))


def _subnet(reader: _Reader, r: Resource) -> None:
    vnet = reader.by_name(r, "virtual_network_name", VNET, "virtual network")
    cidrs = _prefixes(reader, reader.item(r), r.origin.at("values"), "address_prefixes",
                      "address_prefix")
    if not cidrs:
        reader.problems.error(r.origin, f"{r.address}: a subnet without an IPv4 prefix",
                              "`address_prefixes` is its range")
    elif vnet:
        reader.found.subnets[reader.id(r)] = _Subnet(reader.text(r, "name"), vnet, cidrs[0],
                                                     r.origin)


def _peering(reader: _Reader, r: Resource) -> None:
    vnet = reader.by_name(r, "virtual_network_name", VNET, "virtual network")
    remote = reader.found.vnets.get(reader.ref(r, "remote_virtual_network_id"))
    if reader.get(r, "peer_complete_virtual_networks_enabled") is False:
        reader.problems.unsupported(_values(r, "peer_complete_virtual_networks_enabled"),
                                    f"{r.address}: subnet peering is not modelled",
                                    "VirtualNetwork would hold only the peered subnets")
    elif remote is None:
        reader.problems.unsupported(_values(r, "remote_virtual_network_id"),
                                    f"{r.address}: the remote virtual network is not in the "
                                    "plan, so its address space (part of VirtualNetwork) is "
                                    "unknown", "add its azurerm_virtual_network to the plan")
    elif vnet in reader.found.vnets:
        reader.found.vnets[vnet][2].extend(remote[1])


def _nsg(reader: _Reader, r: Resource) -> None:
    rules = reader.found.rules.setdefault(reader.id(r), [])
    for i, block in enumerate(reader.blocks(r, "security_rule")):
        found = rule(block, _values(r, "security_rule").at(i), reader.problems, snake)
        if found is not None:
            rules.append(found)


def _nsg_rule(reader: _Reader, r: Resource) -> None:
    nsg = reader.by_name(r, "network_security_group_name", NSG, "network security group")
    if nsg and any(reader.id(g) == nsg and reader.blocks(g, "security_rule")
                   for g in reader.plan.by_type(NSG)):
        reader.problems.warn(r.origin, f"{r.address}: its NSG also has inline "
                             "`security_rule` blocks, which the azurerm provider says "
                             "conflict with standalone rules; the lab reads both")
    found = rule(reader.item(r), r.origin.at("values"), reader.problems, snake)
    if nsg and found is not None:
        reader.found.rules.setdefault(nsg, []).append(found)


def _associated_subnet(reader: _Reader, r: Resource) -> str:
    """The subnet an association names, '' (and a problem) when it is none the plan's
    subnets: an association is never dropped without a word."""
    sid = reader.ref(r, "subnet_id")
    if sid in reader.found.subnets:
        return sid
    reader.problems.unsupported(_values(r, "subnet_id"),
                                f"{r.address}: names a subnet the lab did not read ({sid})",
                                "declare the subnet as an azurerm_subnet resource (a subnet "
                                "inline in its VNet is referenced through the VNet)")
    return ""


def _subnet_nsg(reader: _Reader, r: Resource) -> None:
    if sid := _associated_subnet(reader, r):
        reader.found.subnet_nsg[sid] = reader.ref(r, "network_security_group_id")


def _subnet_table(reader: _Reader, r: Resource) -> None:
    if sid := _associated_subnet(reader, r):
        reader.found.subnet_table[sid] = reader.ref(r, "route_table_id")


def _subnet_nat(reader: _Reader, r: Resource) -> None:
    if sid := _associated_subnet(reader, r):
        reader.found.subnet_nat[sid] = reader.ref(r, "nat_gateway_id")


def _nic_nsg(reader: _Reader, r: Resource) -> None:
    reader.found.nic_nsg[reader.ref(r, "network_interface_id")] = \
        reader.ref(r, "network_security_group_id")


def _gateway(reader: _Reader, r: Resource) -> None:
    """A VPN or ExpressRoute gateway: its GatewaySubnet's VNet gets what it learns in
    VirtualNetwork (`lab.imports.azure_lab`)."""
    for i, block in enumerate(reader.blocks(r, "ip_configuration")):
        subnet = reader.found.subnets.get(rid(str(block.get("subnet_id") or "")))
        if subnet is None:
            reader.problems.unsupported(_values(r, "ip_configuration").at(i).at("subnet_id"),
                                        f"{r.address}: names a subnet the lab did not read",
                                        "declare its GatewaySubnet as an azurerm_subnet")
        else:
            reader.sub.gateways.setdefault(subnet.vnet, r.origin)


def _vm(reader: _Reader, r: Resource) -> None:
    nics = [rid(n) for n in reader.texts(r, "network_interface_ids")]
    primary = reader.ref(r, "primary_network_interface_id") or (nics[0] if nics else "")
    for nic in nics:
        reader.found.vm_of[nic] = (reader.id(r), nic == primary)


def _probe(reader: _Reader, r: Resource) -> None:
    port = reader.get(r, "port")
    if isinstance(port, int):
        reader.found.probes.setdefault(reader.ref(r, "loadbalancer_id"), port)


def _balancer(reader: _Reader, r: Resource) -> None:
    """Its private frontends (a public one is never a route's next hop)."""
    for i, block in enumerate(reader.blocks(r, "frontend_ip_configuration")):
        if not block.get("subnet_id") or block.get("public_ip_address_id"):
            continue
        where = _values(r, "frontend_ip_configuration").at(i)
        subnet = rid(str(block["subnet_id"]))
        address = reader.address(r, block.get("private_ip_address"), subnet,
                                 where.at("private_ip_address"),
                                 f"{r.address} frontend {block.get('name')}")
        if address is not None:
            reader.found.used.setdefault(subnet, set()).add(address)
            reader.found.frontends.setdefault(reader.id(r), []).append(address)
            reader.sub.frontends.append(Frontend(reader.text(r, "name"), address, subnet,
                                                 reader.found.probes.get(reader.id(r)),
                                                 where))


def _primary(reader: _Reader, r: Resource) -> tuple[int, dict[str, Any]]:
    """A NIC's primary IP configuration (as the CLI reader takes it), and its index."""
    configs = list(enumerate(reader.blocks(r, "ip_configuration")))
    chosen = [(i, c) for i, c in configs if c.get("primary")] or configs
    return chosen[0] if chosen else (0, {})


def _nic(reader: _Reader, r: Resource) -> None:
    index, config = _primary(reader, r)
    where = _values(r, "ip_configuration").at(index)
    subnet = rid(str(config.get("subnet_id") or ""))
    address = reader.address(r, config.get("private_ip_address"), subnet,
                             where.at("private_ip_address"), r.address)
    if address is None:
        return
    reader.found.used.setdefault(subnet, set()).add(address)
    tags = reader.get(r, "tags") or {}
    reader.found.nics.append(_Nic(r, address, subnet,
                                  rid(str(config.get("public_ip_address_id") or "")),
                                  tuple((str(k), str(v)) for k, v in tags.items())))


def _route_table(reader: _Reader, r: Resource) -> None:
    routes = reader.found.routes.setdefault(reader.id(r), [])
    for i, block in enumerate(reader.blocks(r, "route")):
        _add_route(reader, routes, block, _values(r, "route").at(i))


def _route(reader: _Reader, r: Resource) -> None:
    table = reader.by_name(r, "route_table_name", TABLE, "route table")
    if table:
        _add_route(reader, reader.found.routes.setdefault(table, []), reader.item(r),
                   r.origin.at("values"))


def _add_route(reader: _Reader, routes: list[AzRoute], item: dict[str, Any],
               where: Origin) -> None:
    """A next hop unknown until apply is the address of what it references: a load
    balancer's (first private) frontend or a NIC."""
    hop = str(item.get("next_hop_in_ip_address") or "")
    if hop and not hop[:1].isdigit():
        named = reader.found.frontends.get(rid(hop), []) + \
            [n.address for n in reader.found.nics if rid(hop) == reader.id(n.resource)]
        item = {**item, "next_hop_in_ip_address": str(named[0]) if named else hop}
    found = route(item, where, reader.problems, snake)
    if found is not None:
        routes.append(found)


def _finish(reader: _Reader) -> None:
    found, sub = reader.found, reader.sub
    for vid, (r, prefixes, peered) in found.vnets.items():
        sub.vnets.append(Vnet(vid, reader.text(r, "name"), tuple(prefixes), tuple(peered),
                              r.origin))
    for sid, s in found.subnets.items():
        sub.subnets.append(AzSubnet(sid, s.name, s.vnet, s.cidr,
                                    found.subnet_nsg.get(sid, s.nsg),
                                    found.subnet_table.get(sid, s.route_table),
                                    found.subnet_nat.get(sid, ""), s.origin))
    for r in reader.plan.by_type(NSG):
        sub.nsgs.append(Nsg(reader.id(r), reader.text(r, "name"),
                            tuple(found.rules.get(reader.id(r), ())), r.origin))
    for r in reader.plan.by_type(TABLE):
        sub.route_tables.append(AzRouteTable(reader.id(r), reader.text(r, "name"),
                                             tuple(found.routes.get(reader.id(r), ())),
                                             r.origin))
    publics = {reader.id(p): p for p in reader.plan.by_type("azurerm_public_ip")}
    for nic in found.nics:
        r = nic.resource
        nid = reader.id(r)
        vm, primary = found.vm_of.get(nid, (reader.ref(r, "virtual_machine_id"), False))
        sub.nics.append(Nic(nid, reader.text(r, "name"), vm, primary, nic.address, nic.subnet,
                            nic.public_ip, found.nic_nsg.get(nid, ""), nic.tags, r.origin))
        ip = publics.get(nic.public_ip)
        if ip is not None and nic.public_ip not in sub.public_ips:
            sub.public_ips[nic.public_ip] = reader.public(ip, "ip_address",
                                                          f"{ip.address} on {r.address}")
