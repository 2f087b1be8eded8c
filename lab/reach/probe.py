"""What the static evaluator takes and gives: a probe, and a verdict with its trace."""

from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Address

PROTO_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17}


@dataclass(frozen=True, slots=True)
class Probe:
    """One packet: `proto` tcp, udp or icmp (or a number); ports for tcp and udp."""

    proto: str
    src: str
    dst: str
    dport: int | None = None
    sport: int = 40000

    @property
    def source(self) -> IPv4Address:
        return IPv4Address(self.src)

    @property
    def destination(self) -> IPv4Address:
        return IPv4Address(self.dst)

    def reply(self) -> Probe:
        return Probe(self.proto, self.dst, self.src, self.sport, self.dport or 0)

    def with_addresses(self, src: IPv4Address | None = None,
                       dst: IPv4Address | None = None) -> Probe:
        return replace(self, src=str(src or self.src), dst=str(dst or self.dst))

    def text(self) -> str:
        port = f":{self.dport}" if self.dport is not None else ""
        return f"{self.proto} {self.src} -> {self.dst}{port}"


@dataclass(frozen=True, slots=True)
class Decision:
    """A control on the way: what it is, whether it let the packet pass, and where the
    deciding rule is written (a path in the topology, '' for routing and gateways)."""

    passed: bool
    what: str
    path: str = ""
    rule: str = ""  # the deciding rule's name alone ('' for routing and gateways)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Where a packet got to. `reached`: delivered to `node` (`iface`), as `packet`
    (after address translation); else `blocked` names the control that stopped it."""

    reached: bool
    node: str
    iface: str
    packet: Probe
    decisions: tuple[Decision, ...]
    hops: tuple[str, ...]

    @property
    def blocked(self) -> Decision | None:
        return next((d for d in self.decisions if not d.passed), None)

    @property
    def allowed_by(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.passed and d.path)

    def deciding(self) -> Decision | None:
        """The drop, or, when it got through, the last rule that let it (the one nearest
        the target: what a user would change)."""
        if self.blocked is not None:
            return self.blocked
        return self.allowed_by[-1] if self.allowed_by else None

    def explain(self) -> str:
        lines = [" -> ".join(self.hops)]
        lines += [f"  {'pass' if d.passed else 'DROP'}: {d.what}" for d in self.decisions]
        return "\n".join(lines)
