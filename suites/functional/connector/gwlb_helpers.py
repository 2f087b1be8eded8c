"""Helpers for the suites on the `gwlb` lab: GENEVE probes, metrics, cutting paths."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lab.api import LabHandle
from lab.traffic import geneve_probe as probe_cli

CC = {"cc1": ("10.10.3.31", "10.10.2.21"), "cc2": ("10.10.3.32", "10.10.2.22")}


def geneve_probe(lab: LabHandle, to: str, *options: str, node: str = "gwlb",
                 source: str = "10.10.3.5") -> dict[str, Any]:
    """One hand-made GENEVE packet from `node` (the GWLB's); what came back (lab.traffic).
    Its inner packet is built here, where scapy is loaded, and handed to the probe."""
    argv = ["--to", to, "--source", source, *options]
    inner = probe_cli.inner_of(probe_cli.parser().parse_args(argv))
    result = lab.exec(node, lab.python, "-m", "lab.traffic.geneve_probe", *argv,
                      "--inner-hex", inner.hex(), timeout=30)
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def metrics(lab: LabHandle, node: str) -> dict[str, float]:
    """The connector's Prometheus metrics, fetched over its management interface."""
    text = lab.exec("fabric", "curl", "-s", "-m", "3",
                    f"http://{CC[node][1]}:9100/metrics").stdout
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name.removeprefix("cclab_connector_")] = float(value)
    return values


def probe_status(lab: LabHandle, node: str, source_node: str = "gwlb") -> str:
    return lab.exec(source_node, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m",
                    "3", f"http://{CC[node][0]}:50000/?cchealth", check=False).stdout


def wait_for(check: Any, timeout: float, what: str) -> float:
    """Seconds until `check()` held; fails the test with `what` after `timeout`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.2)
    return time.monotonic() - start


@contextmanager
def tunnel_port_cut(lab: LabHandle, *nodes: str) -> Iterator[None]:
    """Drop both ZIA tunnel transports arriving at each node, undone on exit: UDP 6789 and
    TLS on TCP 443 (either end: the fallback would otherwise keep the path alive)."""
    for node in nodes:
        lab.exec(node, "nft", "add table ip cut; add chain ip cut cutin { type filter hook "
                 "input priority -10 ; }; add rule ip cut cutin udp dport 6789 drop; "
                 "add rule ip cut cutin tcp dport 443 drop; "
                 "add rule ip cut cutin tcp sport 443 drop")
    try:
        yield
    finally:
        for node in nodes:
            lab.exec(node, "nft", "delete table ip cut", check=False)
