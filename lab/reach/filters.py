"""One packet against the rules `lab.cloud_rules` resolves: a port's layers, a subnet's ACL."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from lab.cloud_rules import AclRule, Layer, Peer, Rule, port_layers
from lab.model import Interface, Node, Topology
from lab.reach.probe import PROTO_NUMBERS, Decision, Probe


def proto_matches(rule_proto: str, ports: tuple[int, int] | None, probe: Probe) -> bool:
    if rule_proto == "all":
        return True
    wanted = PROTO_NUMBERS.get(rule_proto, int(rule_proto) if rule_proto.isdigit() else -1)
    if wanted != PROTO_NUMBERS.get(probe.proto, -2):
        return False
    if rule_proto not in ("tcp", "udp") or ports is None:
        return True  # ICMP and other protocols: every port (AWS: -1 and numbers)
    return probe.dport is not None and ports[0] <= probe.dport <= ports[1]


ANY_ADDRESS = Peer(IPv4Network("0.0.0.0/0"), "any address")


def _in(peers: tuple[Peer, ...] | None, address: IPv4Address) -> Peer | None:
    """The peer that holds `address` (ANY_ADDRESS when the rule names no address)."""
    if peers is None:
        return ANY_ADDRESS
    return next((p for p in peers if address in p.network), None)


def judge_layer(layer: Layer, probe: Probe, direction: str, where: str) -> Decision:
    """First match in the layer's order; no match: dropped."""
    far, near = (probe.destination, probe.source) if direction == "out" else \
        (probe.source, probe.destination)
    for rule in layer.rules:
        hit = _match(rule, probe, far, near)
        if hit is not None:
            return Decision(rule.action == "allow", f"{rule.name} at {where} {direction}: "
                            f"{rule.action} ({hit})", rule.path, rule.name)
    return Decision(False, layer.fallthrough(where, direction), "")


def judge_port(topo: Topology, node: Node, iface: Interface, probe: Probe,
               direction: str) -> tuple[Decision, ...]:
    """Every layer of the port (its subnet's NSG, its own groups) in order, up to the
    first that drops: a packet leaving (`out`) or reaching (`in`) `node`/`iface`."""
    decisions: list[Decision] = []
    for layer in port_layers(topo, node, iface, direction):
        decisions.append(judge_layer(layer, probe, direction, f"{node.name}/{iface.name}"))
        if not decisions[-1].passed:
            break
    return tuple(decisions)


def _match(rule: Rule, probe: Probe, far: IPv4Address, near: IPv4Address) -> str | None:
    if not proto_matches(rule.proto, rule.ports, probe):
        return None
    peer = _in(rule.far, far)
    if peer is None or _in(rule.near, near) is None:
        return None
    if peer is ANY_ADDRESS:
        return f"{far} is any address"
    return f"{far} in {peer.network}: {peer.origin}"


def judge_acl(rules: tuple[AclRule, ...], probe: Probe, direction: str, link: str) -> Decision:
    far = probe.source if direction == "in" else probe.destination
    for rule in rules:
        entry = rule.entry
        if proto_matches(entry.proto, entry.ports, probe) and far in entry.cidr:
            verb = "into" if direction == "in" else "out of"
            return Decision(entry.action == "allow",
                            f"{rule.name} ({verb} link {link}): {entry.action}", rule.path,
                            rule.name)
    raise AssertionError("an ACL ends with its implicit deny")
