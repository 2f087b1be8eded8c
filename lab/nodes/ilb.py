"""The fake Azure Standard internal load balancer, as the workloads' next hop.

HA ports with floating IP (spec §3.3, §4.2): packets routed to the frontend are
forwarded unchanged, real destination kept, to one healthy backend per flow.
The kernel does the forwarding: every packet's mark is a hash of its 5-tuple
(Azure's Default distribution) looked up in a map of 64 buckets, and each mark
routes by its own table to its backend. The ILB sees only the workloads' side
of a flow (the connector SNATs, so replies bypass it), which conntrack would
call invalid; so the choice is stateless, and stable: each backend owns the
buckets `b % n`, and only the buckets of an unhealthy backend move, to the
healthy ones, when the map is rewritten (one nftables transaction). With no
healthy backend, packets are dropped and counted, as with Azure's default
`AllProbedDown` ("no new flows will be sent"); unlike Azure, flows already
running stop too.

Backends are probed with HTTP GET /?cchealth from the probe source, the lab's
stand-in for 168.63.129.16 (the `AzureLoadBalancer` service tag). Like Azure's,
it is outside the VNet: when it is not an address of this node the ILB puts it
on its loopback (the lab routes it here), so an NSG must allow it by the
`AzureLoadBalancer` tag, not "all from VirtualNetwork" (spec §2.3, check C2); `healthy`
and `unhealthy` consecutive answers flip a backend (spec: probe_threshold 2,
interval 15 s; the lab shortens the interval). Events: `ilb.target_healthy`,
`ilb.target_unhealthy`, `ilb.no_healthy_backends`.

With `--frontend` (its own address, the public-LB inbound mode of spec §4.2) the
ILB also load-balances TCP and UDP addressed to the frontend itself, unchanged
(floating IP): what a workload sends back to a connector that SNATed an inbound
flow to the frontend. Microsoft does not promise that the ILB picks the
connector the public LB picked (no flow symmetry across two load balancers);
the lab's two make the same choice, the bucket of the client's port (the
destination port here, the source port at the public LB: `lab.nodes.azure_plb`),
so that the vendor's design can be tested at all (docs/decisions.md).

GCP's internal passthrough Network Load Balancer is this node with other
parameters (lab/topologies/cloud/gcp.yaml): the probe source a stand-in for
Google's health-check ranges, `--affinity client-ip-proto` (session affinity
CLIENT_IP_PROTO: the hash covers source, destination and protocol, spec §3.4),
and its forwarding rule's address as `--frontend`, the Cloud DNS forwarding target.
"""

from __future__ import annotations

import subprocess
import threading
import time
from ipaddress import IPv4Address

from lab.events import EventWriter
from lab.nodes.base import (
    Wakeup,
    node_arguments,
    run_checked,
    serve_until_signalled,
    take_loopback_address,
)
from lab.nodes.health_probe import TargetHealth, http_probe, pause_after_round

TABLE = "cclab_ilb"
BUCKETS = 64
FIRST_ROUTE_TABLE = 120
MARK_PREF, LOCAL_PREF = 99, 100  # with a frontend: the marks' rules before the `local` table


def bucket_owners(targets: list[IPv4Address],
                  healthy: list[IPv4Address]) -> list[IPv4Address]:
    """The backend of each hash bucket: its own (b % n) while healthy, else a healthy one."""
    owners = []
    for b in range(BUCKETS):
        own = targets[b % len(targets)]
        owners.append(own if own in healthy else healthy[b % len(healthy)])
    return owners


# What the flow hash covers: Azure's Default distribution (the 5-tuple), or GCP's
# session affinity CLIENT_IP_PROTO (source, destination, protocol: spec §3.4).
AFFINITY = {"5-tuple": "ip saddr . ip daddr . meta l4proto . th sport . th dport",
            "client-ip-proto": "ip saddr . ip daddr . meta l4proto"}


def render_ilb(targets: list[IPv4Address], healthy: list[IPv4Address],
               frontend: IPv4Address | None = None, affinity: str = "5-tuple") -> str:
    """The ILB's ruleset for this set of healthy backends. Pure."""
    mark = {t: i + 1 for i, t in enumerate(targets)}
    lines = [f"table ip {TABLE} {{", "  counter no_backend { }"]
    if frontend is not None:
        lines.append("  counter frontend_returns { }")
    lines += [f"  counter to_{i + 1} {{ }}  # {t}" for i, t in enumerate(targets)]
    lines += ["  chain pre {", "    type filter hook prerouting priority mangle; policy accept;"]
    buckets = ", ".join(f"{b} : {mark[t]:#x}"
                        for b, t in enumerate(bucket_owners(targets, healthy) if healthy else []))
    if frontend is not None and healthy:
        # Azure: the bucket of the client's port (the public LB's choice, see above); GCP:
        # the forwarding rule's own address is a frontend like any other (CLIENT_IP_PROTO).
        key = f"th dport and {BUCKETS - 1}" if affinity == "5-tuple" else \
            f"jhash {AFFINITY[affinity]} mod {BUCKETS} seed 0xcc"
        lines.append(f"    ip daddr {frontend} meta l4proto {{ tcp, udp }} meta mark set {key}"
                     f" map {{ {buckets} }} counter name frontend_returns accept")
    lines.append("    fib daddr type local return")
    if not healthy:
        lines.append("    counter name no_backend drop")
    else:
        lines.append(f"    meta mark set jhash {AFFINITY[affinity]}"
                     f" mod {BUCKETS} seed 0xcc map {{ {buckets} }}")
        lines += [f"    meta mark {i + 1:#x} counter name to_{i + 1}" for i in range(len(targets))]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


class Ilb:
    def __init__(self, targets: list[IPv4Address], probe_source: IPv4Address, probe_port: int,
                 interval: float, thresholds: tuple[int, int], events: EventWriter,
                 frontend: IPv4Address | None = None, affinity: str = "5-tuple") -> None:
        self.targets, self.probe_source, self.frontend = targets, probe_source, frontend
        self.affinity = affinity
        self.probe_port, self.interval = probe_port, interval
        self.health = {t: TargetHealth(*thresholds) for t in targets}
        self.events = events
        self.stopping = Wakeup()
        self.started = time.monotonic()
        self.own_source = take_loopback_address(probe_source)
        for i, target in enumerate(targets):
            table = str(FIRST_ROUTE_TABLE + i)
            run_checked(["ip", "route", "replace", "default", "via", str(target), "table", table])
            pref = ["pref", str(MARK_PREF)] if frontend is not None else []
            run_checked(["ip", "rule", "add", *pref, "fwmark", f"{i + 1:#x}", "lookup", table])
        if frontend is not None:  # the frontend is local: the marks' rules come first
            run_checked(["ip", "rule", "add", "pref", str(LOCAL_PREF), "lookup", "local"])
            run_checked(["ip", "rule", "del", "pref", "0", "lookup", "local"])
        self.apply()

    def healthy(self) -> list[IPv4Address]:
        return [t for t in self.targets if self.health[t].state == "healthy"]

    def apply(self) -> None:
        flush = f"table ip {TABLE}\ndelete table ip {TABLE}\n"
        run_checked(["nft", "-f", "-"],
                    flush + render_ilb(self.targets, self.healthy(), self.frontend,
                                       self.affinity))

    @property
    def running(self) -> bool:
        return not self.stopping.is_set()

    def probe_forever(self) -> None:
        while self.running:
            changes = []
            for target in self.targets:
                change = self.health[target].record(
                    http_probe(target, self.probe_port, self.probe_source))
                if change is not None:
                    changes.append((target, change))
            if changes:
                self.apply()  # before the events: a reader of an event sees the new map
                for target, change in changes:
                    self.events.emit(f"ilb.target_{change}", target=str(target))
                if not self.healthy():
                    self.events.emit("ilb.no_healthy_backends",
                                     targets=[str(t) for t in self.targets])
            self.stopping.wait(pause_after_round(self.interval, self.health.values(),
                                                 time.monotonic() - self.started))

    def close(self) -> None:
        self.stopping.set()
        subprocess.run(["nft", "delete", "table", "ip", TABLE], capture_output=True, check=False)
        for i in range(len(self.targets)):
            subprocess.run(["ip", "rule", "del", "fwmark", f"{i + 1:#x}"], capture_output=True,
                           check=False)
        if self.frontend is not None:
            subprocess.run(["ip", "rule", "add", "pref", "0", "lookup", "local"],
                           capture_output=True, check=False)
            subprocess.run(["ip", "rule", "del", "pref", str(LOCAL_PREF)], capture_output=True,
                           check=False)
        if self.own_source:
            subprocess.run(["ip", "addr", "del", f"{self.probe_source}/32", "dev", "lo"],
                           capture_output=True, check=False)



def main() -> None:
    parser = node_arguments("cclab fake Azure internal load balancer (HA ports, next hop)")
    parser.add_argument("--targets", required=True, help="comma-separated backend addresses")
    parser.add_argument("--probe-source", required=True, type=IPv4Address,
                        help="the stand-in for 168.63.129.16, an address of this node")
    parser.add_argument("--probe-port", type=int, default=50000)
    parser.add_argument("--interval", type=float, default=15.0)
    parser.add_argument("--threshold", type=int, default=2)
    parser.add_argument("--frontend", type=IPv4Address, default=None,
                        help="its own address, load-balanced too (public-LB inbound returns)")
    parser.add_argument("--affinity", choices=sorted(AFFINITY), default="5-tuple",
                        help="what the flow hash covers (GCP: client-ip-proto)")
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    ilb = Ilb([IPv4Address(t) for t in args.targets.split(",")], args.probe_source,
              args.probe_port, args.interval, (args.threshold, args.threshold), events,
              args.frontend, args.affinity)
    prober = threading.Thread(target=ilb.probe_forever, daemon=True)
    prober.start()

    def stop() -> None:
        ilb.stopping.set()
        prober.join(3)
        ilb.close()

    serve_until_signalled(events, "ilb", stop)


if __name__ == "__main__":
    main()
