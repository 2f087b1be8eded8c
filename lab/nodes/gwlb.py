"""The fake AWS Gateway Load Balancer: workload packets to healthy targets over GENEVE.

Everything routed to this node that is not for the node itself enters its TUN.
Each flow (5-tuple, both directions) sticks to one target, chosen by hash among
the healthy targets; IPv4 and IPv6 alike (spec G3: an IPv6 inner packet rides
in the same IPv4 outer header, protocol 0x86DD; link-scoped IPv6, the node's
own neighbour discovery, is not a flow and is not carried). GENEVE carries it
on UDP 6081 with AWS's three options of class 0x0108 (endpoint ENI,
attachment, a per-flow cookie), encoded by `lab.wire.geneve`, which the
traffic probes share. Packets coming back from a
target are decapsulated and routed on to the workload.

Targets are probed with HTTP GET /?cchealth on the probe port; a target turns
healthy after `healthy` good answers in a row and unhealthy after `unhealthy`
bad ones (spec §3.2: interval 10 s, 2 and 3; the lab may shorten the interval).
A flow whose target turns unhealthy is rebalanced to a healthy one (the
Terraform default). With no healthy target, the GWLB fails open and uses all of
them, as AWS load balancers do. Events: `gwlb.target_healthy`,
`gwlb.target_unhealthy`, `gwlb.flow` (first packet of a flow, with its target),
`gwlb.fail_open`.

Endpoints (`--endpoints IFACE:vpce-ID:GATEWAY,...`, sub-locations): AWS gives each
VPC its own GWLB endpoint, and the GWLB stamps that endpoint's ID into the ENI
option. Here each endpoint is an interface of this node and a TUN of its own:
what arrives on the interface enters the endpoint's TUN (an `iif` rule) and is
sent with the endpoint's ID; a target's reply goes back by the endpoint its
header names (the connector returns the header unchanged, G2), out of its TUN
to that VPC's router. So two VPCs may use one address plan. Without endpoints,
one catch-all TUN and the lab's fixed ENI ID, as before.
"""

from __future__ import annotations

import select
import socket
import subprocess
import threading
import zlib
from dataclasses import dataclass
from ipaddress import IPv4Address

from lab.events import EventWriter
from lab.nodes.base import node_arguments, run_checked, serve_until_signalled
from lab.nodes.flow_key import FlowId, addresses, flow_key, link_scoped
from lab.nodes.health_probe import TargetHealth, http_probe
from lab.nodes.kernel_path import KernelPath
from lab.wire.geneve import ENI_ID, GENEVE_PORT, endpoint_id, eni_of, geneve_header, inner_of


@dataclass(frozen=True)
class Endpoint:
    """A GWLB endpoint: the interface its VPC's packets arrive on, its ID, and the
    router its returns go to."""

    iface: str
    name: str  # vpce-HEX, as AWS writes it
    gateway: IPv4Address

    @property
    def eni(self) -> int:
        return endpoint_id(self.name)


def parse_endpoints(text: str) -> list[Endpoint]:
    """`IFACE:vpce-ID:GATEWAY,...` (empty: none)."""
    found = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        iface, name, gateway = item.split(":")
        endpoint_id(name)  # refuse a bad ID at start
        found.append(Endpoint(iface, name, IPv4Address(gateway)))
    return found


class Gwlb:
    def __init__(self, listen: IPv4Address, targets: list[IPv4Address], probe_port: int,
                 interval: float, thresholds: tuple[int, int], events: EventWriter,
                 endpoints: list[Endpoint] | None = None) -> None:
        self.listen, self.targets = listen, targets
        self.probe_port, self.interval = probe_port, interval
        self.health = {t: TargetHealth(*thresholds) for t in targets}
        self.events = events
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((str(listen), GENEVE_PORT))
        self.endpoints = endpoints or []
        self.paths: list[KernelPath] = []  # one per endpoint (or the one catch-all)
        self._rules: list[list[str]] = []
        if not self.endpoints:
            self.paths.append(KernelPath("gwlbtun0", 0x6B, 107, masquerade=False))
            self.paths[0].route_default()
        for i, ep in enumerate(self.endpoints):
            path = KernelPath(f"gwlbtun{i}", 0x6B + i, 107 + 2 * i, masquerade=False)
            self.paths.append(path)
            back = 108 + 2 * i  # the endpoint's returns: to its VPC's router
            run_checked(["ip", "route", "replace", "default", "via", str(ep.gateway),
                         "table", str(back)])
            for rule in (["iif", ep.iface, "lookup", str(path.table)],
                         ["iif", path.tun, "lookup", str(back)]):
                run_checked(["ip", "rule", "add", *rule])
                self._rules.append(rule)
        self._eni = [ep.eni for ep in self.endpoints] or [ENI_ID]
        self._names = {eni: ep.name for eni, ep in zip(self._eni, self.endpoints, strict=False)}
        self.kernel = self.paths[0]
        self.flows: dict[tuple[int, FlowId], IPv4Address] = {}
        self.running = True
        self._failing_open = False

    def healthy(self) -> list[IPv4Address]:
        up = [t for t in self.targets if self.health[t].state == "healthy"]
        if not up and not self._failing_open:
            self.events.emit("gwlb.fail_open", targets=[str(t) for t in self.targets])
        self._failing_open = not up
        return up or self.targets

    def target_for(self, fid: FlowId, flow_hash: int, packet: bytes, eni: int = ENI_ID
                   ) -> IPv4Address:
        up = self.healthy()
        current = self.flows.get((eni, fid))
        if current is not None and current in up:
            return current
        chosen = up[flow_hash % len(up)]
        self.flows[(eni, fid)] = chosen
        src, dst = addresses(packet)
        self.events.emit("gwlb.flow", target=str(chosen), rebalanced=current is not None,
                         proto=fid[0], src=str(src), dst=str(dst),
                         endpoint=self._names.get(eni, f"vpce-{eni:016x}"))
        return chosen

    def serve(self) -> None:
        tuns = {path.fd: i for i, path in enumerate(self.paths)}
        while self.running:
            ready, _, _ = select.select([self.sock.fileno(), *tuns], [], [], 0.5)
            for fd in ready:
                if fd in tuns:
                    self.to_target(self.paths[tuns[fd]].read(), tuns[fd])
            if self.sock.fileno() in ready:
                data, _peer = self.sock.recvfrom(65535)
                inner = inner_of(data)
                if inner is not None:
                    self.path_of(eni_of(data)).write(inner)

    def path_of(self, eni: int | None) -> KernelPath:
        """The TUN of the endpoint a returned header names (the first if none matches)."""
        return self.paths[self._eni.index(eni)] if eni in self._eni else self.paths[0]

    def to_target(self, packet: bytes, endpoint: int = 0) -> None:
        fid = flow_key(packet)
        if fid is None or link_scoped(packet):
            return
        # the target's pick and the flow cookie: by 5-tuple, as GWLB hashes it, so one
        # 5-tuple from two endpoints lands on one target
        flow_hash = zlib.crc32(repr(fid).encode())
        eni = self._eni[endpoint]
        target = self.target_for(fid, flow_hash, packet, eni)
        self.sock.sendto(geneve_header(packet[0] >> 4, flow_hash, eni=eni) + packet,
                         (str(target), GENEVE_PORT))

    def close(self) -> None:
        for rule in self._rules:
            subprocess.run(["ip", "rule", "del", *rule], check=False, capture_output=True)
        for path in self.paths:
            path.close()

    def probe_forever(self) -> None:
        while self.running:
            for target in self.targets:
                change = self.health[target].record(self._probe(target))
                if change is not None:
                    self.events.emit(f"gwlb.target_{change}", target=str(target))
            threading.Event().wait(self.interval)

    def _probe(self, target: IPv4Address) -> bool:
        return http_probe(target, self.probe_port, self.listen)

    def stop(self) -> None:
        self.running = False


def main() -> None:
    parser = node_arguments("cclab fake AWS Gateway Load Balancer (GENEVE, health checks)")
    parser.add_argument("--listen", required=True, type=IPv4Address)
    parser.add_argument("--targets", required=True, help="comma-separated target addresses")
    parser.add_argument("--probe-port", type=int, default=50000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--healthy", type=int, default=2)
    parser.add_argument("--unhealthy", type=int, default=3)
    parser.add_argument("--endpoints", default="",
                        help="IFACE:vpce-ID:GATEWAY,... one GWLB endpoint per VPC")
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    gwlb = Gwlb(args.listen, [IPv4Address(t) for t in args.targets.split(",")],
                args.probe_port, args.interval, (args.healthy, args.unhealthy), events,
                parse_endpoints(args.endpoints))
    threads = [threading.Thread(target=gwlb.serve, daemon=True),
               threading.Thread(target=gwlb.probe_forever, daemon=True)]
    for thread in threads:
        thread.start()

    def stop() -> None:
        gwlb.stop()
        for thread in threads:
            thread.join(3)
        gwlb.close()

    serve_until_signalled(events, "gwlb", stop)


if __name__ == "__main__":
    main()
