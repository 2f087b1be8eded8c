"""AWS CLI / boto3 JSON -> `Account`: single files or Batfish's `aws_configs/` folder.

Each file is one `aws ec2 describe-*` answer, recognised by its top-level key
(`SecurityGroups`, `NetworkAcls`, `RouteTables`...), as Batfish recognises
them; a file the lab does not need is listed as a warning, never read in
silence. A prefix list's entries (`aws ec2 get-managed-prefix-list-entries`)
carry no id, so their file is named after it: `pl-0123abcd.json`.
Field names and meanings: the EC2 API reference (docs/cloud-semantics.md).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

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
from lab.imports.jsonfiles import Document, get, items
from lab.imports.problems import Origin, Problems

PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "-1": "all", "6": "tcp", "17": "udp",
             "1": "icmp"}
NOT_NEEDED = ("Reservations", "AvailabilityZones", "CustomerGateways", "VpnConnections",
              "VpnGateways", "DomainStatusList", "DBInstances", "LoadBalancers", "TargetGroups")


def read_account(documents: list[Document], problems: Problems) -> Account:
    account = Account(sources=[d.name for d in documents])
    for doc in documents:
        _read(doc, account, problems)
    return account


def _read(doc: Document, account: Account, problems: Problems) -> None:
    data, where = doc.data, doc.origin
    if not isinstance(data, dict):
        problems.error(where, "an AWS CLI export is a JSON object",
                       "save the output of `aws ec2 describe-... --output json`")
        return
    readers = {"Vpcs": _vpc, "Subnets": _subnet, "SecurityGroups": _group,
               "NetworkAcls": _acl, "RouteTables": _route_table,
               "NetworkInterfaces": _eni, "NatGateways": _nat, "VpcEndpoints": _endpoint,
               "InternetGateways": _igw, "Addresses": _address}
    for key in data:
        if key in readers:
            for origin, item in items(data, key, where, problems):
                readers[key](item, origin, account, problems)
        elif key == "Entries":
            _prefix_list(doc, account, problems)
        elif key in NOT_NEEDED:
            problems.warn(where.at(key), "not needed by the lab: not read")
        elif key != "NextToken":
            problems.unsupported(where.at(key), f"'{key}' is not an export the lab reads",
                                 "the lab reads describe-vpcs, -subnets, -route-tables, "
                                 "-security-groups, -network-acls, -network-interfaces, "
                                 "-nat-gateways, -internet-gateways, -vpc-endpoints, "
                                 "-addresses and prefix-list entries")


def _s(obj: Any, key: str, where: Origin, problems: Problems, *, required: bool = True) -> str:
    return str(get(obj, key, where, problems, str, required=required, default=""))


def _network(text: str, where: Origin, problems: Problems) -> IPv4Network | None:
    try:
        return IPv4Network(text)
    except ValueError:
        problems.error(where, f"'{text}' is not an IPv4 prefix", "write it as 10.0.0.0/16")
        return None


def _address(item: Any, where: Origin, account: Account, problems: Problems) -> None:
    public = _ip(_s(item, "PublicIp", where, problems), where.at("PublicIp"), problems)
    eni = _s(item, "NetworkInterfaceId", where, problems, required=False)
    if public is not None and eni:
        account.eips[eni] = public


def _ip(text: str, where: Origin, problems: Problems) -> IPv4Address | None:
    if not text:
        return None
    try:
        return IPv4Address(text)
    except ValueError:
        problems.error(where, f"'{text}' is not an IPv4 address", "write it as 10.0.1.10")
        return None


def _vpc(item: Any, where: Origin, account: Account, problems: Problems) -> None:
    vpc_id = _s(item, "VpcId", where, problems)
    cidrs = [c for o, a in items(item, "CidrBlockAssociationSet", where, problems)
             if (c := _network(_s(a, "CidrBlock", o, problems), o.at("CidrBlock"), problems))]
    if not cidrs:
        main = _network(_s(item, "CidrBlock", where, problems), where.at("CidrBlock"), problems)
        cidrs = [main] if main else []
    for origin, _ in items(item, "Ipv6CidrBlockAssociationSet", where, problems):
        problems.warn(origin, "IPv6 is not modelled: the lab is IPv4")
    account.vpcs.append(Vpc(vpc_id, tuple(cidrs), where))


def _tags(item: Any, key: str, where: Origin, problems: Problems) -> tuple[tuple[str, str], ...]:
    return tuple((_s(t, "Key", o, problems), _s(t, "Value", o, problems, required=False))
                 for o, t in items(item, key, where, problems))


def _subnet(item: Any, where: Origin, account: Account, problems: Problems) -> None:
    cidr = _network(_s(item, "CidrBlock", where, problems), where.at("CidrBlock"), problems)
    name = dict(_tags(item, "Tags", where, problems)).get("Name", "")
    if cidr is not None:
        account.subnets.append(Subnet(_s(item, "SubnetId", where, problems),
                                      _s(item, "VpcId", where, problems), cidr, name, where))


def _group(item: Any, where: Origin, account: Account, problems: Problems) -> None:
    inbound = tuple(p for o, x in items(item, "IpPermissions", where, problems)
                    if (p := _permission(x, o, problems)))
    outbound = tuple(p for o, x in items(item, "IpPermissionsEgress", where, problems)
                     if (p := _permission(x, o, problems)))
    account.groups.append(SecurityGroup(_s(item, "GroupId", where, problems),
                                        _s(item, "GroupName", where, problems, required=False),
                                        _s(item, "VpcId", where, problems, required=False),
                                        inbound, outbound, where))


def protocol(value: Any, where: Origin, problems: Problems) -> str | None:
    """tcp, udp, icmp, all (-1) or a protocol number (every port, as AWS says)."""
    text = str(value).lower()
    if text in PROTOCOLS:
        return PROTOCOLS[text]
    if text in ("icmpv6", "58"):
        problems.warn(where, "ICMPv6 is not modelled: the lab is IPv4; rule left out")
        return None
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    problems.error(where, f"unknown protocol {value!r}",
                   "AWS writes tcp, udp, icmp, icmpv6, -1 or a protocol number")
    return None


def port_range(proto: str, low: Any, high: Any, where: Origin,
               problems: Problems) -> tuple[int, int] | None:
    """AWS: for tcp and udp FromPort..ToPort (0-65535: all); ICMP type and code and every
    other protocol: all ports (the lab matches no ICMP type)."""
    if proto not in ("tcp", "udp"):
        return None
    if not isinstance(low, int) or not isinstance(high, int) or not 0 <= low <= high <= 65535:
        problems.error(where, f"port range {low}..{high} is not one of 0-65535",
                       "FromPort and ToPort are port numbers for tcp and udp")
        return None
    return None if (low, high) == (0, 65535) else (low, high)


def _permission(item: Any, where: Origin, problems: Problems) -> Permission | None:
    proto = protocol(get(item, "IpProtocol", where, problems, (str, int), default="?"),
                     where.at("IpProtocol"), problems)
    if proto is None:
        return None
    ports = port_range(proto, item.get("FromPort", 0), item.get("ToPort", 65535),
                       where.at("FromPort"), problems) if isinstance(item, dict) else None
    cidrs, labels = [], []
    for origin, r in items(item, "IpRanges", where, problems):
        net = _network(_s(r, "CidrIp", origin, problems), origin.at("CidrIp"), problems)
        if net is not None:
            cidrs.append(str(net))
            labels.append(_s(r, "Description", origin, problems, required=False))
    for origin, _ in items(item, "Ipv6Ranges", where, problems):
        problems.warn(origin, "IPv6 is not modelled: the lab is IPv4; this range left out")
    lists = tuple(_s(p, "PrefixListId", o, problems)
                  for o, p in items(item, "PrefixListIds", where, problems))
    groups = []
    for origin, pair in items(item, "UserIdGroupPairs", where, problems):
        groups.append(_s(pair, "GroupId", origin, problems))
        labels.append(_s(pair, "Description", origin, problems, required=False))
    label = "; ".join(x for x in labels if x)
    return Permission(proto, ports, tuple(cidrs), lists, tuple(groups), label, where)


def _acl(item: Any, where: Origin, account: Account, problems: Problems) -> None:
    entries = []
    for origin, e in items(item, "Entries", where, problems):
        number = get(e, "RuleNumber", origin, problems, int, default=0)
        if number == 32767:
            continue  # the implicit deny, which every ACL ends with anyway
        proto = protocol(get(e, "Protocol", origin, problems, (str, int), default="?"),
                         origin.at("Protocol"), problems)
        if "Ipv6CidrBlock" in (e if isinstance(e, dict) else {}):
            problems.warn(origin, "IPv6 is not modelled: the lab is IPv4; entry left out")
            continue
        cidr = _network(_s(e, "CidrBlock", origin, problems), origin.at("CidrBlock"), problems)
        action = _s(e, "RuleAction", origin, problems)
        if action not in ("allow", "deny"):
            problems.error(origin.at("RuleAction"), f"unknown action {action!r}",
                           "allow or deny")
        port = e.get("PortRange") if isinstance(e, dict) else None
        ports = port_range(proto, (port or {}).get("From", 0), (port or {}).get("To", 65535),
                           origin.at("PortRange"), problems) if proto else None
        if proto and cidr and action in ("allow", "deny"):
            entries.append(AclEntry(number, bool(e.get("Egress")), action, proto, ports,
                                    str(cidr), origin))
    subnets = tuple(_s(a, "SubnetId", o, problems)
                    for o, a in items(item, "Associations", where, problems))
    name = dict(_tags(item, "Tags", where, problems)).get("Name", "")
    account.acls.append(NetworkAcl(_s(item, "NetworkAclId", where, problems),
                                   _s(item, "VpcId", where, problems, required=False), subnets,
                                   tuple(entries), where, name))


ROUTE_TARGETS = ("GatewayId", "NatGatewayId", "VpcEndpointId", "NetworkInterfaceId",
                 "TransitGatewayId", "VpcPeeringConnectionId", "InstanceId",
                 "CarrierGatewayId", "LocalGatewayId", "EgressOnlyInternetGatewayId",
                 "CoreNetworkArn")


def _route_table(item: Any, where: Origin, account: Account, problems: Problems) -> None:
    subnets, main = [], False
    for origin, a in items(item, "Associations", where, problems):
        main = main or bool(a.get("Main")) if isinstance(a, dict) else main
        if isinstance(a, dict) and a.get("SubnetId"):
            subnets.append(str(a["SubnetId"]))
        elif isinstance(a, dict) and a.get("GatewayId"):
            problems.unsupported(origin, "an edge association (ingress routing) is not "
                                 "modelled", "the lab routes the internet gateway's traffic "
                                 "by destination only")
    routes = []
    for origin, r in items(item, "Routes", where, problems):
        if not isinstance(r, dict):
            problems.error(origin, "a route is an object", "")
            continue
        if "DestinationIpv6CidrBlock" in r:
            problems.warn(origin, "IPv6 is not modelled: the lab is IPv4; route left out")
            continue
        target = next((str(r[k]) for k in ROUTE_TARGETS if r.get(k)), "")
        dest = _network(str(r["DestinationCidrBlock"]), origin.at("DestinationCidrBlock"),
                        problems) if r.get("DestinationCidrBlock") else None
        if r.get("State") == "blackhole":
            problems.unsupported(origin, "a blackhole route is not modelled", "")
            continue
        routes.append(Route(dest, str(r.get("DestinationPrefixListId") or ""), target, origin))
    account.route_tables.append(RouteTable(_s(item, "RouteTableId", where, problems),
                                           _s(item, "VpcId", where, problems, required=False),
                                           tuple(subnets), main, tuple(routes), where))


def _eni(item: Any, where: Origin, account: Account, problems: Problems) -> None:
    address = _ip(_s(item, "PrivateIpAddress", where, problems),
                  where.at("PrivateIpAddress"), problems)
    association = item.get("Association") if isinstance(item, dict) else None
    public = _ip(str((association or {}).get("PublicIp") or ""),
                 where.at("Association.PublicIp"), problems)
    attachment = (item.get("Attachment") if isinstance(item, dict) else None) or {}
    groups = tuple(_s(g, "GroupId", o, problems) for o, g in items(item, "Groups", where,
                                                                     problems))
    device = attachment.get("DeviceIndex")
    if address is not None:
        account.enis.append(Eni(_s(item, "NetworkInterfaceId", where, problems),
                                _s(item, "SubnetId", where, problems), address, public, groups,
                                _tags(item, "TagSet", where, problems),
                                str(attachment.get("InstanceId") or ""),
                                device if isinstance(device, int) else None,
                                str(item.get("InterfaceType") or "interface"), where))


def _nat(item: Any, where: Origin, account: Account, problems: Problems) -> None:
    addresses = items(item, "NatGatewayAddresses", where, problems, required=True)
    if not addresses:
        return
    origin, first = addresses[0]
    private = _ip(_s(first, "PrivateIp", origin, problems), origin.at("PrivateIp"), problems)
    public = _ip(_s(first, "PublicIp", origin, problems), origin.at("PublicIp"), problems)
    if private is not None and public is not None:
        account.nats.append(NatGateway(_s(item, "NatGatewayId", where, problems),
                                       _s(item, "SubnetId", where, problems), private, public,
                                       where))


def _endpoint(item: Any, where: Origin, account: Account, problems: Problems) -> None:
    account.endpoints.append(Endpoint(
        _s(item, "VpcEndpointId", where, problems),
        _s(item, "VpcEndpointType", where, problems),
        tuple(str(s) for s in get(item, "SubnetIds", where, problems, list, required=False,
                                  default=[])),
        tuple(str(s) for s in get(item, "NetworkInterfaceIds", where, problems, list,
                                  required=False, default=[])), where))


def _igw(item: Any, where: Origin, account: Account, problems: Problems) -> None:
    gw = _s(item, "InternetGatewayId", where, problems)
    for origin, a in items(item, "Attachments", where, problems):
        account.igws[gw] = _s(a, "VpcId", origin, problems)


def _prefix_list(doc: Document, account: Account, problems: Problems) -> None:
    name = Path(doc.name).stem
    if not name.startswith("pl-"):
        problems.error(doc.origin, "prefix-list entries carry no id: name the file after it",
                       "save `aws ec2 get-managed-prefix-list-entries --prefix-list-id "
                       "pl-0123 --output json` as pl-0123.json")
        return
    cidrs = []
    for origin, e in items(doc.data, "Entries", doc.origin, problems):
        net = _network(_s(e, "Cidr", origin, problems), origin.at("Cidr"), problems)
        if net is not None:
            cidrs.append(str(net))
    account.prefix_lists[name] = (tuple(cidrs), doc.origin)
