"""An AWS `Account` laid out as a `LabCloud`: which interfaces are the connectors', where
the workloads live, which rules and route tables decide their traffic.

- The connectors: network interfaces with the tag given (`--connector-tag
  Role=cloud-connector`) or named (`--connector-eni MGMT,SERVICE`), grouped by
  instance; device index 0 is the management interface (the vendor's
  templates attach it first), the next one the service interface.
- The workloads: the subnets whose route table sends 0.0.0.0/0 to a Gateway
  Load Balancer endpoint (the vendor's design), or `--workload-subnet`.
- The lab builds the subnets on those paths: the connectors', the workloads',
  the GWLB endpoint's, the NAT gateway's; others are listed, not built.
- Security groups: those of the interfaces in the lab and those their rules
  reference; prefix lists resolved from their entries, or reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from lab.imports.aws_model import (
    Account,
    Eni,
    NetworkAcl,
    Permission,
    RouteTable,
    SecurityGroup,
    Subnet,
)
from lab.imports.cloud import (
    AclEntrySpec,
    AclSpec,
    BalancerSpec,
    ConnectorSpec,
    GroupSpec,
    LabCloud,
    NatSpec,
    NicSpec,
    RouteSpec,
    RuleSpec,
    SubnetSpec,
)
from lab.imports.connector_config import first_free
from lab.imports.names import lab_name
from lab.imports.problems import Origin, Problems

DEFAULT = IPv4Network("0.0.0.0/0")


@dataclass(frozen=True, slots=True)
class AwsOptions:
    connector_tag: tuple[str, str] = ("Role", "cloud-connector")
    connector_enis: tuple[tuple[str, str], ...] = ()  # (management, service) ENI ids
    workload_subnet: str = ""


def aws_cloud(account: Account, options: AwsOptions, problems: Problems) -> LabCloud | None:
    where = Origin(", ".join(account.sources), "")
    pairs = _connector_enis(account, options, problems, where)
    if not pairs:
        return None
    subnets = {s.id: s for s in account.subnets}
    vpc_id = next((s.vpc for s in account.subnets if s.id == pairs[0][0].subnet), "")
    vpc = next((v for v in account.vpcs if v.id == vpc_id), None)
    if vpc is None:
        problems.error(where, f"the connectors' VPC {vpc_id or '(unknown)'} is not in the "
                       "export", "add `aws ec2 describe-vpcs` and `describe-subnets`")
        return None
    tables = _tables_by_subnet(account, vpc_id)
    endpoint, workloads = _balancer(account, options, tables, problems, where)
    if endpoint is None or not workloads:
        return None
    nat_used = {r.target for t in tables.values() for r in t.routes
                if r.target.startswith("nat-")}
    nat = next((n for n in account.nats if n.id in nat_used), None)
    if nat_used and nat is None:
        problems.error(where, f"a route names the NAT gateway {sorted(nat_used)[0]}, which "
                       "is not in the export", "add `aws ec2 describe-nat-gateways`")
    wanted = [workloads[0], endpoint[1],
              *(e.subnet for pair in pairs for e in pair), *([nat.subnet] if nat else [])]
    missing = [s for s in wanted if s not in subnets]
    for subnet_id in dict.fromkeys(missing):
        problems.error(where, f"subnet {subnet_id} is not in the export",
                       "add `aws ec2 describe-subnets`")
    if missing or problems.errors:
        return None
    in_lab = [s for s in account.subnets if s.id in dict.fromkeys(wanted)]
    names: set[str] = set()
    subnet_names = {s.id: lab_name(s.name, s.id, names) for s in in_lab}
    groups = _groups(account, pairs, workloads[0], problems)
    group_names = _group_names(groups)
    acls = _acls(account, in_lab)
    skipped = [s.id for s in account.subnets if s.vpc == vpc_id and s not in in_lab]
    return LabCloud(
        provider="aws", sources=tuple(account.sources), address_space=vpc.cidrs,
        subnets=tuple(SubnetSpec(subnet_names[s.id], s.cidr, _subnet_comment(s),
                                 acl=next((a.name for a, ids in acls if s.id in ids), ""))
                      for s in in_lab),
        connectors=tuple(_connector(k, pair, account, subnet_names, group_names)
                         for k, pair in enumerate(pairs, start=1)),
        groups=tuple(_group(g, group_names, account, problems) for g in groups),
        balancer=BalancerSpec("gwlb", subnet_names[endpoint[1]], endpoint[0],
                              f"GWLB endpoint {endpoint[2]}", *_gwlb_source(
                                  account, pairs, subnet_names, subnets)),
        workloads=subnet_names[workloads[0]],
        management=subnet_names[pairs[0][0].subnet],
        acls=tuple(a for a, _ in acls),
        routes=tuple(_routes(in_lab, tables, subnet_names, endpoint[2], problems)),
        nat=NatSpec(subnet_names[nat.subnet], nat.address, nat.public,
                    f"NAT gateway {nat.id}") if nat else None,
        tags=tuple((pl, cidrs, f"prefix list {pl} ({origin.file})")
                   for pl, (cidrs, origin) in account.prefix_lists.items()
                   if any(pl in p.prefix_lists for g in groups for p in (*g.inbound,
                                                                         *g.outbound))),
        notes=(f"VPC {vpc.id}; subnets not on the connectors' paths, not built: "
               f"{', '.join(skipped)}",) if skipped else (f"VPC {vpc.id}",),
        workload_groups=_workload_groups(account, workloads[0], pairs, group_names),
    )


def _connector_enis(account: Account, options: AwsOptions, problems: Problems,
                    where: Origin) -> list[tuple[Eni, Eni]]:
    enis = {e.id: e for e in account.enis}
    if options.connector_enis:
        pairs = []
        for mgmt, svc in options.connector_enis:
            for eni_id in (mgmt, svc):
                if eni_id not in enis:
                    problems.error(where, f"no network interface {eni_id} in the export",
                                   "add `aws ec2 describe-network-interfaces`")
            if mgmt in enis and svc in enis:
                pairs.append((enis[mgmt], enis[svc]))
        return pairs
    key, value = options.connector_tag
    tagged = [e for e in account.enis if (key, value) in e.tags]
    if not tagged:
        problems.error(where, f"no network interface has the tag {key}={value}",
                       "name the connectors' interfaces: --connector-tag KEY=VALUE or "
                       "--connector-eni MGMT_ENI,SERVICE_ENI")
        return []
    by_instance: dict[str, list[Eni]] = {}
    for eni in tagged:
        by_instance.setdefault(eni.instance or eni.id, []).append(eni)
    pairs = []
    for instance, found in by_instance.items():
        ordered = sorted(found, key=lambda e: (e.device if e.device is not None else 99))
        if len(ordered) < 2 or ordered[0].device != 0:
            problems.error(found[0].origin, f"instance {instance}: the connector needs its "
                           "management interface (device index 0) and a service interface",
                           "tag both interfaces, or name them with --connector-eni")
            continue
        pairs.append((ordered[0], ordered[1]))
    return pairs


def _tables_by_subnet(account: Account, vpc_id: str) -> dict[str, RouteTable]:
    tables: dict[str, RouteTable] = {}
    main = next((t for t in account.route_tables if t.main and t.vpc in (vpc_id, "")), None)
    for subnet in account.subnets:
        if subnet.vpc != vpc_id:
            continue
        own = next((t for t in account.route_tables if subnet.id in t.subnets), None)
        if own or main:
            tables[subnet.id] = own or main  # type: ignore[assignment]
    return tables


def _balancer(account: Account, options: AwsOptions, tables: dict[str, RouteTable],
              problems: Problems, where: Origin
              ) -> tuple[tuple[IPv4Address, str, str] | None, list[str]]:
    """The GWLB endpoint (address, subnet, id) and the workloads' subnets."""
    gwlb = {e.id: e for e in account.endpoints if e.kind.lower() == "gatewayloadbalancer"}
    workloads = [sid for sid, t in tables.items()
                 if any(r.destination == DEFAULT and r.target in gwlb for r in t.routes)]
    if options.workload_subnet:
        workloads = [options.workload_subnet]
    if not workloads:
        problems.error(where, "no subnet routes 0.0.0.0/0 to a Gateway Load Balancer "
                       "endpoint: where are the workloads?",
                       "add describe-route-tables and describe-vpc-endpoints, or name the "
                       "workloads' subnet with --workload-subnet")
        return None, []
    table = tables.get(workloads[0])
    target = next((r.target for r in (table.routes if table else ())
                   if r.destination == DEFAULT and r.target in gwlb), "")
    if not target:
        problems.error(where, f"the workloads' subnet {workloads[0]} does not route "
                       "0.0.0.0/0 to a GWLB endpoint", "the lab's connectors sit behind a GWLB")
        return None, workloads
    endpoint = gwlb[target]
    eni = next((e for e in account.enis if e.id in endpoint.enis or (
        e.kind == "gateway_load_balancer_endpoint" and e.subnet in endpoint.subnets)), None)
    if eni is None:
        problems.error(endpoint.origin, f"the endpoint {endpoint.id}'s network interface is "
                       "not in the export", "add `aws ec2 describe-network-interfaces`")
        return None, workloads
    return (eni.address, eni.subnet, endpoint.id), workloads


def _gwlb_source(account: Account, pairs: list[tuple[Eni, Eni]], names: dict[str, str],
                 subnets: dict[str, Subnet]) -> tuple[IPv4Address | None, str]:
    """The GWLB's own address in the connectors' service subnet, where GENEVE comes from:
    its interface if exported, else a free address there."""
    svc_subnet = pairs[0][1].subnet
    own = next((e for e in account.enis if e.kind == "gateway_load_balancer"
                and e.subnet == svc_subnet), None)
    if own is not None:
        return own.address, names[svc_subnet]
    used = {e.address for e in account.enis if e.subnet == svc_subnet}
    used.add(subnets[svc_subnet].cidr.network_address + 1)
    return first_free(subnets[svc_subnet].cidr, used, from_top=True), names[svc_subnet]


def _subnet_comment(subnet: Subnet) -> str:
    return f"{subnet.id}" + (f" ({subnet.name})" if subnet.name else "")


def _connector(k: int, pair: tuple[Eni, Eni], account: Account, names: dict[str, str],
               groups: dict[str, str]) -> ConnectorSpec:
    def nic(eni: Eni) -> NicSpec:
        return NicSpec(names[eni.subnet], eni.address, eni.public or account.eips.get(eni.id),
                       tuple(groups[g] for g in eni.groups if g in groups),
                       f"{eni.id} ({eni.origin.text()})")

    return ConnectorSpec(f"cc{k}", nic(pair[0]), nic(pair[1]))


def _groups(account: Account, pairs: list[tuple[Eni, Eni]], workloads: str,
            problems: Problems) -> list[SecurityGroup]:
    """The groups on the lab's interfaces, then every group their rules reference."""
    by_id = {g.id: g for g in account.groups}
    wanted = [g for pair in pairs for e in pair for g in e.groups]
    wanted += [g for e in _workload_enis(account, workloads, pairs) for g in e.groups]
    seen: dict[str, SecurityGroup] = {}
    while wanted:
        gid = wanted.pop(0)
        if gid in seen:
            continue
        if gid not in by_id:
            problems.error(Origin(", ".join(account.sources), ""),
                           f"security group {gid} is not in the export",
                           "add `aws ec2 describe-security-groups`")
            continue
        seen[gid] = by_id[gid]
        wanted += [r for p in (*by_id[gid].inbound, *by_id[gid].outbound) for r in p.groups]
    return list(seen.values())


def _workload_enis(account: Account, workloads: str, pairs: list[tuple[Eni, Eni]]) -> list[Eni]:
    connectors = {e.id for pair in pairs for e in pair}
    return [e for e in account.enis if e.subnet == workloads and e.id not in connectors
            and e.kind == "interface"][:1]


def _workload_groups(account: Account, workloads: str, pairs: list[tuple[Eni, Eni]],
                     names: dict[str, str]) -> tuple[str, ...]:
    """The lab's workloads carry the groups of the account's first workload interface."""
    found = _workload_enis(account, workloads, pairs)
    return tuple(names[g] for g in found[0].groups if g in names) if found else ()


def _group_names(groups: list[SecurityGroup]) -> dict[str, str]:
    taken: set[str] = set()
    return {g.id: lab_name(g.name, g.id, taken) for g in groups}


def _group(group: SecurityGroup, names: dict[str, str], account: Account,
           problems: Problems) -> GroupSpec:
    def rules(perms: tuple[Permission, ...], bound: str) -> tuple[RuleSpec, ...]:
        out = []
        for i, p in enumerate(perms):
            peers = list(p.cidrs)
            for pl in p.prefix_lists:
                if pl in account.prefix_lists:
                    peers.append(pl)
                else:
                    problems.unsupported(p.origin, f"prefix list {pl} is not resolved",
                                         f"save `aws ec2 get-managed-prefix-list-entries "
                                         f"--prefix-list-id {pl} --output json` as {pl}.json")
            for ref in p.groups:
                if ref in names:
                    peers.append(f"group:{names[ref]}")
            if not peers:
                continue
            ports = _ports(p.ports)
            label = f"{group.id} {bound}[{i}]" + (f": {p.label}" if p.label else "")
            out.append(RuleSpec(p.proto, ports, tuple(peers), label=label))
        return tuple(out)

    comment = f"{group.id}" + (f" ({group.name})" if group.name else "") + \
        f", {group.origin.text()}"
    return GroupSpec(names[group.id], "sg", rules(group.inbound, "in"),
                     rules(group.outbound, "out"), comment)


def _acls(account: Account, in_lab: list[Subnet]) -> list[tuple[AclSpec, set[str]]]:
    taken: set[str] = set()
    out = []
    ids = {s.id for s in in_lab}
    for acl in account.acls:
        covered = ids & set(acl.subnets)
        if covered:
            spec = AclSpec(lab_name(acl.name, acl.id, taken), _entries(acl, False),
                           _entries(acl, True), f"{acl.id}, {acl.origin.text()}")
            out.append((spec, covered))
    return out


def _entries(acl: NetworkAcl, egress: bool) -> tuple[AclEntrySpec, ...]:
    return tuple(AclEntrySpec(e.number, e.proto, _ports(e.ports), e.cidr, e.action)
                 for e in acl.entries if e.egress == egress)


def _ports(ports: tuple[int, int] | None) -> str | None:
    if ports is None:
        return None
    return str(ports[0]) if ports[0] == ports[1] else f"{ports[0]}-{ports[1]}"


def _routes(in_lab: list[Subnet], tables: dict[str, RouteTable], names: dict[str, str],
            endpoint: str, problems: Problems) -> list[RouteSpec]:
    out = []
    for subnet in in_lab:
        table = tables.get(subnet.id)
        if table is None:
            problems.warn(subnet.origin, f"subnet {subnet.id} has no route table: the lab "
                          "routes it to the internet gateway")
            continue
        for route in table.routes:
            if route.target == "local":
                continue
            if route.prefix_list or route.destination != DEFAULT:
                where_to = route.destination or route.prefix_list
                problems.unsupported(route.origin, f"route to {where_to} via {route.target} is "
                                     "not modelled",
                                     "the lab models each subnet's default route")
                continue
            hop = ("internet" if route.target.startswith("igw-") else
                   "nat" if route.target.startswith("nat-") else
                   "balancer" if route.target == endpoint else "")
            if not hop:
                problems.unsupported(route.origin, f"a default route via {route.target} is not "
                                     "modelled", "the lab's subnets go out by the internet "
                                     "gateway, the NAT gateway or the GWLB endpoint")
                continue
            if hop != "internet":
                out.append(RouteSpec(names[subnet.id], DEFAULT, hop,
                                     f"{table.id}: 0.0.0.0/0 -> {route.target}"))
    return out
