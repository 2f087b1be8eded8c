"""Port scans with nmap, the external reference scanner: argv in, open ports out.

`scan_argv` builds a bounded TCP SYN scan (no host discovery, one retry, a host
timeout), `open_ports` reads nmap's XML report. Its probe timeout starts at
100 ms and may grow to 500 ms (nmap's own adaptation): a lab's round trip is
well under a millisecond, and 500 ms is the suites' budget for the slowest one
under load (suites/fixtures/windows.py). -T4 alone starts at 500 ms, which made
a lab's scan of filtered ports take 4.6 s, now 2.2 s. Pure; the lab runs the argv
in the attacker's node.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

DEFAULT_PORTS = (22, 53, 80, 443, 6081, 9100, 50000)


@dataclass(frozen=True, slots=True)
class PortState:
    address: str
    protocol: str
    port: int
    state: str  # open, closed, filtered, open|filtered


def scan_argv(targets: list[str], ports: tuple[int, ...] = DEFAULT_PORTS) -> list[str]:
    return ["nmap", "-n", "-Pn", "-sS", "-T4", "--max-retries", "1", "--initial-rtt-timeout",
            "100ms", "--max-rtt-timeout", "500ms", "--host-timeout", "60s",
            "-p", ",".join(map(str, ports)), "-oX", "-", *targets]


def port_states(xml_text: str) -> list[PortState]:
    """Every port of every host in an nmap XML report."""
    root = ET.fromstring(xml_text)
    found = []
    for host in root.iter("host"):
        address = next((a.get("addr", "") for a in host.iter("address")
                        if a.get("addrtype") == "ipv4"), "")
        for port in host.iter("port"):
            state = port.find("state")
            found.append(PortState(address, port.get("protocol", ""), int(port.get("portid", 0)),
                                   state.get("state", "") if state is not None else ""))
    return found


def open_ports(xml_text: str) -> list[PortState]:
    return [p for p in port_states(xml_text) if p.state == "open"]
