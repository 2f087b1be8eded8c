"""A Terraform plan's (or state's) AWS resources -> `Account`, the same the AWS CLI reader
builds, so `lab.imports.aws_lab` lays it out the same way.

Ids unknown before apply are the plan's stand-ins (`lab.imports.terraform_plan`);
addresses unknown before apply are chosen as AWS would leave them free: a private
one from the top of its subnet, a public one from the top of the lab's public
range (`cclab import` warns for each). Resources of other providers, and AWS
resources the lab does not need (IAM, S3...), are listed as warnings. Argument
names: the AWS provider's documentation
(<https://registry.terraform.io/providers/hashicorp/aws/latest/docs>).
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from lab.imports.aws_cli import port_range, protocol
from lab.imports.aws_model import (
    Account,
    AclEntry,
    Endpoint,
    Eni,
    NatGateway,
    NetworkAcl,
    Permission,
    Route,
    RouteTable,
    SecurityGroup,
    Subnet,
    Vpc,
)
from lab.imports.connector_config import first_free
from lab.imports.problems import Origin, Problems
from lab.imports.terraform_plan import Plan, PlanReader, Resource

STAND_IN = {"aws_vpc": "vpc-", "aws_subnet": "subnet-", "aws_security_group": "sg-",
            "aws_internet_gateway": "igw-", "aws_nat_gateway": "nat-",
            "aws_vpc_endpoint": "vpce-", "aws_network_interface": "eni-",
            "aws_route_table": "rtb-", "aws_network_acl": "acl-", "aws_eip": "eipalloc-",
            "aws_instance": "i-", "aws_ec2_managed_prefix_list": "pl-"}
ROUTE_TARGETS = ("gateway_id", "nat_gateway_id", "vpc_endpoint_id", "network_interface_id",
                 "transit_gateway_id", "vpc_peering_connection_id", "egress_only_gateway_id")
UNKNOWN_NAT_PUBLIC = IPv4Address("203.0.113.5")


class _Reader(PlanReader):
    def __init__(self, plan: Plan, problems: Problems, sources: list[str]) -> None:
        super().__init__(plan, problems)
        self.account = Account(sources=sources)
        self.groups: dict[str, tuple[list[Permission], list[Permission], Resource]] = {}
        self.acl_entries: dict[str, list[AclEntry]] = {}
        self.routes: dict[str, list[Route]] = {}
        self.associations: dict[str, list[str]] = {}
        self.main_tables: set[str] = set()
        self.attachments: dict[str, tuple[str, int | None]] = {}  # eni -> (instance, device)

    def network(self, resource: Resource, text: str, attr: str) -> IPv4Network | None:
        try:
            return IPv4Network(text)
        except ValueError:
            self.problems.error(resource.origin.at("values").at(attr),
                                f"'{text}' is not an IPv4 prefix", "write it as 10.0.0.0/16")
            return None


def read_aws(plan: Plan, problems: Problems, sources: list[str]) -> Account:
    reader = _Reader(plan, problems, sources)
    readers: dict[str, Callable[[_Reader, Resource], None]] = {
        "aws_vpc": _vpc, "aws_subnet": _subnet, "aws_security_group": _group,
        "aws_security_group_rule": _group_rule,
        "aws_vpc_security_group_ingress_rule": _vpc_rule,
        "aws_vpc_security_group_egress_rule": _vpc_rule,
        "aws_network_acl": _acl, "aws_network_acl_rule": _acl_rule,
        "aws_route_table": _route_table, "aws_route": _route,
        "aws_route_table_association": _association,
        "aws_main_route_table_association": _main_association,
        "aws_internet_gateway": _igw, "aws_eip": _eip,
        "aws_network_interface_attachment": _attachment, "aws_instance": _instance,
        "aws_ec2_managed_prefix_list": _prefix_list}
    later = {"aws_network_interface": _eni, "aws_nat_gateway": _nat,
             "aws_vpc_endpoint": _endpoint}
    for resource in plan.resources:
        if resource.type in readers:
            readers[resource.type](reader, resource)
        elif resource.type not in later:
            reader.not_read(resource, "aws_")
    # after the subnets, instances and EIPs they need; known addresses before the ones
    # the lab must choose, so a chosen one never takes a known one's place
    for kind, read in later.items():
        for resource in sorted(plan.by_type(kind), key=lambda x: not (
                x.known("private_ips") or x.known("private_ip"))):
            read(reader, resource)
    _finish(reader)
    return reader.account


def _vpc(reader: _Reader, r: Resource) -> None:
    net = reader.network(r, reader.text(r, "cidr_block"), "cidr_block")
    if net is not None:
        reader.account.vpcs.append(Vpc(reader.id(r), (net,), r.origin))


def _subnet(reader: _Reader, r: Resource) -> None:
    net = reader.network(r, reader.text(r, "cidr_block"), "cidr_block")
    tags = reader.get(r, "tags") or {}
    if net is not None:
        reader.account.subnets.append(Subnet(reader.id(r), reader.text(r, "vpc_id"), net,
                                             str(tags.get("Name", "")), r.origin))


def _permission(reader: _Reader, where: Origin, block: dict[str, Any],
                self_id: str) -> Permission | None:
    proto = protocol(str(block.get("protocol", "-1")), where.at("protocol"), reader.problems)
    if proto is None:
        return None
    ports = port_range(proto, block.get("from_port", 0), block.get("to_port", 65535),
                       where.at("from_port"), reader.problems)
    if block.get("ipv6_cidr_blocks"):
        reader.problems.warn(where, "IPv6 is not modelled: the lab is IPv4; ranges left out")
    groups = [str(g) for g in _listed(block.get("security_groups"))]
    if block.get("self"):
        groups.append(self_id)
    return Permission(proto, ports, tuple(str(c) for c in _listed(block.get("cidr_blocks"))),
                      tuple(str(p) for p in _listed(block.get("prefix_list_ids"))),
                      tuple(groups), str(block.get("description") or ""), where)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _group(reader: _Reader, r: Resource) -> None:
    gid = reader.id(r)
    values = r.origin.at("values")
    inbound = [p for i, b in enumerate(reader.blocks(r, "ingress"))
               if (p := _permission(reader, values.at("ingress").at(i), b, gid))]
    outbound = [p for i, b in enumerate(reader.blocks(r, "egress"))
                if (p := _permission(reader, values.at("egress").at(i), b, gid))]
    reader.groups[gid] = (inbound, outbound, r)


def _group_rule(reader: _Reader, r: Resource) -> None:
    gid = reader.text(r, "security_group_id")
    block = {k: reader.get(r, k) for k in ("protocol", "from_port", "to_port", "cidr_blocks",
                                           "ipv6_cidr_blocks", "prefix_list_ids", "self",
                                           "description")}
    block["security_groups"] = reader.texts(r, "source_security_group_id") or None
    _add_rule(reader, r, gid, reader.text(r, "type") == "egress", block)


def _vpc_rule(reader: _Reader, r: Resource) -> None:
    block = {"protocol": reader.text(r, "ip_protocol") or "-1",
             "from_port": reader.get(r, "from_port"), "to_port": reader.get(r, "to_port"),
             "cidr_blocks": reader.texts(r, "cidr_ipv4") or None,
             "ipv6_cidr_blocks": reader.texts(r, "cidr_ipv6") or None,
             "prefix_list_ids": reader.texts(r, "prefix_list_id") or None,
             "security_groups": reader.texts(r, "referenced_security_group_id") or None,
             "description": reader.text(r, "description")}
    if block["from_port"] in (None, -1):
        block["from_port"], block["to_port"] = 0, 65535
    _add_rule(reader, r, reader.text(r, "security_group_id"),
              r.type.endswith("egress_rule"), block)


def _add_rule(reader: _Reader, r: Resource, gid: str, egress: bool,
              block: dict[str, Any]) -> None:
    if gid not in reader.groups:
        reader.problems.error(r.origin, f"{r.address}: its security group is not in the plan",
                              "a rule needs its aws_security_group in the same plan")
        return
    permission = _permission(reader, r.origin.at("values"),
                             {k: v for k, v in block.items() if v is not None}, gid)
    if permission is not None:
        inbound, outbound, _ = reader.groups[gid]
        (outbound if egress else inbound).append(permission)


def _acl(reader: _Reader, r: Resource) -> None:
    aid = reader.id(r)
    entries = reader.acl_entries.setdefault(aid, [])
    for egress, attr in ((False, "ingress"), (True, "egress")):
        for i, b in enumerate(reader.blocks(r, attr)):
            entry = _acl_entry(reader, r, r.origin.at("values").at(attr).at(i), egress,
                               b.get("rule_no"), b.get("action"), b)
            if entry is not None:
                entries.append(entry)
    reader.account.acls.append(NetworkAcl(aid, reader.text(r, "vpc_id"),
                                          reader.texts(r, "subnet_ids"), (), r.origin,
                                          str((reader.get(r, "tags") or {}).get("Name", ""))))


def _acl_rule(reader: _Reader, r: Resource) -> None:
    block = {k: reader.get(r, k) for k in ("protocol", "cidr_block", "from_port", "to_port")}
    entry = _acl_entry(reader, r, r.origin.at("values"), bool(reader.get(r, "egress")),
                       reader.get(r, "rule_number"), reader.get(r, "rule_action"), block)
    if entry is not None:
        reader.acl_entries.setdefault(reader.text(r, "network_acl_id"), []).append(entry)


def _acl_entry(reader: _Reader, r: Resource, where: Origin, egress: bool, number: Any,
               action: Any, block: dict[str, Any]) -> AclEntry | None:
    proto = protocol(str(block.get("protocol", "-1")), where.at("protocol"), reader.problems)
    cidr = reader.network(r, str(block.get("cidr_block") or ""), "cidr_block") \
        if block.get("cidr_block") else None
    if proto is None or cidr is None or not isinstance(number, int) or \
            action not in ("allow", "deny"):
        if block.get("ipv6_cidr_block"):
            reader.problems.warn(where, "IPv6 is not modelled: the lab is IPv4; entry left out")
        elif proto is not None:
            reader.problems.error(where, "a network ACL entry needs rule_no, action (allow or "
                                  "deny) and cidr_block", "")
        return None
    ports = port_range(proto, block.get("from_port", 0), block.get("to_port", 65535),
                       where.at("from_port"), reader.problems)
    return AclEntry(number, egress, str(action), proto, ports, str(cidr), where)


def _route_table(reader: _Reader, r: Resource) -> None:
    tid = reader.id(r)
    for i, b in enumerate(reader.blocks(r, "route")):
        _add_route(reader, r, tid, b, r.origin.at("values").at("route").at(i))
    reader.routes.setdefault(tid, [])
    reader.account.route_tables.append(RouteTable(tid, reader.text(r, "vpc_id"), (), False, (),
                                                  r.origin))


def _route(reader: _Reader, r: Resource) -> None:
    block = {k: reader.get(r, k) for k in ("destination_cidr_block", *ROUTE_TARGETS)}
    block["cidr_block"] = block.pop("destination_cidr_block")
    _add_route(reader, r, reader.text(r, "route_table_id"), block, r.origin.at("values"))


def _add_route(reader: _Reader, r: Resource, table: str, block: dict[str, Any],
               where: Origin) -> None:
    if block.get("ipv6_cidr_block"):
        reader.problems.warn(where, "IPv6 is not modelled: the lab is IPv4; route left out")
        return
    target = next((str(block[k]) for k in ROUTE_TARGETS if block.get(k)), "")
    dest = reader.network(r, str(block["cidr_block"]), "cidr_block") \
        if block.get("cidr_block") else None
    reader.routes.setdefault(table, []).append(
        Route(dest, str(block.get("destination_prefix_list_id") or ""), target, where))


def _association(reader: _Reader, r: Resource) -> None:
    if reader.get(r, "gateway_id"):
        reader.problems.unsupported(r.origin, "an edge association (ingress routing) is not "
                                    "modelled", "the lab routes the internet gateway's "
                                    "traffic by destination only")
        return
    reader.associations.setdefault(reader.text(r, "route_table_id"), []).append(
        reader.text(r, "subnet_id"))


def _main_association(reader: _Reader, r: Resource) -> None:
    reader.main_tables.add(reader.text(r, "route_table_id"))


def _igw(reader: _Reader, r: Resource) -> None:
    reader.account.igws[reader.id(r)] = reader.text(r, "vpc_id")


def _eip(reader: _Reader, r: Resource) -> None:
    eni = reader.text(r, "network_interface")
    if eni:
        reader.account.eips[eni] = reader.public(r, "public_ip", f"{r.address} on {eni}")


def _attachment(reader: _Reader, r: Resource) -> None:
    device = reader.get(r, "device_index")
    reader.attachments[reader.text(r, "network_interface_id")] = (
        reader.text(r, "instance_id"), device if isinstance(device, int) else None)


def _instance(reader: _Reader, r: Resource) -> None:
    for block in reader.blocks(r, "network_interface"):
        device = block.get("device_index")
        eni = block.get("network_interface_id")
        if eni:
            reader.attachments[str(eni)] = (reader.id(r), device if isinstance(device, int)
                                            else None)


def _prefix_list(reader: _Reader, r: Resource) -> None:
    cidrs = tuple(str(b.get("cidr")) for b in reader.blocks(r, "entry") if b.get("cidr"))
    reader.account.prefix_lists[reader.id(r)] = (cidrs, r.origin)


def _free(reader: _Reader, subnet_id: str) -> IPv4Address | None:
    """An address AWS would leave free: from the top of the subnet, none already used."""
    subnet = next((s for s in reader.account.subnets if s.id == subnet_id), None)
    if subnet is None:
        return None
    used = {e.address for e in reader.account.enis if e.subnet == subnet_id}
    used |= {n.address for n in reader.account.nats if n.subnet == subnet_id}
    used |= {subnet.cidr.network_address + k for k in range(4)}  # AWS keeps the first four
    return first_free(subnet.cidr, used, from_top=True)


def _address(reader: _Reader, r: Resource, subnet: str, known: list[str], what: str
             ) -> IPv4Address | None:
    if known:
        return IPv4Address(known[0])
    chosen = _free(reader, subnet)
    if chosen is None:
        reader.problems.error(r.origin, f"{r.address}: its subnet is not in the plan", "")
        return None
    reader.problems.warn(r.origin, f"{what}: the private IP is unknown until apply; the lab "
                         f"uses {chosen}")
    return chosen


def _eni(reader: _Reader, r: Resource) -> None:
    subnet = reader.text(r, "subnet_id")
    eid = reader.id(r)
    known = [str(a) for a in _listed(reader.get(r, "private_ips"))] or \
        list(reader.texts(r, "private_ip"))
    address = _address(reader, r, subnet, known, r.address)
    if address is None:
        return
    instance, device = reader.attachments.get(eid, ("", None))
    for block in reader.blocks(r, "attachment"):
        instance, device = str(block.get("instance") or instance), block.get("device_index",
                                                                               device)
    tags = reader.get(r, "tags") or {}
    reader.account.enis.append(Eni(eid, subnet, address, None, reader.texts(r, "security_groups"),
                                   tuple((str(k), str(v)) for k, v in tags.items()), instance,
                                   device if isinstance(device, int) else None, "interface",
                                   r.origin))


def _nat(reader: _Reader, r: Resource) -> None:
    subnet = reader.text(r, "subnet_id")
    address = _address(reader, r, subnet, list(reader.texts(r, "private_ip")), r.address)
    allocation = reader.text(r, "allocation_id")
    eip = next((e for e in reader.plan.by_type("aws_eip") if reader.id(e) == allocation), None)
    public = reader.public(eip, "public_ip", r.address) if eip is not None else \
        UNKNOWN_NAT_PUBLIC
    if address is not None:
        reader.account.nats.append(NatGateway(reader.id(r), subnet, address, public, r.origin))


def _endpoint(reader: _Reader, r: Resource) -> None:
    eid = reader.id(r)
    kind = reader.text(r, "vpc_endpoint_type")
    subnets = reader.texts(r, "subnet_ids")
    enis = reader.texts(r, "network_interface_ids")
    reader.account.endpoints.append(Endpoint(eid, kind, subnets, enis, r.origin))
    if kind.lower() == "gatewayloadbalancer" and subnets and not enis:
        address = _address(reader, r, subnets[0], [], f"{r.address}'s interface")
        if address is not None:
            reader.account.enis.append(Eni(f"eni-({r.address})", subnets[0], address, None,
                                           (), (), "", None,
                                           "gateway_load_balancer_endpoint", r.origin))


def _finish(reader: _Reader) -> None:
    account = reader.account
    for gid, (inbound, outbound, r) in reader.groups.items():
        account.groups.append(SecurityGroup(gid, reader.text(r, "name"),
                                            reader.text(r, "vpc_id"), tuple(inbound),
                                            tuple(outbound), r.origin))
    account.acls[:] = [NetworkAcl(a.id, a.vpc, a.subnets,
                                  tuple(reader.acl_entries.get(a.id, ())), a.origin, a.name)
                       for a in account.acls]
    account.route_tables[:] = [RouteTable(t.id, t.vpc, tuple(reader.associations.get(t.id, ())),
                                          t.id in reader.main_tables,
                                          tuple(reader.routes.get(t.id, ())), t.origin)
                               for t in account.route_tables]
