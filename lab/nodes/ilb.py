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
"""

from __future__ import annotations

import subprocess
import threading
from ipaddress import IPv4Address

from lab.events import EventWriter
from lab.nodes.base import node_arguments, run_checked, serve_until_signalled, take_loopback_address
from lab.nodes.health_probe import TargetHealth, http_probe

TABLE = "cclab_ilb"
BUCKETS = 64
FIRST_ROUTE_TABLE = 120


def bucket_owners(targets: list[IPv4Address],
                  healthy: list[IPv4Address]) -> list[IPv4Address]:
    """The backend of each hash bucket: its own (b % n) while healthy, else a healthy one."""
    owners = []
    for b in range(BUCKETS):
        own = targets[b % len(targets)]
        owners.append(own if own in healthy else healthy[b % len(healthy)])
    return owners


def render_ilb(targets: list[IPv4Address], healthy: list[IPv4Address]) -> str:
    """The ILB's ruleset for this set of healthy backends. Pure."""
    mark = {t: i + 1 for i, t in enumerate(targets)}
    lines = [f"table ip {TABLE} {{", "  counter no_backend { }"]
    lines += [f"  counter to_{i + 1} {{ }}  # {t}" for i, t in enumerate(targets)]
    lines += ["  chain pre {", "    type filter hook prerouting priority mangle; policy accept;",
              "    fib daddr type local return"]
    if not healthy:
        lines.append("    counter name no_backend drop")
    else:
        owners = bucket_owners(targets, healthy)
        buckets = ", ".join(f"{b} : {mark[t]:#x}" for b, t in enumerate(owners))
        lines.append("    meta mark set jhash ip saddr . ip daddr . meta l4proto"
                     f" . th sport . th dport mod {BUCKETS} seed 0xcc map {{ {buckets} }}")
        lines += [f"    meta mark {i + 1:#x} counter name to_{i + 1}" for i in range(len(targets))]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


class Ilb:
    def __init__(self, targets: list[IPv4Address], probe_source: IPv4Address, probe_port: int,
                 interval: float, thresholds: tuple[int, int], events: EventWriter) -> None:
        self.targets, self.probe_source = targets, probe_source
        self.probe_port, self.interval = probe_port, interval
        self.health = {t: TargetHealth(*thresholds) for t in targets}
        self.events = events
        self.running = True
        self.own_source = take_loopback_address(probe_source)
        for i, target in enumerate(targets):
            table = str(FIRST_ROUTE_TABLE + i)
            run_checked(["ip", "route", "replace", "default", "via", str(target), "table", table])
            run_checked(["ip", "rule", "add", "fwmark", f"{i + 1:#x}", "lookup", table])
        self.apply()

    def healthy(self) -> list[IPv4Address]:
        return [t for t in self.targets if self.health[t].state == "healthy"]

    def apply(self) -> None:
        flush = f"table ip {TABLE}\ndelete table ip {TABLE}\n"
        run_checked(["nft", "-f", "-"], flush + render_ilb(self.targets, self.healthy()))

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
            threading.Event().wait(self.interval)

    def close(self) -> None:
        self.running = False
        subprocess.run(["nft", "delete", "table", "ip", TABLE], capture_output=True, check=False)
        for i in range(len(self.targets)):
            subprocess.run(["ip", "rule", "del", "fwmark", f"{i + 1:#x}"], capture_output=True,
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
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    ilb = Ilb([IPv4Address(t) for t in args.targets.split(",")], args.probe_source,
              args.probe_port, args.interval, (args.threshold, args.threshold), events)
    prober = threading.Thread(target=ilb.probe_forever, daemon=True)
    prober.start()

    def stop() -> None:
        ilb.running = False
        prober.join(3)
        ilb.close()

    serve_until_signalled(events, "ilb", stop)


if __name__ == "__main__":
    main()
