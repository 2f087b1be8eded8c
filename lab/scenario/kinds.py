"""The fault kinds a timeline may name: what each needs, and the event that shows a
node noticed it (detection) or saw it end (back). Pure: the I/O is in `faults`."""

from __future__ import annotations

from dataclasses import dataclass

from lab.model import Topology


@dataclass(frozen=True, slots=True)
class KindSpec:
    name: str
    summary: str
    service: str  # the service every named node must run ("" : any node)
    max_nodes: int
    params: tuple[str, ...] = ()  # allowed
    required: tuple[str, ...] = ()
    hold: bool = True  # undone after hold_s (> 0); False: the fault ends by itself


KINDS = {k.name: k for k in (
    KindSpec("connector_kill", "the connector process is killed (SIGKILL); started again "
             "after hold_s", "connector", 1),
    KindSpec("connector_restart", "the connector is restarted (SIGTERM, start, ready)",
             "connector", 1, hold=False),
    KindSpec("connector_remove", "the connector is deregistered from the GWLB's target "
             "group and keeps running: it drains (the GWLB's deregistration delay), then "
             "leaves; registered again after hold_s, it takes new flows once healthy",
             "connector", 1),
    KindSpec("zia_blackhole", "the named ZIA edges drop every tunnel packet (UDP and TLS)",
             "zia-gateway", 2),
    KindSpec("udp_block", "a router on the path drops the tunnel's UDP (param port, "
             "default 6789, the lab's tunnel port)", "", 1, params=("port",)),
    KindSpec("dns_upstream_down", "the upstream DNS server is stopped", "dns-upstream", 1),
    KindSpec("lb_target_unhealthy", "the connector's health-probe port resets the probes: "
             "the load balancer marks it unhealthy, then healthy again", "connector", 1),
    KindSpec("link_impair", "a router's interface is slowed (param rate, tbf) and/or lossy "
             "(param loss_pct, nftables numgen)", "", 1,
             params=("iface", "rate", "loss_pct"), required=("iface",)),
    KindSpec("cloud_unreachable_at_enrollment", "the ZPA cloud answers no one while the "
             "connector restarts and enrolls: it waits for the cloud, then runs on its "
             "file's policy (cloud.enroll_failed); the cloud is back after hold_s",
             "connector", 1),
    KindSpec("zpa_broker_down", "the ZPA broker takes no new connection (standing ones "
             "stay, as in the cloud suite)", "zpa-broker", 1),
)}


# While these hold, ZIA methods show their fail mode (spec §5.4: no edge answers).
ZIA_OUTAGES = frozenset({"zia_blackhole"})


@dataclass(frozen=True, slots=True)
class EventRule:
    """Events of `kind` on any of `nodes` whose `field` is one of `values`."""

    nodes: tuple[str, ...]
    kind: str
    field: str
    values: frozenset[str]

    def matches(self, event: dict[str, object]) -> bool:
        return event.get("kind") == self.kind and str(event.get(self.field)) in self.values


def with_service(topology: Topology, kind: str) -> tuple[str, ...]:
    return tuple(n.name for n in topology.nodes if any(s.kind == kind for s in n.services))


def lb_targets(topology: Topology, nodes: tuple[str, ...]) -> frozenset[str]:
    """The GWLB target addresses of `nodes` (their interfaces in a `gwlb` target list)."""
    targets = {t for lb in with_service(topology, "gwlb")
               for s in topology.node(lb).services if s.kind == "gwlb"
               for t in s.option("targets").split(",")}
    return frozenset(str(i.address.ip) for n in nodes for i in topology.node(n).interfaces
                     if str(i.address.ip) in targets)


def _edges(topology: Topology, nodes: tuple[str, ...]) -> frozenset[str]:
    return frozenset(s.option("listen") for n in nodes for s in topology.node(n).services
                     if s.kind == "zia-gateway")


def detect_rule(kind: str, nodes: tuple[str, ...], topology: Topology) -> EventRule | None:
    """The event that shows the fault was noticed; None: seen only by the flows failing."""
    if kind == "connector_remove":
        return EventRule(with_service(topology, "gwlb"), "gwlb.target_deregistered", "target",
                         lb_targets(topology, nodes))
    if kind in ("connector_kill", "connector_restart", "lb_target_unhealthy"):
        return EventRule(with_service(topology, "gwlb"), "gwlb.target_unhealthy", "target",
                         lb_targets(topology, nodes))
    if kind == "zia_blackhole":
        return EventRule(with_service(topology, "connector"), "zia.gateway_down", "address",
                         _edges(topology, nodes))
    if kind == "udp_block":
        return EventRule(with_service(topology, "connector"), "zia.transport", "transport",
                         frozenset({"tls"}))
    if kind == "zpa_broker_down":
        return _any_connector(topology, "zpa.brokers_down")
    if kind == "cloud_unreachable_at_enrollment":
        return EventRule(nodes, "cloud.enroll_failed", "node", frozenset(nodes))
    return None


def _any_connector(topology: Topology, kind: str) -> EventRule:
    """`kind` written by any connector (its own node name is the field matched)."""
    connectors = with_service(topology, "connector")
    return EventRule(connectors, kind, "node", frozenset(connectors))


def back_rule(kind: str, nodes: tuple[str, ...], topology: Topology) -> EventRule | None:
    """The event that shows the fault's end was seen (after its undo)."""
    if kind in ("connector_kill", "connector_restart", "connector_remove",
                "lb_target_unhealthy", "cloud_unreachable_at_enrollment"):
        return EventRule(with_service(topology, "gwlb"), "gwlb.target_healthy", "target",
                         lb_targets(topology, nodes))
    if kind == "zia_blackhole":
        return EventRule(with_service(topology, "connector"), "zia.gateway_up", "address",
                         _edges(topology, nodes))
    if kind == "udp_block":
        return EventRule(with_service(topology, "connector"), "zia.transport", "transport",
                         frozenset({"udp"}))
    if kind == "zpa_broker_down":
        return _any_connector(topology, "zpa.brokers_up")
    return None
