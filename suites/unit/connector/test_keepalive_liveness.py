"""Keepalive liveness has one edge for tunnels and transports alike (spec §5.4).

An answer exactly `dead_after` old still counts: `TunnelHealth.alive` and the
transport choice must agree, or a gateway would be alive for one and dead for the other.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from connector.core.policy import ZiaGateway
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth, choose_transport

pytestmark = pytest.mark.unit

P = IPv4Address("198.19.1.1")


@pytest.mark.parametrize(("age", "alive"), [(3.5, True), (3.6, False)])
def test_udp_transport_and_tunnel_liveness_share_the_dead_after_edge(age: float,
                                                                     alive: bool) -> None:
    health = TunnelHealth({"g": ZiaGateway("g", P)}, KeepaliveTiming(1.0, 3.5), lambda: 0.0)
    health.acked(P, 10.0)
    assert health.alive(P, 10.0 + age) is alive
    chosen = choose_transport("auto", 10.0, True, now=10.0 + age, dead_after_s=3.5)
    assert chosen == ("udp" if alive else "tls")
