"""Security groups enforced in the fabric, where a hypervisor enforces them.

Rendered as nftables for the lab's switch namespace: a bridge-family chain
marks each frame with the port it came in on (high 16 bits) and the port it
leaves by (low 16 bits); an inet-family chain, which sees bridged IPv4 through
br_netfilter and so has conntrack, sends each marked frame through the
outbound rules of its source port and the inbound rules of its destination
port. Replies of an allowed flow pass (stateful, as AWS and Azure are).
Pure: topology in, ruleset text out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from lab.model import SgRule, Topology

PORT_TABLE = "cclab_ports"
SG_TABLE = "cclab_sg"


@dataclass(frozen=True, slots=True)
class GuardedPort:
    """A bridge port whose endpoint has security groups; `pid` is its mark (1..65535)."""

    pid: int
    port: str
    where: str
    groups: tuple[str, ...]


def guarded_ports(topo: Topology, peer_of: dict[tuple[str, str], str]) -> list[GuardedPort]:
    ports: list[GuardedPort] = []
    for node in topo.nodes:
        for iface in node.interfaces:
            if iface.security_groups:
                ports.append(GuardedPort(len(ports) + 1, peer_of[(node.name, iface.name)],
                                         f"{node.name}/{iface.name}", iface.security_groups))
    return ports


@dataclass(frozen=True, slots=True)
class SgTables:
    """Where the ruleset lives. The netns switch holds only lab bridges. On a shared
    host (docker) the tables are per instance and must leave other frames alone: no
    mark is reset (a frame entering a bridge from a container has mark 0, since
    crossing namespaces scrubs it), and unmarked packets are accepted first."""

    ports: str = PORT_TABLE
    sg: str = SG_TABLE
    shared_host: bool = False


def render_security_groups(topo: Topology, peer_of: dict[tuple[str, str], str],
                           tables: SgTables = SgTables(),
                           bridges: Mapping[str, str] | None = None) -> str:
    """The fabric's ruleset, or '' when no endpoint has a security group. `bridges`
    (link -> bridge device) gives each bridge a conntrack zone of its own."""
    ports = guarded_ports(topo, peer_of)
    if not ports:
        return ""
    return "\n".join([*_port_marks(ports, tables),
                      *_sg_table(topo, ports, tables, bridges or {})]) + "\n"


def _port_marks(ports: list[GuardedPort], tables: SgTables) -> Iterator[str]:
    yield f"table bridge {tables.ports} {{"
    yield "  chain forward {"
    yield "    type filter hook forward priority -200; policy accept;"
    if not tables.shared_host:
        yield "    meta mark set 0"
    for p in ports:
        yield f'    iifname "{p.port}" meta mark set 0x{p.pid << 16:08x}  # from {p.where}'
    for p in ports:
        yield f'    oifname "{p.port}" meta mark set meta mark or 0x{p.pid:08x}  # to {p.where}'
    yield "  }"
    yield "}"


def _sg_table(topo: Topology, ports: list[GuardedPort], tables: SgTables,
              bridges: Mapping[str, str]) -> Iterator[str]:
    yield f"table inet {tables.sg} {{"
    yield from _zones(topo, bridges)
    for p in ports:
        for direction in ("out", "in"):
            yield from _port_chain(topo, p, direction)
    yield "  chain forward {"
    yield "    type filter hook forward priority 0; policy accept;"
    if tables.shared_host:
        yield "    meta mark 0 accept  # neither from nor to a guarded port"
    yield "    ct state established,related accept"
    # Only guarded traffic is judged: a bridge without a guarded port may see one side
    # of an asymmetric flow (the ILB's), which its zone cannot call anything but invalid.
    yield "    meta mark != 0 ct state invalid counter drop"
    for p in ports:
        yield f"    meta mark and 0xffff0000 == 0x{p.pid << 16:08x} jump out_{p.pid}  # {p.where}"
    for p in ports:
        yield f"    meta mark and 0x0000ffff == 0x{p.pid:08x} jump in_{p.pid}  # {p.where}"
    yield "  }"
    yield "}"


def _zones(topo: Topology, bridges: Mapping[str, str]) -> Iterator[str]:
    """One conntrack zone per bridge. A routed flow crosses several bridges of the fabric
    (attachment, then service); in one zone the second crossing of a packet that ends
    the connection (a RST) would be judged invalid and dropped. Zones keep each
    bridge's view apart, as separate hypervisor switches are (and two isolated sites
    with the same addresses never share a conntrack entry)."""
    if not bridges:
        return
    yield "  chain zones {"
    yield "    type filter hook prerouting priority raw; policy accept;"
    for zone, net in enumerate(topo.networks, start=1):
        if net.name in bridges:
            yield f'    iifname "{bridges[net.name]}" ct zone set {zone}  # {net.name}'
    yield "  }"


def _port_chain(topo: Topology, p: GuardedPort, direction: str) -> Iterator[str]:
    yield f"  chain {direction}_{p.pid} {{  # {p.where}: {', '.join(p.groups)} {direction}bound"
    for name in p.groups:
        group = topo.security_group(name)
        rules = group.outbound if direction == "out" else group.inbound
        for rule in rules:
            yield f"    {_rule(rule, direction)}"
    yield f'    counter drop comment "{p.where} {direction}: no rule allows"'
    yield "  }"


def _rule(rule: SgRule, direction: str) -> str:
    field = "daddr" if direction == "out" else "saddr"
    parts = []
    if rule.peers and not any(p.prefixlen == 0 for p in rule.peers):
        peers = ", ".join(str(p) for p in rule.peers)
        parts.append(f"ip {field} {{ {peers} }}")
    parts += _proto_match(rule)
    verdict = "return" if rule.action == "allow" else "counter drop"
    comment = f' comment "{rule.label}"' if rule.label else ""
    return " ".join([*parts, verdict]) + comment


def _proto_match(rule: SgRule) -> list[str]:
    if rule.proto == "all":
        return []
    if rule.proto == "icmp":
        return ["meta l4proto icmp"]
    if rule.ports is None or rule.ports == (0, 65535):
        return [f"meta l4proto {rule.proto}"]
    low, high = rule.ports
    return [f"{rule.proto} dport {low if low == high else f'{low}-{high}'}"]
