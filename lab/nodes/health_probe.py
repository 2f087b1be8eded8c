"""Load-balancer health checks shared by the fake GWLB and ILB: thresholds and the probe."""

from __future__ import annotations

import http.client
from collections.abc import Iterable
from ipaddress import IPv4Address

# A lab comes up with every target `initial`, and whatever uses it waits until its load
# balancer holds them healthy (`healthy` good answers in a row, paced by the interval:
# about 1.5 intervals after the connectors answer). So in its first STARTUP_S seconds,
# until every target has been healthy once, a load balancer probes every STARTUP_PACE_S;
# from then on, and for a target registered later, at its interval as the cloud does.
# The thresholds are the same at either pace (docs/decisions.md, "The lab's GWLB").
STARTUP_PACE_S, STARTUP_S = 0.2, 10.0


class TargetHealth:
    """Consecutive-answer thresholds per target, like a target group or a backend pool."""

    def __init__(self, healthy: int, unhealthy: int) -> None:
        self.need_up, self.need_down = healthy, unhealthy
        self.state: str = "initial"
        self.run = 0
        self.last_good: bool | None = None
        self.was_healthy = False

    def record(self, good: bool) -> str | None:
        """The new state when this answer changes it."""
        self.run = self.run + 1 if good == self.last_good else 1
        self.last_good = good
        if good and self.state != "healthy" and self.run >= self.need_up:
            self.state, self.was_healthy = "healthy", True
            return self.state
        if not good and self.state != "unhealthy" and self.run >= self.need_down:
            self.state = "unhealthy"
            return self.state
        return None


def pause_after_round(interval: float, healths: Iterable[TargetHealth], age_s: float) -> float:
    """Seconds until the next round of probes, `age_s` after the load balancer started:
    the start's short pace until every target has been healthy once. Pure."""
    if age_s < STARTUP_S and not all(h.was_healthy for h in healths):
        return min(interval, STARTUP_PACE_S)
    return interval


def http_probe(target: IPv4Address, port: int, source: IPv4Address) -> bool:
    """GET /?cchealth from `source`; only a 200 within 2 s counts as up."""
    conn = http.client.HTTPConnection(str(target), port, timeout=2,
                                      source_address=(str(source), 0))
    try:
        conn.request("GET", "/?cchealth")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()
