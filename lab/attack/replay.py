"""The plan's attacks on real packets in a running lab, and the matrix of what they did.

All probes leave the attacker from one process (`lab.traffic.attack_probe`): the
ones with its own source wait for their replies there; a reflection is seen in a
capture at the victim, an arrival in a capture at the connector's interface. A
capture at the internet gateway's outside shows every probe did enter the cloud,
so "blocked" never means "never sent".
"""

from __future__ import annotations

import json
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.packet import Packet
from scapy.utils import rdpcap

from lab.api import LabHandle
from lab.attack.expect import Cell, Plan
from lab.attack.matrix import Matrix, Row
from lab.errors import LabError

ANSWER_TIMEOUT_S = 3.0  # the connector's upstream timeout (2 s) and a round trip
SETTLE_S = 0.5  # after the sender is done: the last packets reach the captures


def replay(lab: LabHandle, plan: Plan, name: str) -> Matrix:
    with tempfile.TemporaryDirectory(prefix="cclab-attack-") as folder:
        pcaps = _capture_points(lab, plan)
        paths = {point: Path(folder) / f"{point[0]}-{point[1]}.pcap" for point in pcaps}
        with ExitStack() as stack:
            for (node, iface), path in paths.items():
                stack.enter_context(lab.capture(node, iface, path))
            answered = _send(lab, plan)
            time.sleep(SETTLE_S)
        seen = {point: _read(path) for point, path in paths.items()}
    gateway = _gateway_outside(lab)
    rows = tuple(_row(c, answered, seen, gateway, lab) for c in plan.cells)
    return Matrix(name, rows, plan.notes)


def _gateway_outside(lab: LabHandle) -> tuple[str, str] | None:
    for node in lab.topology.nodes:
        if node.gateway is not None and node.gateway.kind == "internet":
            return node.name, node.gateway.outside
    return None


def _victim(lab: LabHandle) -> tuple[str, str]:
    node = lab.topology.node("victim")
    return node.name, node.interfaces[0].name


def _capture_points(lab: LabHandle, plan: Plan) -> list[tuple[str, str]]:
    points = [_gateway_outside(lab)]
    if any(c.mode == "victim" for c in plan.cells):
        points.append(_victim(lab))
    points += [(c.target.node, c.target.iface) for c in plan.cells if c.mode == "arrival"]
    return list(dict.fromkeys(p for p in points if p is not None))


def _send(lab: LabHandle, plan: Plan) -> dict[int, str]:
    probes = [{"src": str(c.source), "dst": str(c.destination), "proto": c.attack.proto,
               "sport": c.sport, "dport": c.port, "payload": c.attack.payload,
               "ask": c.attack.answerable,
               "via": str(c.via) if c.via else ""}
              for c in plan.cells]
    done = lab.exec(plan.attacker, lab.python, "-m", "lab.traffic.attack_probe", "--timeout",
                    f"{ANSWER_TIMEOUT_S:g}", check=False, timeout=60,
                    input_text=json.dumps(probes))
    if not done.ok:
        raise LabError(f"the attack probes did not run on {plan.attacker}: "
                       f"{done.stderr.strip()[-500:]}")
    return {int(k): v for k, v in json.loads(done.stdout)["answered"].items()}


def _read(path: Path) -> list[Packet]:
    return list(rdpcap(str(path))) if path.exists() and path.stat().st_size > 24 else []


def _ports(packet: Packet) -> tuple[int, int] | None:
    for layer in (TCP, UDP):
        if layer in packet:
            return int(packet[layer].sport), int(packet[layer].dport)
    return None


def arrivals(cell: Cell, packets: list[Packet]) -> list[Packet]:
    """The cell's probes among what a capture at its target saw: its ports and its source.
    The internet gateway translates only the destination, so a probe keeps its (forged)
    source; the lab's own traffic on the same ports (the GWLB's health probes to the
    health port, from an ephemeral port that may equal the cell's) is not the attack's."""
    return [p for p in packets if IP in p and p[IP].src == str(cell.source)
            and _ports(p) == (cell.sport, cell.port)]


def _row(cell: Cell, answered: dict[int, str], seen: dict[tuple[str, str], list[Packet]],
         gateway: tuple[str, str] | None, lab: LabHandle) -> Row:
    sent = None
    if gateway is not None:
        sent = any(IP in p and p[IP].src == str(cell.source)
                   and p[IP].dst == str(cell.destination)
                   and _ports(p) == (cell.sport, cell.port) for p in seen[gateway])
    reply = answered.get(cell.sport)
    if cell.mode == "arrival":
        hits = arrivals(cell, seen[(cell.target.node, cell.target.iface)])
        evidence = (f"{len(hits)} seen on {cell.target.node}/{cell.target.iface}" if hits
                    else f"none on {cell.target.node}/{cell.target.iface}")
        if cell.attack.answerable:
            evidence += f"; {reply or 'no reply'} at the attacker"
        return Row.of(cell, bool(hits), sent, evidence)
    if cell.mode == "victim":
        victim = _victim(lab)
        hits = [p for p in seen[victim] if IP in p and _ports(p) == (cell.port, cell.sport)]
        evidence = (f"{len(hits)} replies reached {victim[0]}" if hits
                    else f"no reply at {victim[0]} in {ANSWER_TIMEOUT_S + SETTLE_S:g} s")
        return Row.of(cell, bool(hits), sent, evidence)
    return Row.of(cell, reply is not None, sent,
                  reply or f"no reply in {ANSWER_TIMEOUT_S:g} s")
