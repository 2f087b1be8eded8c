"""Where each lost flow of a played scenario was seen on its way, from the nodes' logs.

A missed bound says how many flows failed and when; it does not say where they died.
Each HTTP attempt is a new connection with its own local port, so the logs can follow
it: the load balancer that picked its connector (`gwlb.flow`, by 5-tuple), the
connector that classified it (`flow.new`, by 5-tuple), the ZIA edge that
carried it (`zia.transaction`, by 5-tuple) and the server that answered it
(`http.request`, by the probe's path /scn/METHOD/SEQ). A flow that reached the server
died on the way back; one that no edge logged died before the tunnel; one no
connector logged never reached a connector. Pure: the caller reads the events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lab.scenario.measure import Attempt, Run
from lab.scenario.profiles import Method

Event = Mapping[str, object]
TRACED = 12  # lost flows traced in a failure's message
# What a node's log says of a flow it saw, by event kind, in the order a packet meets them.
SEEN_KINDS = ("gwlb.flow", "flow.new", "zia.transaction", "http.request")


def sighting(e: Event, attempt: Attempt, method: Method, node: str) -> str | None:
    """What one event of `node` (any of SEEN_KINDS) says of `attempt`'s flow, if any."""
    kind = e.get("kind")
    if kind == "http.request":
        mine = e.get("path") == f"/scn/{attempt.method}/{attempt.seq}"
        return f"{node} got its request (from {e.get('src')})" if mine else None
    if not _same_flow(e, attempt, method):
        return None
    if kind == "gwlb.flow":
        return f"{node} to {e.get('target')}"
    if kind == "flow.new":
        gateway = f" {e['gateway']}" if e.get("gateway") else ""
        dropped = f", dropped {e['dropped']}" if e.get("dropped") else ""
        return f"{node} {e.get('method')}{gateway}{dropped}"
    if kind == "zia.transaction":
        return f"{node} by {e.get('transport')} from {e.get('tunnel_src')}"
    return None


def trace(attempt: Attempt, method: Method, events: Mapping[str, Sequence[Event]],
          started: float) -> str:
    """One line: the attempt and every node that logged its flow, in the order a packet
    meets them (load balancers, connectors, edges, the server); `started`: the traffic's
    start."""
    if method.kind != "http" or not attempt.sport:
        return f"{attempt.method}#{attempt.seq}: not traceable ({method.kind})"
    lines = [line for kind in SEEN_KINDS for node, seen in events.items() for e in seen
             if e.get("kind") == kind and (line := sighting(e, attempt, method, node))]
    return (f"{attempt.method}#{attempt.seq} {attempt.t0 - started:.2f} s "
            f"port {attempt.sport} {attempt.detail}: {'; '.join(lines) or 'seen nowhere'}")


def _same_flow(e: Event, attempt: Attempt, method: Method) -> bool:
    return (e.get("sport") == attempt.sport and e.get("dport") == method.port
            and e.get("dst") == method.address)


def worth_tracing(run: Run, limit: int = TRACED) -> list[Attempt]:
    """The failed attempts a fault's detection does not explain: those that started
    after the connectors noticed it (its start plus `detect_s`) and before the next
    fault, the undo's aftermath included; at most `limit`, the earliest first."""
    o = run.outcome
    ends = [f.start_s for f in o.faults[1:]] + [float("inf")]
    picked = []
    for f, end in zip(o.faults, ends, strict=True):
        noticed = f.start_s + (f.detect_s or 0.0)
        picked += [a for a in run.attempts
                   if not a.ok and noticed <= a.t0 - o.started < end]
    return sorted(picked, key=lambda a: a.t0)[:limit]
