"""The fake Azure Gateway Load Balancer, chained to a public load balancer's frontend.

A public LB frontend (`--frontend`, an address of this node on the internet
side) publishes one app (`--backend`, port forwarding by DNAT, Azure's
load-balancing rule with the backend's address seen by the app: the client's
own). The frontend is chained to a Gateway Load Balancer: every packet of the
published flows, both ways, first goes to a healthy connector over VXLAN and
goes on only when the connector sends it back (spec §4.2). Inbound packets
(internet -> app) leave on the pool's external tunnel interface (UDP 10801,
VNI 801 by the vendor's defaults) and are expected back on the internal one;
return packets (app -> internet) leave on the internal one and come back on
the external one (a published Linux NVA walkthrough's direction, conflict
C#6; the connector bridges whichever way). VXLAN leaves from `--source`, the
lab's stand-in for 168.63.129.16 (an address this node puts on its loopback),
which also probes the connectors' health port (/?cchealth, `healthy` and
`unhealthy` in a row flip a target). Flows stick to their connector in both
directions (a symmetric 5-tuple hash among the healthy ones).

Events: `azgw.target_healthy` / `azgw.target_unhealthy` (`target`), `azgw.flow`
(first packet of a flow, with its `target` and the packet's `src`, `dst`,
`sport`, `dport`), `azgw.bridged` (each packet a connector sent back: the
`target` it came from, the `tunnel` it came on and its `vni`, and the inner
packet's `src`, `dst`, `sport`, `dport`), `azgw.no_target`.
"""

from __future__ import annotations

import select
import socket
import struct
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
from lab.nodes.flow_key import FlowId, flow_hash, ipv4_flow_id
from lab.nodes.health_probe import TargetHealth, http_probe, pause_after_round
from lab.nodes.kernel_path import KernelPath
from lab.wire.vxlan import unwrap, wrap

TUN, MARK, TABLE = "azgw0", 0x5A, 125
MARK_PREF, LOCAL_PREF = 99, 100  # the mark's rule first, then the `local` table
NAT_TABLE = "cclab_azgw"


class Tunnel:
    def __init__(self, name: str, spec: str, source: IPv4Address) -> None:
        port, vni = spec.split("/")
        self.name, self.port, self.vni = name, int(port), int(vni)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((str(source), self.port))


class AzureGwlb:
    def __init__(self, args: object, events: EventWriter) -> None:
        a = args
        self.source: IPv4Address = a.source  # type: ignore[attr-defined]
        self.frontend: IPv4Address = a.frontend  # type: ignore[attr-defined]
        self.backend: IPv4Address = a.backend  # type: ignore[attr-defined]
        self.targets = [IPv4Address(t) for t in a.targets.split(",")]  # type: ignore[attr-defined]
        self.probe_port: int = a.probe_port  # type: ignore[attr-defined]
        self.interval: float = a.interval  # type: ignore[attr-defined]
        self.health = {t: TargetHealth(a.healthy, a.unhealthy)  # type: ignore[attr-defined]
                       for t in self.targets}
        self.events = events
        self.stopping = Wakeup()
        self.started = time.monotonic()
        self.flows: dict[FlowId, IPv4Address] = {}
        self.own_source = take_loopback_address(self.source)
        self.kernel = KernelPath(TUN, MARK, TABLE, masquerade=False)
        self._chain(a.outside)  # type: ignore[attr-defined]
        self.internal = Tunnel("internal", a.internal, self.source)  # type: ignore[attr-defined]
        self.external = Tunnel("external", a.external, self.source)  # type: ignore[attr-defined]

    def _chain(self, outside: str) -> None:
        """Chain the frontend to the GWLB: new packets for the frontend from `outside` go
        to the TUN untracked (to a connector first); the kernel path tracks what comes
        back and DNATs it to the app, and routes the app's replies, un-DNATed on the way
        out, to the TUN again; those, back from a connector, go on to the client
        untracked. Nothing else is forwarded: a load balancer is not a router into the
        VNet. The frontend is this node's address, so the mark's rule must come
        before the `local` table: it moves from priority 0 to LOCAL_PREF, after MARK_PREF."""
        mark_rule = ["fwmark", f"{MARK:#x}", "lookup", str(TABLE)]
        run_checked(["ip", "rule", "del", *mark_rule])  # the kernel path's, after `local`
        run_checked(["ip", "rule", "add", "pref", str(MARK_PREF), *mark_rule])
        run_checked(["ip", "rule", "add", "pref", str(LOCAL_PREF), "lookup", "local"])
        run_checked(["ip", "rule", "del", "pref", "0", "lookup", "local"])
        run_checked(["nft", "-f", "-"], f"""
table ip {NAT_TABLE} {{
  chain raw {{
    type filter hook prerouting priority raw; policy accept;
    iifname "{outside}" ip daddr {self.frontend} notrack meta mark set {MARK:#x}
    iifname "{TUN}" ip saddr {self.frontend} notrack
  }}
  chain pre {{
    type nat hook prerouting priority dstnat; policy accept;
    iifname "{TUN}" ip daddr {self.frontend} dnat to {self.backend}
  }}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    iifname "{TUN}" accept
    oifname "{TUN}" accept
  }}
}}""")

    @property
    def running(self) -> bool:
        return not self.stopping.is_set()

    def serve(self) -> None:
        socks = {self.internal.sock.fileno(): self.internal,
                 self.external.sock.fileno(): self.external}
        while self.running:
            watched = [self.kernel.fd, *socks, self.stopping.fileno()]
            ready, _, _ = select.select(watched, [], [], 0.5)
            if self.kernel.fd in ready:
                self.to_connector(self.kernel.read())
            for fd in ready:
                if fd in socks:
                    self.from_connector(socks[fd])

    def to_connector(self, packet: bytes) -> None:
        fid = ipv4_flow_id(packet)
        if fid is None:
            return
        inbound = packet[16:20] == self.frontend.packed  # to the published app
        target = self.target_for(fid, packet)
        if target is None:
            return
        tunnel = self.external if inbound else self.internal
        tunnel.sock.sendto(wrap(tunnel.vni, packet), (str(target), tunnel.port))

    def from_connector(self, tunnel: Tunnel) -> None:
        data, peer = tunnel.sock.recvfrom(65535)
        found = unwrap(data)
        if found is None or len(found[1]) < 20 or IPv4Address(peer[0]) not in self.targets:
            return
        vni, packet = found
        self.events.emit("azgw.bridged", tunnel=tunnel.name, vni=vni, target=peer[0],
                         port=peer[1], **_ends(packet))
        self.kernel.write(packet)

    def target_for(self, fid: FlowId, packet: bytes) -> IPv4Address | None:
        up = [t for t in self.targets if self.health[t].state == "healthy"]
        if not up:
            self.events.emit("azgw.no_target")
            return None
        current = self.flows.get(fid)
        if current is not None and current in up:
            return current
        chosen = up[flow_hash(fid) % len(up)]
        self.flows[fid] = chosen
        self.events.emit("azgw.flow", target=str(chosen), proto=packet[9], **_ends(packet))
        return chosen

    def probe_forever(self) -> None:
        while self.running:
            for target in self.targets:
                change = self.health[target].record(
                    http_probe(target, self.probe_port, self.source))
                if change is not None:
                    self.events.emit(f"azgw.target_{change}", target=str(target))
            self.stopping.wait(pause_after_round(self.interval, self.health.values(),
                                                 time.monotonic() - self.started))

    def close(self) -> None:
        self.stopping.set()
        subprocess.run(["nft", "delete", "table", "ip", NAT_TABLE], capture_output=True,
                       check=False)
        self.kernel.close()
        subprocess.run(["ip", "rule", "add", "pref", "0", "lookup", "local"],
                       capture_output=True, check=False)
        subprocess.run(["ip", "rule", "del", "pref", str(LOCAL_PREF)], capture_output=True,
                       check=False)
        if self.own_source:
            subprocess.run(["ip", "addr", "del", f"{self.source}/32", "dev", "lo"],
                           capture_output=True, check=False)


def _ends(packet: bytes) -> dict[str, object]:
    """The inner packet's addresses and ports (0 without ports), for the events."""
    ihl = (packet[0] & 0xF) * 4
    sport, dport = (struct.unpack_from("!HH", packet, ihl)
                    if packet[9] in (6, 17) and len(packet) >= ihl + 4 else (0, 0))
    return {"src": str(IPv4Address(packet[12:16])), "dst": str(IPv4Address(packet[16:20])),
            "sport": sport, "dport": dport}


def main() -> None:
    parser = node_arguments("cclab fake Azure Gateway Load Balancer chained to a public LB")
    parser.add_argument("--source", required=True, type=IPv4Address,
                        help="the stand-in for 168.63.129.16 (VXLAN and probes leave from it)")
    parser.add_argument("--targets", required=True, help="comma-separated connector addresses")
    parser.add_argument("--frontend", required=True, type=IPv4Address)
    parser.add_argument("--backend", required=True, type=IPv4Address)
    parser.add_argument("--outside", required=True, help="the interface towards the internet")
    parser.add_argument("--internal", default="10800/800", help="PORT/VNI")
    parser.add_argument("--external", default="10801/801", help="PORT/VNI")
    parser.add_argument("--probe-port", type=int, default=50000)
    parser.add_argument("--interval", type=float, default=15.0)
    parser.add_argument("--healthy", type=int, default=2)
    parser.add_argument("--unhealthy", type=int, default=2)
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    gwlb = AzureGwlb(args, events)
    threads = [threading.Thread(target=gwlb.serve, daemon=True),
               threading.Thread(target=gwlb.probe_forever, daemon=True)]
    for thread in threads:
        thread.start()

    def stop() -> None:
        gwlb.stopping.set()
        for thread in threads:
            thread.join(3)
        gwlb.close()

    serve_until_signalled(events, "azure-gwlb", stop)


if __name__ == "__main__":
    main()
