"""Expectations on captured packets: "this, and no other packet, within this window".

An expectation is a template packet: every field set in it must match, except
fields named in `ignore` (by default TTL, checksums, IP ID and lengths, which
routers and stacks change). `only` sorts a capture's packets (within a time
window) into the ones that match and the others, and says whether the
capture held this and nothing else. Pure: packets in, a verdict out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from scapy.packet import NoPayload, Packet

DEFAULT_IGNORE = frozenset({"ttl", "chksum", "id", "len"})


@dataclass(frozen=True)
class Expectation:
    template: Packet
    ignore: frozenset[str] = DEFAULT_IGNORE

    def matches(self, packet: Packet) -> bool:
        layer = self.template
        while not isinstance(layer, NoPayload):
            found = packet.getlayer(type(layer))
            if found is None:
                return False
            for name, value in layer.fields.items():
                if name not in self.ignore and found.getfieldval(name) != value:
                    return False
            layer = layer.payload
        return True


@dataclass(frozen=True)
class Verdict:
    matched: list[Packet] = field(default_factory=list)
    others: list[Packet] = field(default_factory=list)

    @property
    def only_this(self) -> bool:
        """At least one packet matched, and nothing else was seen."""
        return bool(self.matched) and not self.others

    def describe(self) -> str:
        return (f"{len(self.matched)} matching, {len(self.others)} others"
                + "".join(f"\n  other: {p.summary()}" for p in self.others[:10]))


def only(expected: Expectation | list[Expectation], packets: Iterable[Packet],
         window: tuple[float, float] | None = None) -> Verdict:
    """Sort `packets` (those inside `window`, if given) by whether any expectation matches."""
    wanted = expected if isinstance(expected, list) else [expected]
    verdict = Verdict()
    for packet in packets:
        if window is not None and not window[0] <= float(packet.time) <= window[1]:
            continue
        hit = any(e.matches(packet) for e in wanted)
        (verdict.matched if hit else verdict.others).append(packet)
    return verdict
