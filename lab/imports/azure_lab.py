"""An Azure `Subscription` laid out as a `LabCloud`: which interfaces are the connectors',
where the workloads live, which NSGs and route tables decide their traffic.

- The connectors: network interfaces with the tag given (`--connector-tag
  Role=cloud-connector`), grouped by virtual machine; the VM's primary interface
  is the management one (the vendor's templates make it primary), the other the
  service one.
- The workloads: the subnet whose route table sends 0.0.0.0/0 to an internal load
  balancer's frontend (`VirtualAppliance`, the vendor's design), or
  `--workload-subnet NAME`.
- The lab builds the subnets on those paths: the connectors', the workloads' and the
  load balancer's; others of the VNet are listed, not built.
- NSGs: those of the subnets and interfaces in the lab, with their priorities; the
  default rules are the lab's own (the same in every NSG). Every user-defined route
  of a subnet in the lab keeps its name (`udr:`), so its prefix joins that subnet's
  `VirtualNetwork` tag as Azure documents it.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from lab.imports.azure_model import (
    AzRouteTable,
    AzSubnet,
    Frontend,
    Nic,
    Nsg,
    NsgRule,
    Subscription,
    Vnet,
    leaf,
)
from lab.imports.cloud import (
    BalancerSpec,
    ConnectorSpec,
    GroupSpec,
    LabCloud,
    NicSpec,
    RouteSpec,
    RuleSpec,
    SubnetSpec,
)
from lab.imports.names import lab_name
from lab.imports.problems import Origin, Problems
from lab.lint.checks import HEALTH_PORT  # spec §3.1: when the export has no probe

DEFAULT = IPv4Network("0.0.0.0/0")


@dataclass(frozen=True, slots=True)
class AzureOptions:
    connector_tag: tuple[str, str] = ("Role", "cloud-connector")
    workload_subnet: str = ""  # a subnet's name
    # (VNet name, prefix): what its VPN or ExpressRoute gateway learns (BGP or local network
    # gateways), which Azure adds to VirtualNetwork; `--gateway-prefix VNET=PREFIX`
    gateway_prefixes: tuple[tuple[str, IPv4Network], ...] = ()


def azure_cloud(sub: Subscription, options: AzureOptions, problems: Problems
                ) -> LabCloud | None:
    where = Origin(", ".join(sub.sources), "")
    pairs = _connector_nics(sub, options, problems, where)
    if not pairs:
        return None
    subnets = {s.id: s for s in sub.subnets}
    missing = [n for pair in pairs for n in pair if n.subnet not in subnets]
    for nic in missing:
        problems.error(nic.origin, f"the subnet of {nic.name} is not in the export",
                       "add `az network vnet list`")
    if missing:
        return None
    vnet = next((v for v in sub.vnets if v.id == subnets[pairs[0][0].subnet].vnet), None)
    if vnet is None:
        problems.error(where, f"the connectors' VNet {leaf(subnets[pairs[0][0].subnet].vnet)} "
                       "is not in the export", "add `az network vnet list`")
        return None
    learned = _gateway_prefixes(sub, options, vnet, problems)
    tables = {t.id: t for t in sub.route_tables}
    frontend, workloads = _balancer(sub, options, tables, problems, where)
    if frontend is None or workloads is None:
        return None
    wanted = {workloads.id, frontend.subnet, *(n.subnet for pair in pairs for n in pair)}
    if frontend.subnet not in subnets:
        problems.error(frontend.origin, f"the subnet of load balancer {frontend.balancer} is "
                       "not in the export", "add `az network vnet list`")
        return None
    in_lab = [s for s in sub.subnets if s.id in wanted]
    for subnet in in_lab:
        if subnet.vnet != vnet.id:
            problems.unsupported(subnet.origin, f"subnet {subnet.name} is in another VNet "
                                 f"({leaf(subnet.vnet)})", "the lab builds one VNet: the "
                                 "connectors', with the workloads in it")
        if subnet.nat_gateway:
            problems.unsupported(subnet.origin, f"subnet {subnet.name} has a NAT gateway, "
                                 "which the Azure importer does not model yet",
                                 "the lab gives the connectors' interfaces their public IPs")
    nsgs = _nsgs(sub, in_lab, pairs, workloads, problems)
    publics = _publics(sub, pairs, problems)
    if problems.errors:
        return None
    names: set[str] = set()
    subnet_names = {s.id: lab_name(s.name, leaf(s.id), names) for s in in_lab}
    taken: set[str] = set()
    nsg_names = {n.id: lab_name(n.name, leaf(n.id), taken) for n in nsgs}
    skipped = [s.name for s in sub.subnets if s.vnet == vnet.id and s not in in_lab]
    wl_nsg = _workload_nsg(sub, workloads, pairs)
    return LabCloud(
        provider="azure", sources=tuple(sub.sources), address_space=vnet.prefixes,
        subnets=tuple(SubnetSpec(subnet_names[s.id], s.cidr, _subnet_comment(s),
                                 nsg=nsg_names.get(s.nsg, "")) for s in in_lab),
        connectors=tuple(_connector(k, pair, publics, subnet_names, nsg_names)
                         for k, pair in enumerate(pairs, start=1)),
        groups=tuple(_group(n, nsg_names[n.id]) for n in nsgs),
        balancer=BalancerSpec("ilb", subnet_names[frontend.subnet], frontend.address,
                              f"load balancer {frontend.balancer} ({frontend.origin.text()})",
                              probe_port=frontend.probe_port or HEALTH_PORT),
        workloads=subnet_names[workloads.id],
        management=subnet_names[pairs[0][0].subnet],
        routes=tuple(_routes(in_lab, tables, subnet_names, frontend, problems)),
        virtual_network=(*vnet.prefixes, *vnet.peered, *learned),
        notes=(f"VNet {vnet.name}" + (f"; subnets not on the connectors' paths, not built: "
                                      f"{', '.join(skipped)}" if skipped else ""),),
        workload_groups=(nsg_names[wl_nsg],) if wl_nsg in nsg_names else (),
    )


def _gateway_prefixes(sub: Subscription, options: AzureOptions, vnet: Vnet,
                      problems: Problems) -> tuple[IPv4Network, ...]:
    """The connectors' VNet's gateway-learned prefixes, as given: Azure adds them to
    VirtualNetwork, so a gateway whose prefixes are not given is a problem (a learned
    0.0.0.0/0, as forced tunnelling advertises, would make the tag everything)."""
    names = {v.name for v in sub.vnets}
    for name, _ in options.gateway_prefixes:
        if name not in names:
            problems.error(Origin("--gateway-prefix", ""), f"no VNet {name} in the export",
                           f"the VNets: {', '.join(sorted(names)) or 'none'}")
    learned = tuple(p for name, p in options.gateway_prefixes if name == vnet.name)
    if vnet.id in sub.gateways and not learned:
        problems.unsupported(sub.gateways[vnet.id],
                             f"VNet {vnet.name} has a VPN or ExpressRoute gateway: the "
                             "prefixes it learns join VirtualNetwork, and the export does "
                             "not list them",
                             f"give them: --gateway-prefix {vnet.name}=PREFIX for each "
                             "(`az network vnet-gateway list-learned-routes`)")
    return learned


def _connector_nics(sub: Subscription, options: AzureOptions, problems: Problems,
                    where: Origin) -> list[tuple[Nic, Nic]]:
    key, value = options.connector_tag
    tagged = [n for n in sub.nics if (key, value) in n.tags]
    if not tagged:
        problems.error(where, f"no network interface has the tag {key}={value}",
                       "tag the connectors' interfaces, or name the tag: --connector-tag "
                       "KEY=VALUE (and export `az network nic list`)")
        return []
    by_vm: dict[str, list[Nic]] = {}
    for nic in tagged:
        by_vm.setdefault(nic.vm or nic.id, []).append(nic)
    pairs = []
    for vm, found in by_vm.items():
        primary = [n for n in found if n.primary]
        others = [n for n in found if not n.primary]
        if len(primary) != 1 or len(others) != 1:
            problems.error(found[0].origin, f"virtual machine {leaf(vm)}: a connector has a "
                           "primary (management) and one more (service) interface, both "
                           "tagged", "tag both interfaces; the management one is primary")
            continue
        pairs.append((primary[0], others[0]))
    return pairs


def _balancer(sub: Subscription, options: AzureOptions, tables: dict[str, AzRouteTable],
              problems: Problems, where: Origin) -> tuple[Frontend | None, AzSubnet | None]:
    """The internal load balancer's frontend the workloads' default route names, and the
    workloads' subnet."""
    by_address = {f.address: f for f in sub.frontends}

    def next_hop(subnet: AzSubnet) -> IPv4Address | None:
        table = tables.get(subnet.route_table)
        return next((r.hop_ip for r in (table.routes if table else ())
                     if r.prefix == DEFAULT and r.hop == "VirtualAppliance"), None)

    if options.workload_subnet:
        candidates = [s for s in sub.subnets if s.name == options.workload_subnet]
        if not candidates:
            problems.error(where, f"no subnet named {options.workload_subnet} in the export",
                           "--workload-subnet takes a subnet's name")
            return None, None
    else:
        candidates = [s for s in sub.subnets if next_hop(s) in by_address]
    if not candidates:
        problems.error(where, "no subnet routes 0.0.0.0/0 to an internal load balancer's "
                       "frontend: where are the workloads?",
                       "add `az network route-table list` and `az network lb list`, or name "
                       "the workloads' subnet with --workload-subnet")
        return None, None
    workloads = candidates[0]
    hop = next_hop(workloads)
    if hop is None or hop not in by_address:
        problems.error(workloads.origin, f"the workloads' subnet {workloads.name} does not route "
                       "0.0.0.0/0 to an internal load balancer's frontend",
                       "the lab's connectors sit behind an ILB (a VirtualAppliance route to "
                       "its frontend); add `az network lb list`")
        return None, workloads
    return by_address[hop], workloads


def _nsgs(sub: Subscription, in_lab: list[AzSubnet], pairs: list[tuple[Nic, Nic]],
          workloads: AzSubnet, problems: Problems) -> list[Nsg]:
    by_id = {n.id: n for n in sub.nsgs}
    wanted = [s.nsg for s in in_lab] + [n.nsg for pair in pairs for n in pair]
    wanted.append(_workload_nsg(sub, workloads, pairs))
    out: list[Nsg] = []
    for nsg_id in dict.fromkeys(w for w in wanted if w):
        if nsg_id not in by_id:
            problems.error(Origin(", ".join(sub.sources), ""), f"network security group "
                           f"{leaf(nsg_id)} is not in the export", "add `az network nsg list`")
        else:
            out.append(by_id[nsg_id])
    return out


def _workload_nsg(sub: Subscription, workloads: AzSubnet, pairs: list[tuple[Nic, Nic]]) -> str:
    """The lab's workloads carry the NSG of the subscription's first workload interface."""
    connectors = {n.id for pair in pairs for n in pair}
    return next((n.nsg for n in sub.nics if n.subnet == workloads.id
                 and n.id not in connectors), "")


def _publics(sub: Subscription, pairs: list[tuple[Nic, Nic]],
             problems: Problems) -> dict[str, IPv4Address]:
    out = {}
    for nic in (n for pair in pairs for n in pair if n.public_ip):
        if nic.public_ip in sub.public_ips:
            out[nic.id] = sub.public_ips[nic.public_ip]
        else:
            problems.error(nic.origin, f"the public IP {leaf(nic.public_ip)} of {nic.name} is "
                           "not in the export (or has no address)",
                           "add `az network public-ip list`")
    return out


def _subnet_comment(subnet: AzSubnet) -> str:
    return f"subnet {subnet.name} ({subnet.origin.text()})"


def _connector(k: int, pair: tuple[Nic, Nic], publics: dict[str, IPv4Address],
               subnets: dict[str, str], nsgs: dict[str, str]) -> ConnectorSpec:
    def nic(n: Nic) -> NicSpec:
        return NicSpec(subnets[n.subnet], n.address, publics.get(n.id),
                       (nsgs[n.nsg],) if n.nsg in nsgs else (), f"{n.name} ({n.origin.text()})")

    return ConnectorSpec(f"cc{k}", nic(pair[0]), nic(pair[1]))


def _group(nsg: Nsg, name: str) -> GroupSpec:
    rules = sorted(nsg.rules, key=lambda r: r.priority)
    return GroupSpec(name, "nsg", tuple(s for r in rules if r.inbound for s in _specs(nsg, r)),
                     tuple(s for r in rules if not r.inbound for s in _specs(nsg, r)),
                     f"NSG {nsg.name} ({nsg.origin.text()})")


def _specs(nsg: Nsg, rule: NsgRule) -> list[RuleSpec]:
    """One rule per destination port range (the topology's rules take one range)."""
    far, near = (rule.sources, rule.destinations) if rule.inbound else \
        (rule.destinations, rule.sources)
    local = () if near == ("0.0.0.0/0",) else near
    return [RuleSpec(rule.proto, ports, far, "allow" if rule.allow else "deny", rule.priority,
                     local, f"{nsg.name} {rule.name}")
            for ports in (rule.ports or (None,))]


def _routes(in_lab: list[AzSubnet], tables: dict[str, AzRouteTable], names: dict[str, str],
            frontend: Frontend, problems: Problems) -> list[RouteSpec]:
    out = []
    for subnet in in_lab:
        table = tables.get(subnet.route_table)
        if subnet.route_table and table is None:
            problems.error(subnet.origin.at("routeTable"), f"route table "
                           f"{leaf(subnet.route_table)} is not in the export",
                           "add `az network route-table list`")
            continue
        for route in table.routes if table else ():
            hop = ("internet" if route.hop == "Internet" else
                   "balancer" if route.hop == "VirtualAppliance"
                   and route.hop_ip == frontend.address else "")
            if not hop:
                problems.unsupported(route.origin, f"route {route.name} ({route.prefix} via "
                                     f"{route.hop} {route.hop_ip or ''}) is not modelled".replace(
                                         " )", ")"),
                                     "the lab's subnets go out to the internet or to the "
                                     "internal load balancer")
                continue
            out.append(RouteSpec(names[subnet.id], route.prefix, hop,
                                 f"{table.name if table else ''}: {route.name}", udr=route.name))
    return out
