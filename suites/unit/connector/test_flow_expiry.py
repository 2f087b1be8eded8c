"""The expiry timer every connector runs (connector/service/flow_expiry.py): what a fast
path carried is folded before the table is judged idle, and again after, so that a flow
just expired leaves the kernel in the same round."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address

import pytest

from connector.core.model import FlowKey, IpProto, Method, NoNames, NoPools
from connector.core.rules import ForwardingPolicy
from connector.core.steering import Segment, Steering
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth
from connector.service.flow_expiry import FlowExpiry
from suites.unit.connector.policy_builders import ME, policy, rule

pytestmark = pytest.mark.unit
KEY = FlowKey(IpProto.UDP, IPv4Address("10.10.1.11"), IPv4Address("198.18.10.10"), 40000, 53)
UDP_TIMEOUT = 120.0  # connector/core/flows.py FlowTimeouts.udp


def _steering() -> Steering:
    pol = policy(rule(1, Method.DIRECT))
    tunnels = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    steering = Steering(ForwardingPolicy(pol, ME), NoNames(), NoPools(), tunnels)
    steering.inbound(Segment(KEY, 60, 0), b"", None, 0.0)
    return steering


def test_an_idle_flow_leaves_the_table_in_the_round_after_its_timeout() -> None:
    steering, clock = _steering(), [UDP_TIMEOUT - 1]
    expiry = FlowExpiry(steering, clock=lambda: clock[0])
    assert expiry.once() == 0
    assert len(steering.flows) == 1
    clock[0] = UDP_TIMEOUT
    assert expiry.once() == 1
    assert len(steering.flows) == 0


def test_what_the_kernel_carried_is_folded_before_the_flow_is_judged_idle() -> None:
    """The kernel carried a packet at 100 s that user space never saw: folded first, the
    flow is not idle at 120 s; the fold after the round sees the table as it is left."""
    steering, seen = _steering(), []

    def fold() -> None:
        seen.append(len(steering.flows))
        if len(seen) == 1:
            steering.flows.absorb(KEY, 1, 60, 100.0)

    expiry = FlowExpiry(steering, [fold], clock=lambda: UDP_TIMEOUT)
    assert expiry.once() == 0
    assert seen == [1, 1]
    assert FlowExpiry(steering, [fold], clock=lambda: 100.0 + UDP_TIMEOUT).once() == 1
    assert seen[-1] == 0, "the fold after expiry sees the flow gone"


def test_the_timer_runs_rounds_until_stopped() -> None:
    async def run() -> int:
        steering = _steering()
        expiry = FlowExpiry(steering, every_s=0.01, clock=lambda: UDP_TIMEOUT)
        await expiry.start()
        for _ in range(200):
            if not len(steering.flows):
                break
            await asyncio.sleep(0.01)
        await expiry.stop()
        return len(steering.flows)

    assert asyncio.run(run()) == 0
