"""An imported account (`LabCloud`) laid onto the lab's cloud: a topology and its files.

The account gives the subnets, the connectors' interfaces with their groups,
the rules, the network ACLs and the route tables. The lab adds what every
cloud topology has (lab/topologies/cloud/base.yaml): two workloads and a
bastion in the account's subnets, the VPC router `fabric` (each subnet's
first address), the internet gateway `igw` on a transit link of its own, the
load balancer (`gwlb` or `ilb`), the NAT gateway when the account has one,
and the internet side taken whole from base.yaml (web, dns, victim, attacker,
the fake ZIA edges and ZPA). The connectors run the reference connector with
a config written for their addresses. Pure: values in, texts out.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import yaml

from lab.catalog import TOPOLOGY_DIR
from lab.imports.cloud import AclSpec, GroupSpec, LabCloud, RuleSpec
from lab.imports.connector_config import connector_config, first_free
from lab.imports.emit import emit, header
from lab.imports.publics import map_publics

BASE = TOPOLOGY_DIR / "cloud" / "base.yaml"
POLICY = TOPOLOGY_DIR / "cloud" / "zpa-policy.yaml"
INTERNET_LINKS = ("internet", "dc-a", "dc-b")
INTERNET_NODES = ("web", "web2", "dns", "victim", "attacker", "zia1", "zia2", "zpa", "zpa-cloud",
                  "ac-a", "ac-b", "app-a", "app-b")
TRANSIT_CANDIDATES = ("10.255.250.0/24", "172.31.250.0/24", "192.168.250.0/24")
IGW_OUTSIDE = "198.18.0.1"
AZURE_LB = "198.51.100.16/32"  # the lab's stand-in for 168.63.129.16
LAB_PRIVATE = ("10.254.0.0/19", "192.0.2.0/24")  # the ZPA pool and the apps' sites


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The topology's text, the files it names (relative path -> text), the warnings."""

    topology: str
    files: dict[str, str]
    warnings: tuple[str, ...]
    name: str

    def rendered(self) -> str:
        """Everything, one text (golden files): the topology, then each file."""
        parts = [self.topology]
        for path, text in sorted(self.files.items()):
            if not path.endswith("zpa-policy.yaml"):
                parts.append(f"# ---- {path}\n{text}")
        return "\n".join(parts)


def lay_out(cloud: LabCloud, *, name: str, files_dir: str, command: str,
            warnings: list[str]) -> ImportResult:
    cloud, publics = map_publics(cloud)
    transit = _transit(cloud)
    doc: dict[str, Any] = {"name": name, "description": _description(cloud),
                           "dns": ["198.18.53.53"]}
    comments: dict[str, str] = {}
    tags = _tags(cloud, comments)
    if tags:
        doc["tags"] = tags
    doc["security_groups"] = {g.name: _group(g) for g in cloud.groups}
    for g in cloud.groups:
        comments[f"security_groups.{g.name}"] = g.comment
    if cloud.acls:
        doc["network_acls"] = {a.name: _acl(a) for a in cloud.acls}
        for a in cloud.acls:
            comments[f"network_acls.{a.name}"] = a.comment
    base = yaml.safe_load(BASE.read_text())
    doc["links"] = _links(cloud, transit, base, comments)
    doc["nodes"] = _nodes(cloud, transit, base, files_dir, comments)
    head = [f"Imported by `{command}`", *_sources(cloud.sources), "",
            "The account's subnets, interfaces, rules, network ACLs and routes; the lab adds",
            "the workloads, a bastion, the VPC router `fabric`, the internet gateway `igw`,",
            "the load balancer, and the internet side of lab/topologies/cloud/base.yaml.",
            "docs/cloud-semantics.md says how each rule is enforced."]
    head += ["", *cloud.notes] if cloud.notes else []
    table = publics.table()
    if table:
        head += ["", "Public addresses moved into the lab's ranges (the lab sends only to its "
                 "own):", *table]
    if warnings:
        head += ["", "Not modelled (imported with --allow-unsupported):", *warnings]
    text = header(head) + emit(doc, comments)
    files = {f"{files_dir}/{c.name}.yaml": connector_config(cloud, c) for c in cloud.connectors}
    files[f"{files_dir}/zpa-policy.yaml"] = POLICY.read_text()
    return ImportResult(text, files, tuple(warnings), name)


def _sources(sources: tuple[str, ...]) -> list[str]:
    """The files read, by folder."""
    folders: dict[str, list[str]] = {}
    for source in sources:
        path = Path(source)
        folders.setdefault(str(path.parent), []).append(path.name)
    return [f"from {folder}/: {', '.join(names)}" for folder, names in folders.items()]


def _description(cloud: LabCloud) -> str:
    n = len(cloud.connectors)
    lb = "a GWLB" if cloud.balancer.kind == "gwlb" else "an internal load balancer"
    egress = "a NAT gateway" if cloud.nat else "no NAT gateway"
    return (f"An imported {'AWS VPC' if cloud.provider == 'aws' else 'Azure VNet'}: "
            f"{n} connector{'s' if n != 1 else ''} behind {lb}, {egress}.")


def _transit(cloud: LabCloud) -> IPv4Network:
    """A link for the fabric and the internet gateway that overlaps nothing imported."""
    taken = [*cloud.address_space, *(s.cidr for s in cloud.subnets)]
    for text in TRANSIT_CANDIDATES:
        net = IPv4Network(text)
        if not any(net.overlaps(t) for t in taken):
            return net
    raise ValueError("no free transit prefix for the internet gateway")


def _tags(cloud: LabCloud, comments: dict[str, str]) -> dict[str, Any]:
    tags: dict[str, Any] = {}
    for name, values, comment in cloud.tags:
        tags[name] = list(values)
        comments[f"tags.{name}"] = comment
    if cloud.provider == "azure":
        tags["VirtualNetwork"] = {"virtual_network": [str(p) for p in cloud.virtual_network]}
        comments["tags.VirtualNetwork"] = ("address space, peerings and gateway-learned "
                                           "prefixes; each subnet's user-defined routes "
                                           "(udr:) add their prefixes")
        tags["AzureLoadBalancer"] = [AZURE_LB]
        comments["tags.AzureLoadBalancer"] = "the lab's stand-in for 168.63.129.16"
        # the VNet's own address space, not what VirtualNetwork learns: a learned 0.0.0.0/0
        # widens VirtualNetwork, it does not take the internet away
        tags["Internet"] = [str(p) for p in internet_tag(cloud.address_space)]
        comments["tags.Internet"] = "public space: all but RFC 1918, 100.64/10 and the VNet"
    return tags


def internet_tag(vnet: tuple[IPv4Network, ...]) -> list[IPv4Network]:
    """Azure's `Internet`: the address space outside the VNet that the internet reaches."""
    outside = [IPv4Network("0.0.0.0/0")]
    for hole in [*(IPv4Network(p) for p in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                            "100.64.0.0/10")), *vnet]:
        next_outside: list[IPv4Network] = []
        for net in outside:
            if hole.subnet_of(net):
                next_outside += net.address_exclude(hole)
            elif not net.subnet_of(hole):
                next_outside.append(net)
        outside = next_outside
    return sorted(outside)


def _group(group: GroupSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if group.kind != "sg":
        out["kind"] = group.kind
    out["inbound"] = [_rule(r, "from") for r in group.inbound]
    out["outbound"] = [_rule(r, "to") for r in group.outbound]
    return out


def _rule(rule: RuleSpec, key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.priority is not None:
        out["priority"] = rule.priority
    out["proto"] = rule.proto
    if rule.ports is not None:
        out["ports"] = int(rule.ports) if rule.ports.isdigit() else rule.ports
    out[key] = list(rule.peers)
    if rule.local:
        out["local"] = list(rule.local)
    if rule.action != "allow":
        out["action"] = rule.action
    if rule.label:
        out["label"] = rule.label
    return out


def _acl(acl: AclSpec) -> dict[str, Any]:
    def entries(items: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [{"rule": e.number, "proto": e.proto,
                 **({"ports": int(e.ports) if e.ports.isdigit() else e.ports}
                    if e.ports else {}),
                 "cidr": e.cidr, "action": e.action, **({"label": e.label} if e.label else {})}
                for e in items]

    return {"inbound": entries(acl.inbound), "outbound": entries(acl.outbound)}


@dataclass(frozen=True, slots=True)
class _Places:
    """Addresses the lab adds in the account's subnets."""

    workloads: tuple[IPv4Address, IPv4Address]
    bastion: IPv4Address
    ilb_service: IPv4Address | None


def _places(cloud: LabCloud) -> _Places:
    used: dict[str, set[IPv4Address]] = {s.name: {s.router} for s in cloud.subnets}
    for c in cloud.connectors:
        used[c.management.subnet].add(c.management.address)
        used[c.service.subnet].add(c.service.address)
    b = cloud.balancer
    used[b.subnet].add(b.address)
    if b.source is not None:
        used[b.source_subnet].add(b.source)
    if cloud.nat is not None:
        used[cloud.nat.subnet].add(cloud.nat.address)
    wl = cloud.subnet(cloud.workloads).cidr
    first = first_free(wl, used[cloud.workloads])
    used[cloud.workloads].add(first)
    second = first_free(wl, used[cloud.workloads])
    mgmt = cloud.subnet(cloud.management).cidr
    bastion = first_free(mgmt, used[cloud.management], from_top=True)
    used[cloud.management].add(bastion)
    ilb_service = None
    svc = cloud.connectors[0].service.subnet
    if b.kind == "ilb" and b.subnet != svc:
        ilb_service = first_free(cloud.subnet(svc).cidr, used[svc], from_top=True)
    return _Places((first, second), bastion, ilb_service)


def _links(cloud: LabCloud, transit: IPv4Network, base: dict[str, Any],
           comments: dict[str, str]) -> list[dict[str, Any]]:
    places = _places(cloud)
    ends: dict[str, list[dict[str, Any]]] = {s.name: [] for s in cloud.subnets}
    for k, node in enumerate(("workload1", "workload2")):
        end = _end(node, "eth0", places.workloads[k])
        if cloud.workload_groups:
            end["security_groups"] = list(cloud.workload_groups)
        ends[cloud.workloads].append(end)
    ends[cloud.management].append(_end("bastion", "eth0", places.bastion))
    b = cloud.balancer
    if b.kind == "gwlb":
        ends[b.subnet].append(_end("gwlb", "eth-e", b.address))
        if b.source is not None:
            ends[b.source_subnet].append(_end("gwlb", "eth-svc", b.source))
    else:
        svc = cloud.connectors[0].service.subnet
        if places.ilb_service is not None:
            ends[svc].append(_end("ilb", "eth-svc", places.ilb_service))
            ends[b.subnet].append(_end("ilb", "eth-lb", b.address))
        else:
            ends[b.subnet].append(_end("ilb", "eth-svc", b.address))
    for c in cloud.connectors:
        for ifname, nic in (("eth-mgmt", c.management), ("eth-svc", c.service)):
            end = _end(c.name, ifname, nic.address)
            if nic.public is not None:
                end["public"] = str(nic.public)
            if nic.groups:
                end["security_groups"] = list(nic.groups)
            ends[nic.subnet].append(end)
    if cloud.nat is not None:
        end = _end("natgw", "eth0", cloud.nat.address)
        end["public"] = str(cloud.nat.public)
        ends[cloud.nat.subnet].append(end)
    links: list[dict[str, Any]] = []
    for subnet in cloud.subnets:
        link: dict[str, Any] = {"name": subnet.name, "subnet": str(subnet.cidr)}
        if subnet.acl:
            link["network_acl"] = subnet.acl
        if subnet.nsg:
            link["security_groups"] = [subnet.nsg]
        link["endpoints"] = [*ends[subnet.name], _end("fabric", f"eth-s{len(links) + 1}",
                                                      subnet.router)]
        comments[f"links[{len(links)}]"] = subnet.comment
        links.append(link)
    comments[f"links[{len(links)}]"] = "the lab's: the VPC router to the internet gateway"
    links.append({"name": "attach", "subnet": str(transit), "endpoints": [
        _end("fabric", "eth-igw", transit.network_address + 1),
        _end("igw", "eth-vpc", transit.network_address + 2)]})
    for link in base["links"]:
        if link["name"] in INTERNET_LINKS:
            if link["name"] == "internet":
                comments[f"links[{len(links)}]"] = "the lab's internet (cloud/base.yaml)"
            links.append(link)
    return links


def _end(node: str, ifname: str, address: IPv4Address) -> dict[str, Any]:
    return {"node": node, "ifname": ifname, "address": str(address)}


def _nodes(cloud: LabCloud, transit: IPv4Network, base: dict[str, Any], files_dir: str,
           comments: dict[str, str]) -> dict[str, Any]:
    wl = cloud.subnet(cloud.workloads)
    mgmt = cloud.subnet(cloud.management)
    igw_inside = transit.network_address + 2
    nodes: dict[str, Any] = {
        "workload1": {"routes": [{"to": "default", "via": str(wl.router)}]},
        "workload2": {"routes": [{"to": "default", "via": str(wl.router)}]},
        "bastion": {"routes": [{"to": "default", "via": str(mgmt.router)}]},
        "fabric": {"role": "router", "routes": _fabric_routes(cloud, igw_inside)},
    }
    comments["nodes.fabric"] = "the VPC router: the route tables of the subnets below"
    nodes.update(_balancer_node(cloud))
    for c in cloud.connectors:
        svc, cmgmt = cloud.subnet(c.service.subnet), cloud.subnet(c.management.subnet)
        nodes[c.name] = {"role": "connector", "routes": [
            {"to": "default", "via": str(svc.router)},
            {"to": "default", "via": str(cmgmt.router), "from": f"{c.management.address}/32"}],
            "services": [{"kind": "connector", "config": f"{files_dir}/{c.name}.yaml"}]}
    if cloud.nat is not None:
        nat_subnet = cloud.subnet(cloud.nat.subnet)
        nodes["natgw"] = {"role": "gateway",
                          "routes": [{"to": "default", "via": str(nat_subnet.router)}],
                          "gateway": {"kind": "nat", "inside": "eth0", "outside": "eth0",
                                      "vpc": [str(p) for p in cloud.address_space]}}
        comments["nodes.natgw"] = cloud.nat.comment
    nodes["igw"] = {"role": "gateway",
                    "routes": [{"to": str(p), "via": str(transit.network_address + 1)}
                               for p in cloud.address_space],
                    "gateway": {"kind": "internet", "inside": "eth-vpc", "outside": "eth-inet",
                                "vpc": [str(p) for p in cloud.address_space]}}
    for name in INTERNET_NODES:
        node = dict(base["nodes"][name])
        if name == "zpa-cloud":
            node["services"] = [{**s, "policy": f"{files_dir}/zpa-policy.yaml"}
                                for s in node["services"]]
        nodes[name] = node
    return nodes


def _fabric_routes(cloud: LabCloud, igw_inside: IPv4Address) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = [{"to": "default", "via": str(igw_inside)}]
    b = cloud.balancer
    hops = {"internet": igw_inside, "balancer": b.address,
            "nat": cloud.nat.address if cloud.nat else None}
    for route in cloud.routes:
        via = hops[route.hop]
        if via is None:
            continue
        entry: dict[str, Any] = {"to": "default" if route.to.prefixlen == 0 else str(route.to),
                                 "via": str(via),
                                 "from": str(cloud.subnet(route.subnet).cidr)}
        if route.udr:
            entry["udr"] = route.udr
        routes.append(entry)
    if b.kind == "ilb":
        svc = cloud.connectors[0].service.subnet
        probe_side = b.address if b.subnet == svc else _places(cloud).ilb_service
        routes.append({"to": AZURE_LB, "via": str(probe_side)})
    return routes


def _balancer_node(cloud: LabCloud) -> dict[str, Any]:
    b = cloud.balancer
    targets = ",".join(str(c.service.address) for c in cloud.connectors)
    back = cloud.subnet(b.subnet).router
    if b.kind == "gwlb":
        listen = b.source or b.address
        return {"gwlb": {"role": "router",
                         "routes": [{"to": str(p), "via": str(back)} for p in cloud.address_space],
                         "services": [{"kind": "gwlb", "listen": str(listen), "targets": targets,
                                       "probe-port": str(b.probe_port), "interval": "1"}]}}
    return {"ilb": {"role": "router",
                    "services": [{"kind": "ilb", "targets": targets,
                                  "probe-source": AZURE_LB.split("/")[0],
                                  "probe-port": str(b.probe_port), "interval": "1"}]}}


def topology_files_dir(output: Path) -> str:
    """Where the files an imported topology names go: beside it, `<stem>-lab/`."""
    return f"{output.stem}-lab"
