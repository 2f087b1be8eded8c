"""The fake AWS Gateway Load Balancer: workload packets to healthy targets over GENEVE.

Everything routed to this node that is not for the node itself enters its TUN.
Each flow (5-tuple, both directions) sticks to one target, chosen by hash among
the healthy targets; GENEVE carries it on UDP 6081 with AWS's three options of
class 0x0108 (endpoint ENI, attachment, a per-flow cookie), encoded by
`lab.wire.geneve`, which the traffic probes share. Packets coming back from a
target are decapsulated and routed on to the workload.

Targets are probed with HTTP GET /?cchealth on the probe port; a target turns
healthy after `healthy` good answers in a row and unhealthy after `unhealthy`
bad ones (spec §3.2: interval 10 s, 2 and 3; the lab may shorten the interval).
A flow whose target turns unhealthy is rebalanced to a healthy one (the
Terraform default). With no healthy target, the GWLB fails open and uses all of
them, as AWS load balancers do. Events: `gwlb.target_healthy`,
`gwlb.target_unhealthy`, `gwlb.flow` (first packet of a flow, with its target),
`gwlb.fail_open`.
"""

from __future__ import annotations

import select
import socket
import threading
import zlib
from ipaddress import IPv4Address

from lab.events import EventWriter
from lab.nodes.base import node_arguments, serve_until_signalled
from lab.nodes.health_probe import TargetHealth, http_probe
from lab.nodes.kernel_path import KernelPath
from lab.nodes.zia_gateway import FlowId, flow_id
from lab.wire.geneve import GENEVE_PORT, geneve_header, inner_of


class Gwlb:
    def __init__(self, listen: IPv4Address, targets: list[IPv4Address], probe_port: int,
                 interval: float, thresholds: tuple[int, int], events: EventWriter) -> None:
        self.listen, self.targets = listen, targets
        self.probe_port, self.interval = probe_port, interval
        self.health = {t: TargetHealth(*thresholds) for t in targets}
        self.events = events
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((str(listen), GENEVE_PORT))
        self.kernel = KernelPath("gwlbtun0", 0x6B, 107, masquerade=False)
        self.kernel.route_default()
        self.flows: dict[FlowId, IPv4Address] = {}
        self.running = True
        self._failing_open = False

    def healthy(self) -> list[IPv4Address]:
        up = [t for t in self.targets if self.health[t].state == "healthy"]
        if not up and not self._failing_open:
            self.events.emit("gwlb.fail_open", targets=[str(t) for t in self.targets])
        self._failing_open = not up
        return up or self.targets

    def target_for(self, fid: FlowId, flow_hash: int, packet: bytes) -> IPv4Address:
        up = self.healthy()
        current = self.flows.get(fid)
        if current is not None and current in up:
            return current
        chosen = up[flow_hash % len(up)]
        self.flows[fid] = chosen
        self.events.emit("gwlb.flow", target=str(chosen), rebalanced=current is not None,
                         proto=packet[9], src=str(IPv4Address(packet[12:16])),
                         dst=str(IPv4Address(packet[16:20])))
        return chosen

    def serve(self) -> None:
        while self.running:
            ready, _, _ = select.select([self.sock.fileno(), self.kernel.fd], [], [], 0.5)
            if self.kernel.fd in ready:
                self.to_target(self.kernel.read())
            if self.sock.fileno() in ready:
                data, _peer = self.sock.recvfrom(65535)
                inner = inner_of(data)
                if inner is not None:
                    self.kernel.write(inner)

    def to_target(self, packet: bytes) -> None:
        fid = flow_id(packet)
        if fid is None:
            return
        flow_hash = zlib.crc32(repr(fid).encode())  # the target's pick and the flow cookie
        target = self.target_for(fid, flow_hash, packet)
        self.sock.sendto(geneve_header(4, flow_hash) + packet, (str(target), GENEVE_PORT))

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
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    gwlb = Gwlb(args.listen, [IPv4Address(t) for t in args.targets.split(",")],
                args.probe_port, args.interval, (args.healthy, args.unhealthy), events)
    threads = [threading.Thread(target=gwlb.serve, daemon=True),
               threading.Thread(target=gwlb.probe_forever, daemon=True)]
    for thread in threads:
        thread.start()

    def stop() -> None:
        gwlb.stop()
        for thread in threads:
            thread.join(3)
        gwlb.kernel.close()

    serve_until_signalled(events, "gwlb", stop)


if __name__ == "__main__":
    main()
