"""What each attack should do, from the rules alone: the static evaluator (`lab.reach`)
walks every (attack, target) and names the control that decides it. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from lab.attack.catalog import ANY_ROLE, ATTACKS, Attack, Target, aimed, port_of, targets
from lab.lint.scope import internet_side
from lab.model import Topology
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
    cells: list[Cell] = []
    notes: list[str] = []
    for attack in ATTACKS:
        source = _source(topo, attack, own)
        if source is None:
            notes.append(f"{attack.id}: no `{attack.spoof}` node to spoof: not replayed")
            continue
        for target in aimed_at:
            mode = mode_of(attack, target)
            if aimed(attack, target) and mode:
                cells.append(_cell(topo, start.name, attack, target, mode, source,
                                   FIRST_SPORT + len(cells)))
    return Plan(start.name, tuple(cells), tuple(notes))


def mode_of(attack: Attack, target: Target) -> str:
    """Where the outcome is seen; '' where it cannot be (a spoofed workload's packet for
    a NAT gateway: its reply would go to the workload, and nothing behind it to watch)."""
    if attack.spoof == "victim":
        return "victim"
    if target.role != ANY_ROLE:
        return "arrival"
    return "" if attack.spoof else "answer"


def _source(topo: Topology, attack: Attack, own: IPv4Address) -> IPv4Address | None:
    if not attack.spoof:
        return own
    name = {"victim": "victim", "workload": "workload1"}[attack.spoof]
    node = next((n for n in topo.nodes if n.name == name), None)
    return node.interfaces[0].address.ip if node is not None and node.interfaces else None


def _cell(topo: Topology, start: str, attack: Attack, target: Target, mode: str,
          source: IPv4Address, sport: int) -> Cell:
    port = port_of(attack, topo)
    probe = Probe(attack.proto, str(source), str(target.address), port, sport)
    verdict = evaluate(topo, start, probe, reply=mode != "arrival")
    expected = verdict.reached and (mode != "arrival" or verdict.node == target.node)
    decision = verdict.deciding()
    if decision is not None:
        rule, path = decision.what, decision.path
    elif not expected and verdict.reached:
        rule, path = f"delivered to {verdict.node}, not to {target.node}", ""
    else:
        rule, path = "routing: nothing on the way decides", ""
    return Cell(attack, target, mode, source, port, sport, expected, rule, path)
