"""The background flows of a scenario: `lab.traffic.flow_probe` run inside the profile's
source node (in a thread, bounded by the traffic's duration), and what the far ends
logged of them (their arrivals, with the source each was seen from)."""

from __future__ import annotations

import json
import threading

from lab.api import LabHandle
from lab.events import Mark
from lab.scenario.errors import ScenarioError
from lab.scenario.measure import Arrival, Attempt
from lab.scenario.model import Traffic
from lab.scenario.profiles import Profile

ATTEMPT_TIMEOUT_S = 1.0


class Background:
    """The flows, running; `join` waits for them to stop by themselves."""

    def __init__(self, lab: LabHandle, profile: Profile, traffic: Traffic) -> None:
        self._lines: list[str] = []
        self._error: str = ""
        argv = [lab.python, "-m", "lab.traffic.flow_probe", "--interval",
                str(traffic.interval_s), "--duration", str(traffic.duration_s), "--timeout",
                str(ATTEMPT_TIMEOUT_S)]
        for name in traffic.methods:
            argv += ["--flow", profile.method(name).spec]
        self._limit = traffic.duration_s + 20

        def run() -> None:
            result = lab.exec(profile.source_node, *argv, check=False, timeout=self._limit)
            self._lines = result.stdout.splitlines()
            if not result.ok:
                self._error = result.stderr.strip()[-400:]

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def join(self) -> list[Attempt]:
        self._thread.join(self._limit + 5)
        if self._thread.is_alive() or self._error:
            raise ScenarioError(f"the background flows did not end well: {self._error}")
        return [Attempt(d["method"], int(d["seq"]), float(d["t0"]), float(d["t1"]),
                        bool(d["ok"]), str(d["detail"]), int(d.get("sport", 0)),
                        float(d.get("since", 0.0)))
                for d in map(json.loads, self._lines) if d]


def arrivals(lab: LabHandle, profile: Profile, methods: tuple[str, ...],
             after: Mark) -> list[Arrival]:
    """Each flow the far ends logged after `after`: HTTP by the probe's path
    (/scn/METHOD/SEQ), DNS by the probe's name."""
    seen: list[Arrival] = []
    for name in methods:
        method = profile.method(name)
        if method.kind in ("http", "http-name", "http-held"):
            prefix = f"/scn/{name}/"
            seen += [Arrival(name, str(e["src"]), float(e["ts"]))
                     for e in lab.events(method.seen_at, "http.request", after=after)
                     if str(e.get("path", "")).startswith(prefix)
                     and e.get("dport") == method.port]
        else:
            qname = method.qname.rstrip(".") + "."
            seen += [Arrival(name, str(e["src"]), float(e["ts"]))
                     for e in lab.events(method.seen_at, "dns.query", after=after)
                     if e.get("qname") == qname]
    return seen
