"""What each attack should do, from the rules alone: the static evaluator (`lab.reach`)
walks every (attack, target) and names the control that decides it. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from lab.attack.catalog import (
    ANY_ROLE,
    ATTACKS,
    CLOUD_DNS_TAG,
    Attack,
    Target,
    aimed,
    port_of,
    targets,
)
from lab.gateways import RFC1918
from lab.lint.scope import internet_side
from lab.model import Node, Topology
from lab.reach import Probe, evaluate

FIRST_SPORT = 41000  # each cell's probes leave from a port of their own: replies are told apart


@dataclass(frozen=True, slots=True)
class Cell:
    """One attack at one target, with what the rules say: `expected` True when the attack
    should get through, `rule` the control that decides it, `path` where it is written."""

    attack: Attack
    target: Target
    mode: str  # arrival | victim | answer (lab.attack.catalog)
    source: IPv4Address
    destination: IPv4Address  # the target's public address, or its private one
    via: IPv4Address | None  # the neighbour the attacker hands it to (None: by its routes)
    port: int
    sport: int
    expected: bool
    rule: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.attack.id} {self.target.node}/{self.target.iface}"


@dataclass(frozen=True, slots=True)
class Plan:
    attacker: str  # the node the packets leave from
    cells: tuple[Cell, ...]
    notes: tuple[str, ...] = field(default=())


class NoAttackSurface(ValueError):
    """The topology has no internet side or nothing public to attack."""


def plan(topo: Topology, roles: Mapping[str, tuple[str, str]] | None = None) -> Plan:
    side = internet_side(topo)
    if side is None:
        raise NoAttackSurface("no host beyond an internet gateway to attack from (a node on "
                              "the gateway's outside link, like `attacker`)")
    aimed_at = targets(topo, roles)
    if not aimed_at:
        raise NoAttackSurface("no public address to attack: neither a connector interface "
                              "nor a NAT gateway has `public:`")
    start, own = side
    gateway = _gateway_address(start, own)
    cells: list[Cell] = []
    notes: list[str] = []
    for attack in ATTACKS:
        source = _source(topo, attack, start, own)
        if source is None:
            notes.append(f"{attack.id}: no `{attack.spoof}` address to spoof: not replayed")
            continue
        for target in aimed_at:
            mode = mode_of(attack, target)
            if aimed(attack, target) and mode:
                cells.append(_cell(topo, start.name, attack, target, mode, source, gateway,
                                   FIRST_SPORT + len(cells)))
    return Plan(start.name, tuple(cells), tuple(notes))


def mode_of(attack: Attack, target: Target) -> str:
    """Where the outcome is seen; '' where it cannot be: at a NAT gateway (behind it there
    is no one host to watch), an attack whose reply the attacker does not wait for."""
    if attack.spoof == "victim" and not attack.seen:
        return "victim"
    if target.role != ANY_ROLE:
        return "arrival"
    return "answer" if attack.answerable else ""


def _source(topo: Topology, attack: Attack, start: Node, own: IPv4Address
            ) -> IPv4Address | None:
    if not attack.spoof:
        return own
    if attack.spoof == "unused-public":
        return _unused(topo, start, own)
    if attack.spoof == "rfc1918":
        return _private_elsewhere(topo)
    if attack.spoof == "cloud-dns":
        return _unheld_in_tag(topo, CLOUD_DNS_TAG)
    name = {"victim": "victim", "workload": "workload1"}[attack.spoof]
    node = next((n for n in topo.nodes if n.name == name), None)
    return node.interfaces[0].address.ip if node is not None and node.interfaces else None


def _unused(topo: Topology, start: Node, own: IPv4Address) -> IPv4Address | None:
    """The highest address of the attacker's link that no node holds: a 'new' source."""
    net = next(i.address.network for i in start.interfaces if i.address.ip == own)
    held = {i.address.ip for n in topo.nodes for i in n.interfaces} | \
        {r.via for n in topo.nodes for r in n.routes}
    address = net.broadcast_address - 1
    while address in held and address > net.network_address + 1:
        address -= 1
    return None if address in held else address


def _unheld_in_tag(topo: Topology, tag: str) -> IPv4Address | None:
    """The highest address of the tag's first prefix that no node holds (GCP: a Cloud DNS
    forwarder's source, forged); None without the tag."""
    prefixes = [p for p in dict(topo.tags).get(tag, ()) if isinstance(p, IPv4Network)]
    if not prefixes:
        return None
    held = {i.address.ip for n in topo.nodes for i in n.interfaces}
    address = prefixes[0].broadcast_address - 1
    while address in held and address > prefixes[0].network_address + 1:
        address -= 1
    return None if address in held else address


def _private_elsewhere(topo: Topology) -> IPv4Address | None:
    """The highest RFC 1918 address in no VPC of the topology and held by no node: a
    private source that can only have been forged on the internet."""
    vpcs = [IPv4Network(p) for n in topo.nodes if n.gateway is not None for p in n.gateway.vpc
            if p.version == 4]
    held = {i.address.ip for n in topo.nodes for i in n.interfaces}
    for block in reversed(RFC1918):
        net = IPv4Network(block)
        address = net.broadcast_address - 1
        if address not in held and not any(address in v for v in vpcs):
            return address
    return None


def _gateway_address(start: Node, own: IPv4Address) -> IPv4Address | None:
    """The internet gateway's address on the attacker's link: where `start` sends the
    packets it routes to the cloud."""
    net = next(i.address.network for i in start.interfaces if i.address.ip == own)
    return next((r.via for r in start.routes if isinstance(r.via, IPv4Address) and r.via in net),
                None)


def _cell(topo: Topology, start: str, attack: Attack, target: Target, mode: str,
          source: IPv4Address, gateway: IPv4Address | None, sport: int) -> Cell:
    port = port_of(attack, topo)
    private = attack.to == "private" and target.private is not None
    destination = target.private if private and target.private else target.address
    via = gateway if private else None
    probe = Probe(attack.proto, str(source), str(destination), port, sport)
    verdict = evaluate(topo, start, probe, reply=mode != "arrival", via=via)
    expected = verdict.reached and (mode != "arrival" or verdict.node == target.node)
    decision = verdict.deciding()
    if decision is not None:
        rule, path = decision.what, decision.path
    elif not expected and verdict.reached:
        rule, path = f"delivered to {verdict.node}, not to {target.node}", ""
    else:
        rule, path = "routing: nothing on the way decides", ""
    return Cell(attack, target, mode, source, destination, via, port, sport, expected, rule,
                path)
