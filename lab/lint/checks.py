"""The checks: each a function from the scope to its findings, every reachability
question asked of `lab.reach` so that lint and the fabric judge by the same rules.

Two kinds of question. From the internet: a packet from a host beyond the internet
gateway to a connector's public address, walked through routing, gateways and every
rule (`lab.reach.forward`); reached is an error. Of a rule: for every allow rule on a
connector's port, an address it names outside the range that should bound it, judged
by all the port's layers (`lab.reach.filters.judge_port`, so a deny or a second layer
before it counts); admitted is a warning (no public address yet) or info.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from lab.cloud_rules import Peer, Rule, port_layers, widening_routes
from lab.lint import checks_catalog as c
from lab.lint.finding import Check, Finding
from lab.lint.scope import AZURE_PROBE_SOURCE, Port, Scope, inside, outside
from lab.model import Route, Topology
from lab.reach import Decision, Probe, forward
from lab.reach.filters import judge_layer, judge_port

ANY = IPv4Network("0.0.0.0/0")
HEALTH_PORT = 50000  # spec §3.1: HTTP_PROBE_PORT's default
DNS = (("udp", 53), ("tcp", 53))
PUBLIC_RESOLVER = IPv4Address("198.18.53.53")  # the lab's internet resolver
# What the management interface sends out (spec §1.1, §2.1; the seed), most needed first.
MGMT_NEEDS = (("tcp", 443, "error", "TLS to the vendor's cloud"),
              ("udp", 123, "error", "NTP"),
              ("udp", 53, "warning", "DNS"),
              ("tcp", 53, "info", "DNS over TCP"),
              ("udp", 443, "info", "DTLS"))

Spec = tuple[str, int | None]


@dataclass
class _Hits:
    """Findings of one check grouped by the rule that decides them."""

    check: Check
    severity: str
    groups: dict[str, tuple[str, list[str], list[str]]] = field(default_factory=dict)

    def add(self, path: str, rule: str, port: str, what: str) -> None:
        _, ports, whats = self.groups.setdefault(path, (rule, [], []))
        for item, seen in ((port, ports), (what, whats)):
            if item not in seen:
                seen.append(item)

    def findings(self, lead: str, towards: str = "to") -> list[Finding]:
        return [Finding(self.check, self.severity, path,
                        f"{lead} {', '.join(whats)} {towards} {', '.join(ports)}; {rule}")
                for path, (rule, ports, whats) in self.groups.items()]


def _where(topo: Topology, port: Port, decision: Decision | None) -> tuple[str, str]:
    """The path and words of the rule that let a packet in; an unfiltered port: its link."""
    if decision is not None and decision.path:
        return decision.path, f"allowed by {decision.rule or decision.what}"
    index = [n.name for n in topo.networks].index(port.iface.network)
    return f"links[{index}]", f"no security group filters {port.text()}"


def _spec(rule: Rule, default: Spec) -> Spec | None:
    """The probe a rule admits: its protocol and a port it opens (`default`'s if it can)."""
    proto = default[0] if rule.proto == "all" else rule.proto
    if proto not in ("tcp", "udp", "icmp"):
        return None  # another IP protocol: the evaluator sends tcp, udp and icmp only
    if proto == "icmp":
        return "icmp", None
    if rule.ports is None:
        return proto, default[1]  # every port: the usual one
    low, high = rule.ports
    want = default[1]
    return proto, want if want is not None and low <= want <= high else low


def _allow_rules(scope: Scope, port: Port) -> Iterator[Rule]:
    for layer in port_layers(scope.topo, port.node, port.iface, "in"):
        yield from (r for r in layer.rules if r.action == "allow")


def _rule_specs(scope: Scope, port: Port, default: Spec) -> list[Spec]:
    return _ordered({s for r in _allow_rules(scope, port) if (s := _spec(r, default)) is not None})


def _text(spec: Spec) -> str:
    return spec[0] if spec[1] is None else f"{spec[0]} {spec[1]}"


def _from_internet(scope: Scope, ports: tuple[Port, ...], specs: Callable[[Port], list[Spec]],
                   hits: _Hits) -> None:
    if scope.internet is None:
        return
    start, source = scope.internet
    for port in ports:
        if port.iface.public is None:
            continue
        for proto, dport in specs(port):
            probe = Probe(proto, str(source), str(port.iface.public), dport)
            verdict = forward(scope.topo, start.name, probe)
            if verdict.reached and (verdict.node, verdict.iface) == (port.node.name,
                                                                     port.iface.name):
                shown = f"{port.text()} ({port.iface.public})"
                admitting: list[Decision | None] = [*_admitting(scope, port, verdict.packet)]
                for decision in admitting or [None]:
                    path, rule = _where(scope.topo, port, decision)
                    hits.add(path, rule, shown, _text((proto, dport)))


def _admitting(scope: Scope, port: Port, probe: Probe) -> list[Decision]:
    """The rules that let `probe` into the port: in a security group every allow rule that
    matches it (AWS: groups are allow-only, any one suffices, each must go); in an NSG
    the first match, which decides."""
    found = []
    where = port.text()
    for layer in port_layers(scope.topo, port.node, port.iface, "in"):
        alone = [replace(layer, rules=(r,)) for r in layer.rules] if layer.kind == "sg" \
            else [layer]
        found += [d for d in (judge_layer(one, probe, "in", where) for one in alone) if d.passed]
    return found


def _admitted(scope: Scope, ports: tuple[Port, ...], default: Spec, hits: _Hits,
              witness: Callable[[IPv4Network], IPv4Address | None]) -> None:
    """For each allow rule: an address it names that `witness` picks, judged by the port."""
    for port in ports:
        for rule in _allow_rules(scope, port):
            spec = _spec(rule, default)
            for peer in rule.far or (Peer(ANY, "any address"),):
                if peer.network.version != 4:
                    continue  # the rule checks are IPv4's (an IPv6 prefix admits no IPv4)
                address = witness(peer.network)
                if spec is None or address is None:
                    continue
                probe = Probe(spec[0], str(address), str(port.iface.address.ip), spec[1])
                decisions = judge_port(scope.topo, port.node, port.iface, probe, "in")
                if not decisions or not decisions[-1].passed:
                    continue
                admitting = _admitting(scope, port, probe)
                chosen = [d for d in admitting if d.path == rule.path] or admitting[-1:]
                path, words = _where(scope.topo, port, chosen[0] if chosen else None)
                hits.add(path, words, port.text(), f"{_text(spec)} from {address} "
                         f"(in {peer.network}: {peer.origin})")


def _blocked(scope: Scope, port: Port, probe: Probe, direction: str) -> tuple[str, str] | None:
    """Where the port drops `probe` (the deny rule, or the groups none of whose rules
    allow it), and the words for it; None when it passes."""
    decisions = judge_port(scope.topo, port.node, port.iface, probe, direction)
    if not decisions or decisions[-1].passed:
        return None
    layer = port_layers(scope.topo, port.node, port.iface, direction)[len(decisions) - 1]
    bound = "inbound" if direction == "in" else "outbound"
    drop = decisions[-1]
    return (drop.path or f"security_groups.{layer.groups[0]}.{bound}",
            f"dropped by {drop.rule or drop.what}")


def _internet_lead(scope: Scope) -> str:
    if scope.internet is None:
        return ""
    node, address = scope.internet
    return f"from the internet ({node.name}, {address}):"


def _prefer(scope: Scope) -> IPv4Address | None:
    return scope.internet[1] if scope.internet else None


# -- the checks -----------------------------------------------------------------------------

def _reached(scope: Scope, check: Check, ports: tuple[Port, ...],
             specs: Callable[[Port], list[Spec]]) -> list[Finding]:
    hits = _Hits(check, "error")
    _from_internet(scope, ports, specs, hits)
    return hits.findings(_internet_lead(scope))


def _non_local(scope: Scope, check: Check, role: str, default: Spec) -> list[Finding]:
    hits = _Hits(check, "warning")
    _admitted(scope, scope.role(role), default, hits,
              lambda net: outside(net, scope.local, _prefer(scope)))
    return hits.findings("admitted:")


def _ordered(specs: set[Spec]) -> list[Spec]:
    return sorted(specs, key=lambda s: (s[0], s[1] or 0))


def mgmt_internet(scope: Scope) -> list[Finding]:
    """SSH, or any port a rule opens, on a management interface, from the internet."""
    return _reached(scope, c.MGMT_INTERNET, scope.role("management"),
                    lambda p: _ordered({("tcp", 22), *_rule_specs(scope, p, ("tcp", 22))}))


def mgmt_open(scope: Scope) -> list[Finding]:
    """A management rule admits public sources (no public address makes it reachable yet)."""
    return _non_local(scope, c.MGMT_OPEN, "management", ("tcp", 22))


def mgmt_range(scope: Scope) -> list[Finding]:
    """A management rule admits private sources beyond the management range."""
    hits = _Hits(c.MGMT_RANGE, "info")
    _admitted(scope, scope.role("management"), ("tcp", 22), hits,
              lambda net: inside(net, scope.local, scope.management))
    ranges = ", ".join(map(str, scope.management)) or "none"
    return hits.findings(f"beyond the management range ({ranges}):")


def _service_specs(scope: Scope, port: Port) -> list[Spec]:
    own = {("tcp", 443), ("udp", 6081), ("tcp", health_port(scope.topo))}
    return _ordered((own | set(_rule_specs(scope, port, ("tcp", 443)))) - set(DNS))


def service_internet(scope: Scope) -> list[Finding]:
    """The service interface reached from the internet (DNS is `dns_internet`'s)."""
    return _reached(scope, c.SERVICE_INTERNET, scope.role("service"),
                    lambda p: _service_specs(scope, p))


def service_local(scope: Scope) -> list[Finding]:
    """A service rule admits non-local sources."""
    return _non_local(scope, c.SERVICE_LOCAL, "service", ("tcp", 443))


def dns_internet(scope: Scope) -> list[Finding]:
    """DNS (UDP and TCP 53) on any connector interface, from the internet."""
    return _reached(scope, c.DNS_INTERNET, scope.ports, lambda p: list(DNS))


def azure(topo: Topology) -> bool:
    """An Azure topology: NSGs, the AzureLoadBalancer tag, or an internal load balancer
    (not GCP's: a topology with VPC firewall rules is GCP's)."""
    if any(g.kind == "gcp-firewall" for g in topo.security_groups):
        return False
    return (any(g.kind == "nsg" for g in topo.security_groups)
            or "AzureLoadBalancer" in dict(topo.tags)
            or any(s.kind == "ilb" for n in topo.nodes for s in n.services))


def health_port(topo: Topology) -> int:
    ports = [s.option("probe-port") for n in topo.nodes for s in n.services
             if s.kind in ("ilb", "gwlb") and s.option("probe-port")]
    return int(ports[0]) if ports else HEALTH_PORT


def azure_probe(scope: Scope) -> list[Finding]:
    """Azure: the health probe from AzureLoadBalancer to the health port, on every
    service interface."""
    topo = scope.topo
    if not azure(topo):
        return []
    source = dict(topo.tags).get("AzureLoadBalancer", (AZURE_PROBE_SOURCE,))[0]
    hits = _Hits(c.AZURE_PROBE, "error")
    port_number = health_port(topo)
    for port in scope.role("service"):
        probe = Probe("tcp", str(source.network_address), str(port.iface.address.ip),
                      port_number)
        blocked = _blocked(scope, port, probe, "in")
        if blocked is not None:
            hits.add(*blocked, port.text(),
                     f"tcp {port_number} from {source.network_address} (AzureLoadBalancer)")
    return hits.findings("the health probe is not admitted:")


def vnet_widened(scope: Scope) -> list[Finding]:
    """Azure: a user-defined route of a connector's subnet widens VirtualNetwork, and a rule
    on the connector allows VirtualNetwork (a written rule or AllowVnetInBound)."""
    topo = scope.topo
    found: dict[str, tuple[Route, list[str], list[Rule]]] = {}
    for port in scope.ports:
        for node, i, route in widening_routes(topo, port.iface):
            if not isinstance(route.to, IPv4Network):
                continue  # IPv4 rules: an IPv6 route widens no IPv4 tag
            users = [r for r in _allow_rules(scope, port) if any(
                p.network == route.to and p.origin.startswith("VirtualNetwork")
                for p in r.far or ())]
            if not users:
                continue
            _, ports, rules = found.setdefault(f"nodes.{node.name}.routes[{i}]",
                                               (route, [], []))
            ports += [port.text()] if port.text() not in ports else []
            rules += [r for r in users if r.path not in {u.path for u in rules}]
    return [Finding(c.VNET_WIDENED,
                    "error" if outside(IPv4Network(route.to), scope.local) is not None
                    else "info", path,
                    f"route '{route.udr}' {route.to} via {route.via} (from {route.source}) "
                    f"adds {route.to} to VirtualNetwork for {', '.join(ports)}; so "
                    f"{'; '.join(r.name for r in rules)} admit{'s' if len(rules) == 1 else ''} "
                    f"{route.to}", tuple(r.path for r in rules))
            for path, (route, ports, rules) in found.items()]


def mgmt_egress(scope: Scope) -> list[Finding]:
    """The management interface's outbound rules let out TLS, NTP and DNS."""
    topo = scope.topo
    target = next((a for a in topo.dns if outside(IPv4Network(a), scope.local)),
                  PUBLIC_RESOLVER)
    findings: list[Finding] = []
    for proto, number, severity, what in MGMT_NEEDS:
        hits = _Hits(c.MGMT_EGRESS, severity)
        for port in scope.role("management"):
            probe = Probe(proto, str(port.iface.address.ip), str(target), number)
            blocked = _blocked(scope, port, probe, "out")
            if blocked is not None:
                hits.add(*blocked, port.text(), f"{proto} {number} ({what}) to {target}")
        findings += hits.findings("no rule lets out", "from")
    return findings


def ipv6_bypass(scope: Scope) -> list[Finding]:
    """A router's ::/0 to a gateway node for a subnet whose 0.0.0.0/0, on the same
    router, goes to a node that is no gateway (the connectors' load balancer)."""
    topo = scope.topo
    findings: list[Finding] = []

    def via_gateway(via: IPv4Address | IPv6Address) -> str:
        """The gateway node that owns `via`, or ''."""
        owner = topo.owner_of(via)
        return owner[0].name if owner is not None and owner[0].gateway is not None else ""

    for node in topo.nodes:
        steered = [r.source for r in node.routes if r.to == IPv4Network("0.0.0.0/0")
                   and isinstance(r.source, IPv4Network) and not via_gateway(r.via)]
        for i, route in enumerate(node.routes):
            if route.to != IPv6Network("::/0") or not via_gateway(route.via):
                continue
            for net in topo.networks:
                if net.subnet6 is None or not any(net.subnet.subnet_of(s) for s in steered):
                    continue
                if route.source is None or (isinstance(route.source, IPv6Network)
                                            and net.subnet6.subnet_of(route.source)):
                    findings.append(Finding(
                        c.IPV6_BYPASS, "error", f"nodes.{node.name}.routes[{i}]",
                        f"link '{net.name}': 0.0.0.0/0 goes to the connectors' side, but "
                        f"::/0 via {route.via} ({via_gateway(route.via)}) "
                        f"takes its IPv6 ({net.subnet6}) around them"))
    return findings


CHECKS: tuple[Callable[[Scope], list[Finding]], ...] = (
    mgmt_internet, mgmt_open, mgmt_range, service_internet, service_local, dns_internet,
    azure_probe, vnet_widened, mgmt_egress, ipv6_bypass)
