"""Packets per second through the connector's paths against plain kernel forwarding.

One lab (bench/topologies/dataplane-bench.yaml), one sender (the flood engine
in the client node, sendmmsg at full speed, 64 UDP flows of 110-byte packets),
the same wires and the same meter for every path; only the node in the middle
differs:

- kernel: through rtr, a router namespace (the reference)
- direct-routed / zia-routed: through cc2, a connector in routed mode, as the
  next hop (Azure ILB mode)
- direct-geneve / zia-geneve: GENEVE-encapsulated to cc1, a connector in
  GENEVE mode (AWS GWLB mode; the client plays the load balancer)
- direct-routed-kernel: through cc4, cc2 with the routed fast path on
  (runtime.routed_fast_path): each flow's first datagram through the rules, the
  rest carried by the connector's tc program, which reads conntrack's decision
- direct-geneve-kernel: the same stream to cc3, cc1 with the GENEVE fast path
  on (runtime.geneve_fast_path): each flow's first packet through user space,
  the rest decapsulated by the connector's tc program in the kernel and, the
  rules having decided the connection Direct, carried on past the TUN by it
- zia-routed-kernel: the ZIA stream routed through cc4: each flow's first datagram
  framed by user space, the rest framed into the UDP tunnel by the tc program
- zia-geneve-kernel: the ZIA stream to cc3: each flow's first packet framed by user
  space, the rest decapsulated and framed into the UDP tunnel by the tc program
- lab-gwlb / lab-gwlb-user: the same 64 flows as a workload sends them, through
  the lab's GWLB (its fast path on / user space only), encapsulated to a target
  whose GENEVE edge counts and drops: the lab's load balancer alone. Issue 19
  asks it to carry at least twice what a connector carries over GENEVE (so a
  flood through it measures the connector): `gwlb_to_connector` is the median
  of the rounds' own ratios to direct-geneve (target 2.0)

The meter is a pair of reads of an nftables counter on edge, taken while the
stream runs (after a second of warm-up), so start-up and the drain after the
sender stops are left out. Paths alternate, several rounds; the figures are
medians, and a path's ratio is the median of its rounds' own ratios to the
kernel (a round runs every path back to back). Writes the `dataplane` part
of reports/bench/connector.json. Targets (issue #19): Direct >= 0.8x the
kernel, tunnels >= 0.6x, the lab's GWLB >= 2x GENEVE Direct.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.lab_run import in_lab, write_part
from lab.api import LabHandle
from lab.events import Mark
from lab.traffic.flood.in_lab import flood_argv, path_towards
from reports.figures import bound

TOPOLOGY = Path(__file__).parent / "topologies" / "dataplane-bench.yaml"
OUT = Path("reports/bench/connector.json")
ROUNDS = int(os.environ.get("CCLAB_BENCH_ROUNDS", "3"))
SECONDS = float(os.environ.get("CCLAB_BENCH_SECONDS", "6"))
WARM_S = 1.5
CLIENT, CONNECTOR, FAST_CONNECTOR = "client", "10.20.1.31", "10.20.1.33"
MAX_FRAMES = 20_000_000  # the sender stops at this count or after SECONDS, whichever first


@dataclass(frozen=True, slots=True)
class Way:
    profile: str
    to: str  # the stream's destination (routes decide the node in the middle)
    counter: str  # the counter on edge that sees what arrives
    geneve: bool = False
    connector: str = CONNECTOR  # the GENEVE endpoint (geneve ways)


WAYS = {
    "kernel": Way("udp-stream", "10.20.2.50", "kernel"),
    "direct-routed": Way("udp-stream", "10.20.2.51", "direct"),
    "direct-routed-kernel": Way("udp-stream", "10.20.2.56", "direct_fast"),
    "direct-geneve": Way("geneve-stream", "10.20.2.51", "direct", geneve=True),
    "direct-geneve-kernel": Way("geneve-stream", "10.20.2.51", "direct", geneve=True,
                                connector=FAST_CONNECTOR),
    "zia-routed": Way("udp-stream", "10.20.2.52", "zia_data"),
    "zia-routed-kernel": Way("udp-stream", "10.20.2.58", "zia_data"),
    "zia-geneve": Way("geneve-stream", "10.20.2.52", "zia_data", geneve=True),
    "zia-geneve-kernel": Way("geneve-stream", "10.20.2.52", "zia_data", geneve=True,
                             connector=FAST_CONNECTOR),
    "lab-gwlb": Way("udp-stream", "10.20.2.54", "gwlb"),
    "lab-gwlb-user": Way("udp-stream", "10.20.2.55", "gwlb_user"),
}
GWLB_WAYS = ("lab-gwlb", "lab-gwlb-user")


def counter(lab: LabHandle, name: str) -> int:
    out = lab.exec("edge", "nft", "-j", "list", "counter", "inet", "bench_meter", name).stdout
    return int(next(item["counter"]["packets"] for item in json.loads(out)["nftables"]
                    if "counter" in item))


def cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine (the lab shares its kernel)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def run_way(lab: LabHandle, way: Way) -> dict[str, float]:
    hop = way.connector if way.geneve else way.to
    path = path_towards(lab.backend, CLIENT, hop)
    argv = [*flood_argv(lab.python, way.profile, path, hop, MAX_FRAMES, SECONDS),
            "--web", way.to]
    sent: dict[str, Any] = {}
    sender = threading.Thread(target=lambda: sent.update(
        json.loads(lab.exec(CLIENT, *argv, timeout=SECONDS + 60).stdout.splitlines()[-1])))
    sender.start()
    time.sleep(WARM_S)
    first, t0, cpu0 = counter(lab, way.counter), time.monotonic(), cpu_busy()
    time.sleep(SECONDS - WARM_S - 1.0)
    last, t1, cpu1 = counter(lab, way.counter), time.monotonic(), cpu_busy()
    sender.join()
    return {"pps": round((last - first) / (t1 - t0)), "offered_pps": sent.get("pps", 0),
            "cpu_busy": round((cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1]), 2)}


def measure(lab: LabHandle) -> dict[str, Any]:
    for connector in ("cc1", "cc2", "cc3", "cc4"):
        lab.wait_event(connector, "zia.gateway_up", after=Mark.BEGINNING, timeout=30)
    for connector, event in (("cc3", "dataplane.fast_path"),
                             ("cc4", "dataplane.routed_fast_path")):
        fast = lab.wait_event(connector, event, after=Mark.BEGINNING, timeout=30)
        if fast.get("state") != "on":
            raise RuntimeError(f"{connector} has no fast path: {fast.get('reason')}")
    gwlb_fast = lab.wait_event("gwlb", "gwlb.fast_path", after=Mark.BEGINNING, timeout=30)
    if gwlb_fast.get("state") != "on":
        raise RuntimeError(f"the lab's GWLB has no fast path: {gwlb_fast.get('reason')}")
    for gwlb in ("gwlb", "gwlb2"):
        lab.wait_event(gwlb, "gwlb.target_healthy", after=Mark.BEGINNING, timeout=30)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in WAYS}
    for _ in range(ROUNDS):
        for name, way in WAYS.items():
            runs[name].append(run_way(lab, way))
    medians = {name: statistics.median(r["pps"] for r in rs) for name, rs in runs.items()}
    # Each round runs every path back to back, under the same load of this shared
    # machine: a path's ratio is the median of its rounds' own ratios to the kernel.
    ratios = {name: [r["pps"] / max(1, k["pps"]) for r, k in zip(rs, runs["kernel"],
                                                                  strict=True)]
              for name, rs in runs.items() if name != "kernel"}
    to_connector = {name: [g["pps"] / max(1, c["pps"]) for g, c in zip(
        runs[name], runs["direct-geneve"], strict=True)] for name in GWLB_WAYS}
    return {
        "what": "packets per second delivered through each path, 64 UDP flows of 110-byte "
                "packets, the flood engine at full speed in the client",
        "rounds": ROUNDS, "seconds_per_run": SECONDS,
        "pps_median": {name: round(v) for name, v in medians.items()},
        "ratio_to_kernel": {name: round(statistics.median(rs), 3)
                            for name, rs in ratios.items()},
        "ratio_per_round": {name: [round(r, 3) for r in rs] for name, rs in ratios.items()},
        "gwlb_to_connector": {name: round(statistics.median(rs), 3)
                              for name, rs in to_connector.items()},
        "gwlb_to_connector_per_round": {name: [round(r, 3) for r in rs]
                                        for name, rs in to_connector.items()},
        "targets": {"direct": bound("connector:direct"), "tunnel": bound("connector:tunnel"),
                    "gwlb_to_connector": bound("lab:gwlb")},
        "runs": runs,
        "limits": LIMITS,
    }


LIMITS = {
    "kernel": "the sender's core: veth hands each frame on in the sender's own softirq, so "
              "one core sends and forwards (through rtr and edge) while the other idles "
              "(cpu_busy 0.5); delivered equals offered",
    "direct-routed": "the same: the connector's routed Direct path is the kernel's (nftables "
                     "decides each new flow, conntrack and SNAT), run in the sender's "
                     "softirq; it costs more per packet than plain forwarding, so the "
                     "sender's core offers less; delivered equals offered",
    "direct-routed-kernel": "the sender's core, as for the kernel: the connector's tc "
                            "program carries each datagram of a connection the rules "
                            "decided Direct (a conntrack lookup, the SNAT conntrack chose, "
                            "a route lookup) in the sender's softirq, past the netfilter "
                            "hooks; delivered equals offered",
    "direct-geneve": "the connector process, on the other core (cpu_busy 1.0): sampled "
                     "(py-spy), half its time is the TUN write, in which the kernel "
                     "forwards and NATs the packet, a tenth the recvfrom, the rest "
                     "CPython per packet (a known flow: a short header read, the flow "
                     "lookup and count); user space because this kernel has no GENEVE "
                     "module",
    "direct-geneve-kernel": "the sender's core, as for the kernel: the connector's tc "
                            "program decapsulates each packet of a known flow in the "
                            "sender's softirq and, its connection decided Direct by the "
                            "rules on its first packet, SNATs it and sends it to the next "
                            "hop itself (past the TUN and the netfilter hooks); delivered "
                            "equals offered; the gap to the kernel is the decapsulation and "
                            "the conntrack and route lookups of a 40-byte-longer frame",
    "zia-routed": "the connector process: the kernel routes the flow to a TUN, CPython "
                  "reads it, looks the flow up, frames it and sends it into the tunnel",
    "zia-routed-kernel": "the sender's core, as for the kernel: the connector's tc program "
                         "frames each datagram of a known flow in the sender's softirq "
                         "(a flow map lookup, conntrack's entry checked and renewed, the "
                         "TTL lowered, IPv4, UDP and the 12-byte tunnel header put in "
                         "front) and sends it to the next hop towards the edge",
    "zia-geneve": "the connector process: CPython per packet (recvfrom, GENEVE parse, flow "
                  "lookup, tunnel frame, sendto)",
    "zia-geneve-kernel": "the sender's core, as for the kernel: the connector's tc program "
                         "decapsulates each packet of a known flow in the sender's softirq, "
                         "frames it (IPv4, UDP, the 12-byte tunnel header) and sends it "
                         "to the next hop towards the edge; no conntrack, no NAT",
    "lab-gwlb": "the sender's core: the GWLB's tc program encapsulates each packet of a "
                "known flow in the sender's softirq and hands it to the neighbour towards "
                "the target, so one core sends, forwards and encapsulates",
    "lab-gwlb-user": "the GWLB process: the kernel routes each packet into its TUN, CPython "
                     "reads it, looks its flow up and sends it in GENEVE (sendto, in which "
                     "the kernel forwards it on)",
}


def main() -> None:
    figures = in_lab(TOPOLOGY, "bench-dp", measure)
    write_part(OUT, "dataplane", figures)
    for name, pps in figures["pps_median"].items():
        ratio = figures["ratio_to_kernel"].get(name)
        print(f"{name:14} {pps:>9,} pps" + (f"  {ratio}x kernel" if ratio else ""))


if __name__ == "__main__":
    main()
