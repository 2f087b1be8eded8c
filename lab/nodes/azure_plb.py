"""The fake Azure Standard public load balancer of the public-LB inbound mode (spec §4.2).

TCP for the frontend (`--frontend`, a public address that is *not* this node's:
it answers ARP for it on `--outside`) on the rules' ports (`--ports`) is
forwarded unchanged to a connector's service address (`--targets`): floating IP,
so the connector sees the frontend as destination, and no SNAT, so it sees the
client's own address (the vendor's rules: floating IP on, outbound SNAT off).
What the connectors send back from the frontend goes on to the client; nothing
else is forwarded (a load balancer is not a router into the VNet).

The backend of a flow is the bucket of the client's source port (64 buckets, the
ILB's `bucket_owners`): the ILB, given its frontend, picks the backend of the
returns by the bucket of their destination port, the same client port (the
connectors' SNAT keeps it). Azure promises no such agreement between two load
balancers (docs/decisions.md); the lab makes it so the vendor's design can be
tested. No health probes: both connectors stay in the pool.

Counters (`nft list counters` in the node): `to_backends`, `from_frontend`.
"""

from __future__ import annotations

import subprocess
from ipaddress import IPv4Address

from lab.events import EventWriter
from lab.nodes.base import node_arguments, run_checked, serve_until_signalled
from lab.nodes.ilb import BUCKETS, bucket_owners

TABLE = "cclab_azplb"
FIRST_ROUTE_TABLE = 130


def render_plb(frontend: IPv4Address, ports: list[int], targets: list[IPv4Address],
               outside: str) -> str:
    """The public LB's ruleset. Pure."""
    mark = {t: i + 1 for i, t in enumerate(targets)}
    buckets = ", ".join(f"{b} : {mark[t]:#x}"
                        for b, t in enumerate(bucket_owners(targets, targets)))
    rule_ports = ", ".join(str(p) for p in ports)
    return "\n".join([
        f"table ip {TABLE} {{",
        "  counter to_backends { }",
        "  counter from_frontend { }",
        "  chain pre {",
        "    type filter hook prerouting priority mangle; policy accept;",
        f'    iifname "{outside}" ip daddr {frontend} tcp dport {{ {rule_ports} }} '
        f"meta mark set tcp sport and {BUCKETS - 1} map {{ {buckets} }}",
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter; policy drop;",
        f'    iifname "{outside}" ip daddr {frontend} meta mark != 0 '
        "counter name to_backends accept",
        f'    oifname "{outside}" ip saddr {frontend} tcp sport {{ {rule_ports} }} '
        "counter name from_frontend accept",
        "  }",
        "}", ""])


class AzurePlb:
    def __init__(self, frontend: IPv4Address, ports: list[int], targets: list[IPv4Address],
                 outside: str) -> None:
        self.frontend, self.targets, self.outside = frontend, targets, outside
        for i, target in enumerate(targets):
            table = str(FIRST_ROUTE_TABLE + i)
            run_checked(["ip", "route", "replace", "default", "via", str(target), "table", table])
            run_checked(["ip", "rule", "add", "fwmark", f"{i + 1:#x}", "lookup", table])
        # Proxy ARP answers for the frontend only when its route leaves another way.
        run_checked(["ip", "route", "replace", f"{frontend}/32", "via", str(targets[0])])
        run_checked(["ip", "neigh", "replace", "proxy", str(frontend), "dev", outside])
        run_checked(["nft", "-f", "-"], render_plb(frontend, ports, targets, outside))

    def close(self) -> None:
        subprocess.run(["nft", "delete", "table", "ip", TABLE], capture_output=True, check=False)
        subprocess.run(["ip", "neigh", "del", "proxy", str(self.frontend), "dev", self.outside],
                       capture_output=True, check=False)
        for i in range(len(self.targets)):
            subprocess.run(["ip", "rule", "del", "fwmark", f"{i + 1:#x}"], capture_output=True,
                           check=False)


def main() -> None:
    parser = node_arguments("cclab fake Azure public load balancer (floating IP, no SNAT)")
    parser.add_argument("--frontend", required=True, type=IPv4Address)
    parser.add_argument("--targets", required=True, help="comma-separated connector addresses")
    parser.add_argument("--ports", required=True, help="comma-separated TCP ports (its rules)")
    parser.add_argument("--outside", required=True, help="the interface towards the internet")
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    plb = AzurePlb(args.frontend, [int(p) for p in args.ports.split(",")],
                   [IPv4Address(t) for t in args.targets.split(",")], args.outside)
    serve_until_signalled(events, "azure-plb", plb.close)


if __name__ == "__main__":
    main()
