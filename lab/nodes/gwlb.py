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
`gwlb.target_unhealthy`, `gwlb.flow` (first packet of a flow, or its first on a new
target when it is `rebalanced`, with its target, addresses and ports),
`gwlb.fail_open`.

Targets are registered and deregistered at run time (`lab.nodes.gwlb_control`, as
AWS's RegisterTargets / DeregisterTargets): a new target is `initial` and gets new
flows once healthy; a deregistered one drains for `--deregistration-delay` seconds
(its flows stay, new ones go elsewhere), then leaves the group and, with
`--target-failover rebalance`, its flows move. The rules are `lab.nodes.target_group`.
Events: `gwlb.target_registered`, `gwlb.target_deregistered` (with `delay_s`),
`gwlb.target_drained`.

Endpoints (`--endpoints IFACE:vpce-ID:GATEWAY,...`, sub-locations): AWS gives each
VPC its own GWLB endpoint, and the GWLB stamps that endpoint's ID into the ENI
option. Here each endpoint is an interface of this node and a TUN of its own:
what arrives on the interface enters the endpoint's TUN (an `iif` rule) and is
sent with the endpoint's ID; a target's reply goes back by the endpoint its
header names (the connector returns the header unchanged, G2), out of its TUN
to that VPC's router. So two VPCs may use one address plan. Without endpoints,
one catch-all TUN and the lab's fixed ENI ID, as before.

Fast path (`--fast-path on`; off by default): after user space has carried a packet of
an IPv4 UDP or TCP flow, the flow's later packets are encapsulated by a tc program
in the kernel with the same headers (`lab.nodes.gwlb_fast`); every change of the
group's view removes them all, so each flow is picked again in user space. Event
`gwlb.fast_path` (`state`: `on`, or `unavailable` with the `reason`, when the
host cannot give it: then every packet goes the user-space way).
"""

from __future__ import annotations

import select
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from ipaddress import IPv4Address

from lab.events import EventWriter
from lab.nodes import gwlb_control
from lab.nodes.base import Wakeup, node_arguments, run_checked, serve_until_signalled
from lab.nodes.flow_key import FlowId, addresses, flow_key, link_scoped, ports
from lab.nodes.flow_key import flow_hash as hash_of
from lab.nodes.gwlb_control import Request
from lab.nodes.gwlb_fast import FastPathUnavailable, GwlbFastPath, installable
from lab.nodes.health_probe import http_probe, pause_after_round
from lab.nodes.kernel_path import BATCH, KernelPath
from lab.nodes.target_group import Failover, GroupView, TargetGroup
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


@dataclass(frozen=True, slots=True)
class HeldFlow:
    """A flow's target, worked out on its first packet: the flow's hash (the pick's and
    the cookie's), the GENEVE header its packets carry, and the group view it was picked
    under. While that view stands so does the pick; a later packet only sends."""

    target: IPv4Address
    address: str  # the target, as sendto takes it
    flow_hash: int
    header: bytes
    view: GroupView


class Gwlb:
    def __init__(self, listen: IPv4Address, targets: list[IPv4Address], probe_port: int,
                 interval: float, thresholds: tuple[int, int], events: EventWriter,
                 endpoints: list[Endpoint] | None = None,
                 failover: Failover | None = None, *, fast_path: bool = False) -> None:
        self.listen = listen
        self.probe_port, self.interval = probe_port, interval
        self.group = TargetGroup(targets, thresholds, failover or Failover())
        self.view = self.group.view()  # what a packet's pick reads (GroupView)
        self.lock = threading.Lock()  # the group: the probes, the control (packets read view)
        self.events = events
        self.started = time.monotonic()
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
        self.flows: dict[tuple[int, FlowId], HeldFlow] = {}
        self.stopping = Wakeup()
        self._failing_open = False
        self.fast: GwlbFastPath | None = None
        self._fast_in: list[list[int]] = []  # per path: the ingress interfaces it serves
        if fast_path:
            self._start_fast_path()

    def _start_fast_path(self) -> None:
        tuns = {path.tun for path in self.paths}
        ingress = ([ep.iface for ep in self.endpoints] if self.endpoints else
                   [name for _, name in socket.if_nameindex() if name != "lo"
                    and name not in tuns])
        try:
            self.fast = GwlbFastPath(ingress, self.listen)
        except FastPathUnavailable as exc:
            self.events.emit("gwlb.fast_path", state="unavailable", reason=str(exc))
            return
        everywhere = self.fast.ifindexes
        self._fast_in = ([[index] for index in everywhere] if self.endpoints
                         else [everywhere])
        self.events.emit("gwlb.fast_path", state="on", interfaces=ingress)

    def _new_view(self) -> None:
        """The group changed (under the lock): packets read the new view, and the fast
        path forgets every flow so each is picked again under it."""
        self.view = self.group.view()
        if self.fast is not None:
            self.fast.forget()

    def _pick(self, fid: FlowId, packet: bytes, eni: int,
              held: HeldFlow | None) -> HeldFlow | None:
        """The flow's target under the group's current view (its first packet, or the
        first since a target's state changed); None: no registered target."""
        view = self.view
        flow_hash = hash_of(fid) if held is None else held.flow_hash
        choice = view.choose(None if held is None else held.target, flow_hash)
        if choice.failing_open and not self._failing_open:
            self.events.emit("gwlb.fail_open", targets=[str(t) for t in view.registered])
        self._failing_open = choice.failing_open
        if choice.target is None:
            return None
        picked = HeldFlow(choice.target, str(choice.target), flow_hash,
                          geneve_header(packet[0] >> 4, flow_hash, eni=eni), view)
        self.flows[(eni, fid)] = picked
        if choice.new or choice.moved:
            src, dst = addresses(packet)
            sport, dport = ports(packet)
            self.events.emit("gwlb.flow", target=str(choice.target), rebalanced=choice.moved,
                             proto=fid[0], src=str(src), dst=str(dst), sport=sport, dport=dport,
                             endpoint=self._names.get(eni, f"vpce-{eni:016x}"))
        return picked

    def control(self, request: Request) -> dict[str, str]:
        """A register or deregister request (or `show`): every target's state after it."""
        with self.lock:
            for target in request.targets:
                if request.action == "register" and self.group.register(target):
                    self.events.emit("gwlb.target_registered", target=str(target))
                elif request.action == "deregister" and self.group.deregister(
                        target, time.monotonic()):
                    self.events.emit("gwlb.target_deregistered", target=str(target),
                                     delay_s=self.group.failover.delay_s)
            self._new_view()
            return {str(t): state for t, state in self.group.states()}

    def expire_drains(self) -> None:
        with self.lock:
            for target in self.group.expire(time.monotonic()):
                self.events.emit("gwlb.target_drained", target=str(target))
                self._new_view()

    @property
    def running(self) -> bool:
        return not self.stopping.is_set()

    def serve(self) -> None:
        tuns = {path.fd: i for i, path in enumerate(self.paths)}
        while self.running:
            watched = [self.sock.fileno(), *tuns, self.stopping.fileno()]
            ready, _, _ = select.select(watched, [], [], 0.2)
            self.expire_drains()
            for fd in ready:
                if fd in tuns:
                    for packet in self.paths[tuns[fd]].read_waiting():
                        self.to_target(packet, tuns[fd])
            if self.sock.fileno() in ready:
                for data in self._returns_waiting():
                    inner = inner_of(data)
                    if inner is not None:
                        self.path_of(eni_of(data)).write(inner)

    def _returns_waiting(self) -> list[bytes]:
        """The targets' GENEVE datagrams queued on the socket (at most a batch)."""
        found = []
        try:
            for _ in range(BATCH):
                found.append(self.sock.recv(65535, socket.MSG_DONTWAIT))
        except BlockingIOError:
            pass
        return found

    def path_of(self, eni: int | None) -> KernelPath:
        """The TUN of the endpoint a returned header names (the first if none matches)."""
        return self.paths[self._eni.index(eni)] if eni in self._eni else self.paths[0]

    def to_target(self, packet: bytes, endpoint: int = 0) -> None:
        fid = flow_key(packet)
        if fid is None or link_scoped(packet):
            return
        # the target's pick and the flow cookie: by 5-tuple, as GWLB hashes it, so one
        # 5-tuple from two endpoints lands on one target
        eni = self._eni[endpoint]
        held = self.flows.get((eni, fid))
        if held is None or held.view is not self.view:
            held = self._pick(fid, packet, eni, held)
            if held is None:
                return  # no registered target: AWS drops
        self.sock.sendto(held.header + packet, (held.address, GENEVE_PORT))
        if self.fast is not None and installable(packet):
            self._carry_in_kernel(self.fast, endpoint, packet, held)

    def _carry_in_kernel(self, fast: GwlbFastPath, endpoint: int, packet: bytes,
                         held: HeldFlow) -> None:
        """The flow's next packets by the fast path; undone at once if the view changed
        meanwhile (its change may have forgotten the flows before this was written)."""
        for ifindex in self._fast_in[endpoint]:
            if (fast.install(ifindex, packet, held.target, held.header)
                    and held.view is not self.view):
                fast.remove(ifindex, packet)

    def close(self) -> None:
        if self.fast is not None:
            self.fast.close()
        for rule in self._rules:
            subprocess.run(["ip", "rule", "del", *rule], check=False, capture_output=True)
        for path in self.paths:
            path.close()

    def probe_forever(self) -> None:
        while self.running:
            with self.lock:
                targets = self.group.to_probe()
            for target in targets:
                good = self._probe(target)
                with self.lock:
                    change = self.group.record(target, good)
                    if change is not None:
                        self._new_view()
                if change is not None:
                    self.events.emit(f"gwlb.target_{change}", target=str(target))
            with self.lock:
                pause = pause_after_round(self.interval, list(self.group.health.values()),
                                          time.monotonic() - self.started)
            self.stopping.wait(pause)

    def _probe(self, target: IPv4Address) -> bool:
        return http_probe(target, self.probe_port, self.listen)

    def stop(self) -> None:
        self.stopping.set()


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
    parser.add_argument("--deregistration-delay", type=float, default=300.0,
                        help="seconds a deregistered target drains (AWS's default 300)")
    parser.add_argument("--target-failover", choices=("rebalance", "no_rebalance"),
                        default="rebalance", help="what happens to a drained or "
                        "unhealthy target's flows (the vendor's Terraform: rebalance)")
    parser.add_argument("--fast-path", choices=("on", "off"), default="off",
                        help="on: carry a flow's later IPv4 packets in the kernel (a tc "
                        "program)")
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    gwlb = Gwlb(args.listen, [IPv4Address(t) for t in args.targets.split(",")],
                args.probe_port, args.interval, (args.healthy, args.unhealthy), events,
                parse_endpoints(args.endpoints),
                Failover(args.deregistration_delay, args.target_failover == "rebalance"),
                fast_path=args.fast_path == "on")
    control = gwlb_control.serve(gwlb.control, lambda: gwlb.running)
    threads = [threading.Thread(target=gwlb.serve, daemon=True),
               threading.Thread(target=gwlb.probe_forever, daemon=True)]
    for thread in threads:
        thread.start()

    def stop() -> None:
        gwlb.stop()
        for thread in threads:
            thread.join(3)
        control.close()
        gwlb.close()

    serve_until_signalled(events, "gwlb", stop)


if __name__ == "__main__":
    main()
