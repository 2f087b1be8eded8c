"""Which ZIA gateway address a flow uses, from keepalive answers (spec §5.4, check F5).

Each configured ZIA gateway is a primary and an optional secondary address. An
address is *dead* when it never answered, or when its last keepalive answer is
older than `dead_after` and it has left the keepalives sent since unanswered, as
many as a running connector sends in that time less one (`missed_to_die`): a
connector that did not run for a while (a loaded host, a VM's stolen time) sent
none meanwhile, so its own stall is not taken for the gateway's death, and its
fail-close gateways do not drop flows for it. Otherwise it is *alive*.
A new flow takes the primary when alive, else the secondary; a flow keeps the
address it started on while that stays alive and moves to the active one when
it dies. So failover takes at most `dead_after` plus one keepalive interval, and
new sessions return to the primary as soon as it answers again.
Pure: the caller gives `now`; `TunnelHealth` is the core's `GatewayHealth`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address

from connector.core.policy import ZiaGateway


@dataclass(frozen=True, slots=True)
class KeepaliveTiming:
    interval_s: float = 1.0
    dead_after_s: float = 3.5

    @property
    def missed_to_die(self) -> int:
        """Unanswered keepalives that, with `dead_after_s` of silence, make an address
        dead: those sent strictly inside that time by a connector that runs."""
        return max(1, math.ceil(self.dead_after_s / self.interval_s) - 1)


def silent(answered_at: float | None, unanswered: int, now: float,
           timing: KeepaliveTiming) -> bool:
    """Dead by keepalives: never answered, or silent past `dead_after_s` and asked at
    least `missed_to_die` times since. Tunnels and the transport choice share it."""
    if answered_at is None:
        return True
    return now - answered_at > timing.dead_after_s and unanswered >= timing.missed_to_die


class TunnelHealth:
    def __init__(self, gateways: Mapping[str, ZiaGateway], timing: KeepaliveTiming,
                 clock: Callable[[], float]) -> None:
        self.gateways = dict(gateways)
        self.timing = timing
        self.clock = clock
        self._last_ack: dict[IPv4Address, float] = {}
        self._unanswered: dict[IPv4Address, int] = {}

    def addresses(self) -> list[IPv4Address]:
        """Every address to send keepalives to, each once."""
        seen = (a for g in self.gateways.values() for a in (g.primary, g.secondary) if a)
        return list(dict.fromkeys(seen))

    def asked(self, address: IPv4Address) -> None:
        """Record a keepalive sent to `address`."""
        self._unanswered[address] = self._unanswered.get(address, 0) + 1

    def acked(self, address: IPv4Address, now: float) -> bool:
        """Record a keepalive answer; True when the address was dead until now."""
        was_alive = self.alive(address, now)
        self._last_ack[address] = now
        self._unanswered[address] = 0
        return not was_alive

    def alive(self, address: IPv4Address, now: float) -> bool:
        return not silent(self._last_ack.get(address), self._unanswered.get(address, 0), now,
                          self.timing)

    def active(self, gateway: str, now: float) -> IPv4Address | None:
        """Where a new flow of this gateway goes: primary first."""
        g = self.gateways.get(gateway)
        if g is None:
            return None
        for address in (g.primary, g.secondary):
            if address is not None and self.alive(address, now):
                return address
        return None

    def keep_or_move(self, gateway: str, current: IPv4Address | None,
                     now: float) -> IPv4Address | None:
        """Where a running flow's next packet goes."""
        if current is not None and self.alive(current, now):
            return current
        return self.active(gateway, now)

    def is_usable(self, gateway: str) -> bool:
        return self.active(gateway, self.clock()) is not None


def choose_transport(mode: str, udp_answered_at: float | None, udp_unanswered: int,
                     tls_connected: bool, now: float, timing: KeepaliveTiming) -> str:
    """Which transport carries a gateway's data (spec §5.4): `udp` or `tls` when the config
    says so; `auto`: UDP while the gateway answers UDP keepalives (`silent`, counting the
    UDP ones only), TLS while it does not and a TLS link is up (UDP otherwise: nothing
    better to try)."""
    if mode in ("udp", "tls"):
        return mode
    udp_alive = not silent(udp_answered_at, udp_unanswered, now, timing)
    return "udp" if udp_alive or not tls_connected else "tls"
