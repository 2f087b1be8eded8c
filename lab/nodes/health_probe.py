"""Load-balancer health checks shared by the fake GWLB and ILB: thresholds and the probe."""

from __future__ import annotations

import http.client
from ipaddress import IPv4Address


class TargetHealth:
    """Consecutive-answer thresholds per target, like a target group or a backend pool."""

    def __init__(self, healthy: int, unhealthy: int) -> None:
        self.need_up, self.need_down = healthy, unhealthy
        self.state: str = "initial"
        self.run = 0
        self.last_good: bool | None = None

    def record(self, good: bool) -> str | None:
        """The new state when this answer changes it."""
        self.run = self.run + 1 if good == self.last_good else 1
        self.last_good = good
        if good and self.state != "healthy" and self.run >= self.need_up:
            self.state = "healthy"
            return self.state
        if not good and self.state != "unhealthy" and self.run >= self.need_down:
            self.state = "unhealthy"
            return self.state
        return None


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
