"""Keepalive liveness has one rule for tunnels and transports alike (spec §5.4).

An answer exactly `dead_after` old still counts, and a silence longer than that is a
death only if the keepalives sent meanwhile went unanswered: `TunnelHealth.alive`
and the transport choice must agree, or a gateway would be alive for one and dead
for the other.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from connector.core.policy import ZiaGateway
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth, choose_transport

pytestmark = pytest.mark.unit

P = IPv4Address("198.19.1.1")


TIMING = KeepaliveTiming(1.0, 3.5)


@pytest.mark.parametrize(("age", "unanswered", "alive"), [
    (3.5, 3, True),     # the edge: an answer exactly dead_after old still counts
    (3.6, 3, False),    # past it, with the three keepalives of those 3.5 s unanswered
    (3.6, 2, True),     # past it, but asked twice only: the connector did not run
    (30.0, 1, True),    # a 30-s stall: one keepalive since, its answer not read yet
])
def test_udp_transport_and_tunnel_liveness_share_one_rule(age: float, unanswered: int,
                                                          alive: bool) -> None:
    assert TIMING.missed_to_die == 3
    health = TunnelHealth({"g": ZiaGateway("g", P)}, TIMING, lambda: 0.0)
    health.acked(P, 10.0)
    for _ in range(unanswered):
        health.asked(P)
    assert health.alive(P, 10.0 + age) is alive
    chosen = choose_transport("auto", 10.0, unanswered, True, now=10.0 + age, timing=TIMING)
    assert chosen == ("udp" if alive else "tls")


@pytest.mark.parametrize(("interval", "dead_after", "missed"), [
    (1.0, 3.5, 3), (0.5, 2.0, 3), (1.0, 3.0, 2), (1.0, 0.5, 1), (10.0, 30.0, 2)])
def test_missed_to_die_is_what_a_running_connector_sends_inside_dead_after(
        interval: float, dead_after: float, missed: int) -> None:
    """Keepalives go out every `interval` from the last answer on; those strictly inside
    `dead_after` (at least one) must go unanswered."""
    inside = sum(1 for n in range(1, 100) if n * interval < dead_after)
    assert KeepaliveTiming(interval, dead_after).missed_to_die == max(1, inside) == missed


def test_an_edge_asked_before_it_ever_answered_is_dead_until_its_first_answer() -> None:
    """The connector sends keepalives to every edge from its start, before any answered:
    counting them must work for an edge with no count yet, the edge stays dead (it never
    answered) however often it is asked, and its first answer makes it alive."""
    health = TunnelHealth({"g": ZiaGateway("g", P)}, TIMING, lambda: 0.0)
    for _ in range(5):
        health.asked(P)
        assert not health.alive(P, 10.0)
    assert health.acked(P, 10.0) is True, "first answer: it came alive"
    assert health.alive(P, 10.0)
