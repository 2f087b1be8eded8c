"""A packet walked hop by hop through a topology, every control on the way judged.

The static half of `cclab attack` (what the rules say should happen, before the
packets say what does), in the manner of AWS Reachability Analyzer: routing as
the plan sets the kernels up (`lab.reach.route`), the gateways as
`lab.gateways` renders them (1:1 NAT with anti-spoofing, unsolicited drops, the
NAT gateway's masquerade), and at every bridge port the rules of
`lab.cloud_rules`: the sender's outbound layers, the network ACL where the
frame crosses its subnet's router, the receiver's inbound layers. A reply is
walked as part of an established flow: security groups and NSGs let it pass
(stateful), network ACLs judge it again (stateless), NAT is undone.

The load balancers hand a packet on as they do: the GWLB wraps it in GENEVE to
its first target, the ILB forwards it unchanged to its first target. A packet
that reaches a connector for another destination ends there: what the
connector then does is its own policy, not the cloud's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from lab.cloud_rules import acl_ports, acl_rules
from lab.gateways import RFC1918, public_map
from lab.model import Gateway, Node, Topology
from lab.reach.filters import judge_acl, judge_port
from lab.reach.probe import Decision, Probe, Verdict
from lab.reach.route import forced_hop, next_hop

MAX_HOPS = 24
GENEVE_PORT = 6081


@dataclass
class _Walk:
    topo: Topology
    established: bool
    decisions: list[Decision] = field(default_factory=list)
    hops: list[str] = field(default_factory=list)
    nat: dict[str, tuple[IPv4Address, IPv4Address]] = field(default_factory=dict)

    def end(self, reached: bool, node: str, iface: str, probe: Probe) -> Verdict:
        return Verdict(reached, node, iface, probe, tuple(self.decisions), tuple(self.hops))

    def drop(self, node: str, probe: Probe, what: str, path: str = "") -> Verdict:
        self.decisions.append(Decision(False, what, path))
        return self.end(False, node, "", probe)


def forward(topo: Topology, start: str, probe: Probe) -> Verdict:
    """Send `probe` from node `start` (as a new flow); where does it end?"""
    return _run(_Walk(topo, established=False), start, None, probe)


def reply(topo: Topology, verdict: Verdict, nat: dict[str, tuple[IPv4Address, IPv4Address]]
          | None = None) -> Verdict:
    """The answer to a delivered packet, sent back as part of its flow."""
    walk = _Walk(topo, established=True, nat=dict(nat or {}))
    return _run(walk, verdict.node, None, verdict.packet.reply())


def evaluate(topo: Topology, start: str, probe: Probe, *, reply: bool = False,
             via: IPv4Address | None = None) -> Verdict:
    """`forward`, and with `reply` the way back too: reached only when both get there.
    The verdict of the way back names every decision of both ways. `via`: the neighbour
    `start` hands the packet to, whatever its routes say (a sender that forces the next
    hop, as an attacker on the link can)."""
    walk = _Walk(topo, established=False)
    there = _run(walk, start, None, probe, via)
    if not reply or not there.reached:
        return there
    back = _run(_Walk(topo, True, nat=walk.nat), there.node, None, there.packet.reply())
    return Verdict(back.reached and back.packet.dst == probe.src, there.node, there.iface,
                   there.packet, there.decisions + back.decisions, there.hops + ("|",) + back.hops)


def _run(walk: _Walk, node_name: str, arrived: str | None, probe: Probe,
         first_via: IPv4Address | None = None) -> Verdict:
    topo = walk.topo
    for _ in range(MAX_HOPS):
        node = topo.node(node_name)
        walk.hops.append(node_name)
        if node.gateway is not None:
            translated = _gateway_in(walk, node, node.gateway, arrived, probe)
            if isinstance(translated, Verdict):
                return translated
            probe = translated
        own = next((i for i in node.interfaces if i.address.ip == probe.destination), None)
        if own is not None:
            return walk.end(True, node_name, own.name, probe)
        if arrived is not None and _is_connector(node):
            return walk.end(True, node_name, arrived, probe)  # the connector's to decide
        if arrived is not None and not node.forwards:
            return walk.drop(node_name, probe, f"{node_name} does not forward (role {node.role})")
        handed = _balancer(walk, node, probe)
        target = None
        if handed is not None:
            probe, target = handed
        hop = next_hop(node, probe.source, target or probe.destination)
        if first_via is not None:
            hop, first_via = forced_hop(node, first_via), None
        if hop is None:
            return walk.drop(node_name, probe, f"{node_name}: no route to {probe.dst}")
        probe_out = _gateway_out(walk, node, hop.iface, probe)
        if isinstance(probe_out, Verdict):
            return probe_out
        probe = probe_out
        nxt = _cross(walk, node, hop.iface, hop.via, probe)
        if isinstance(nxt, Verdict):
            return nxt
        node_name, arrived = nxt
    return walk.drop(node_name, probe, "too many hops (a routing loop?)")


def _is_connector(node: Node) -> bool:
    return any(s.kind == "connector" for s in node.services)


def _balancer(walk: _Walk, node: Node, probe: Probe) -> tuple[Probe, IPv4Address] | None:
    """GWLB: GENEVE from its listen address to its first target; ILB: the packet unchanged
    to its first target (both: the first, as the lab's hash may pick either)."""
    for service in node.services:
        if service.kind not in ("gwlb", "ilb"):
            continue
        target = IPv4Address(service.option("targets").split(",")[0])
        if service.kind == "ilb":
            walk.hops.append(f"(ilb: to {target})")
            return probe, target
        if walk.established:
            return None  # the connector answers the workload through the GWLB: unwrapped
        listen = service.option("listen")
        walk.hops.append(f"(gwlb: GENEVE to {target})")
        return Probe("udp", listen, str(target), GENEVE_PORT, GENEVE_PORT), target
    return None


def _cross(walk: _Walk, node: Node, iface_name: str, via: IPv4Address,
           probe: Probe) -> tuple[str, str] | Verdict:
    """The frame from `node`/`iface_name` to the owner of `via` on that link: the
    sender's outbound rules, the subnet's ACL, the receiver's inbound rules."""
    topo = walk.topo
    iface = node.interface(iface_name)
    owner = next(((n, i) for n in topo.nodes for i in n.interfaces
                  if i.network == iface.network and i.address.ip == via), None)
    if owner is None:
        return walk.drop(node.name, probe, f"{node.name}: nobody has {via} on {iface.network}")
    peer, peer_iface = owner
    for port in acl_ports(topo):
        if port.network != iface.network:
            continue
        rules = None
        if (port.node, port.iface) == (node.name, iface_name):
            rules, direction = acl_rules(port.acl, "in"), "in"
        elif (port.node, port.iface) == (peer.name, peer_iface.name):
            rules, direction = acl_rules(port.acl, "out"), "out"
        if rules is not None:
            decision = judge_acl(rules, probe, direction, iface.network)
            walk.decisions.append(decision)
            if not decision.passed:
                return walk.end(False, node.name, "", probe)
    if not walk.established:  # the sender's outbound layers, then the receiver's inbound
        for who, port_iface, direction in ((node, iface, "out"), (peer, peer_iface, "in")):
            decisions = judge_port(topo, who, port_iface, probe, direction)
            walk.decisions.extend(decisions)
            if decisions and not decisions[-1].passed:
                return walk.end(False, who.name, "", probe)
    return peer.name, peer_iface.name


def _gateway_in(walk: _Walk, node: Node, gw: Gateway, arrived: str | None,
                probe: Probe) -> Probe | Verdict:
    """What a gateway does to a packet it receives (before routing)."""
    if gw.kind == "egress-only":  # IPv6 only; these probes are IPv4
        return walk.drop(node.name, probe, f"egress-only gateway {node.name} forwards no IPv4 "
                         "(counter not_ipv6)")
    if gw.kind == "nat":
        if probe.destination in [i.address.ip for i in node.interfaces]:
            if walk.established and node.name in walk.nat:
                original, _ = walk.nat[node.name]
                walk.hops.append(f"(nat gateway: back to {original})")
                return probe.with_addresses(dst=original)
            return walk.drop(node.name, probe, f"NAT gateway {node.name}: unsolicited inbound "
                             "dropped (counter unsolicited)")
        return probe
    if arrived != gw.outside:
        return probe
    vpc = [IPv4Network(p) for p in gw.vpc]
    if gw.anti_spoofing and any(probe.source in p for p in vpc):
        return walk.drop(node.name, probe, f"internet gateway {node.name}: anti-spoofing drops "
                         f"a VPC source {probe.src} from the internet (counter spoofed_vpc)")
    if gw.anti_spoofing and any(probe.source in IPv4Network(p) for p in RFC1918):
        return walk.drop(node.name, probe, f"internet gateway {node.name}: anti-spoofing drops "
                         f"an RFC 1918 source {probe.src} (counter spoofed_private)")
    if gw.drop_provider_ranges and any(probe.source in p for p in gw.provider_ranges):
        return walk.drop(node.name, probe, f"internet gateway {node.name}: drops a source in "
                         f"the provider's own ranges, {probe.src} (counter spoofed_provider)")
    mapped = dict(public_map(walk.topo))
    if probe.destination in mapped:
        walk.hops.append(f"(igw: {probe.dst} -> {mapped[probe.destination]})")
        return probe.with_addresses(dst=mapped[probe.destination])
    if probe.destination in [i.address.ip for i in node.interfaces]:
        return probe
    return walk.drop(node.name, probe, f"internet gateway {node.name}: no public address maps "
                     f"{probe.dst}: unsolicited, dropped (counter unsolicited)")


def _gateway_out(walk: _Walk, node: Node, iface: str, probe: Probe) -> Probe | Verdict:
    """What a gateway does to a packet it sends (after routing)."""
    gw = node.gateway
    if gw is None:
        return probe
    vpc = [IPv4Network(p) for p in gw.vpc]
    in_vpc = any(probe.source in p for p in vpc)
    if gw.kind == "nat":
        if in_vpc and not any(probe.destination in p for p in vpc) and not walk.established:
            own = node.interface(gw.outside).address.ip
            walk.nat[node.name] = (probe.source, own)
            walk.hops.append(f"(nat gateway: {probe.src} -> {own})")
            return probe.with_addresses(src=own)
        return probe
    if iface != gw.outside or not in_vpc:
        return probe
    to_public = {private: public for public, private in public_map(walk.topo)}
    if probe.source in to_public:
        walk.hops.append(f"(igw: {probe.src} -> {to_public[probe.source]})")
        return probe.with_addresses(src=to_public[probe.source])
    return walk.drop(node.name, probe, f"internet gateway {node.name}: {probe.src} has no "
                     "public address (counter no_public_address)")
