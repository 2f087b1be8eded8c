"""Reading nmap's XML report (a report nmap wrote, trimmed to two hosts)."""

from __future__ import annotations

import pytest

from lab.traffic.port_scan import PortState, open_ports, port_states, scan_argv
from suites.fixtures.windows import PATH_BUDGET_S

pytestmark = pytest.mark.unit

REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<nmaprun scanner="nmap" args="nmap -n -Pn -sS -p 22,53 -oX - 203.0.113.21 203.0.113.31">
<host><status state="up" reason="user-set"/>
<address addr="203.0.113.21" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/></port>
<port protocol="tcp" portid="53"><state state="filtered" reason="no-response"/></port></ports>
</host>
<host><status state="up" reason="user-set"/>
<address addr="203.0.113.31" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="22"><state state="filtered" reason="no-response"/></port>
<port protocol="tcp" portid="53"><state state="closed" reason="reset"/></port></ports>
</host>
</nmaprun>"""


def test_every_port_of_every_host_is_read() -> None:
    assert len(port_states(REPORT)) == 4
    assert PortState("203.0.113.31", "tcp", 53, "closed") in port_states(REPORT)


def test_only_open_ports_count_as_open() -> None:
    assert open_ports(REPORT) == [PortState("203.0.113.21", "tcp", 22, "open")]


def test_scan_is_bounded_and_skips_host_discovery() -> None:
    argv = scan_argv(["203.0.113.21"], (22,))
    assert argv[:3] == ["nmap", "-n", "-Pn"]
    assert "--host-timeout" in argv
    assert "--max-retries" in argv
    # no probe waits longer than the suites' budget for the slowest lab round trip
    assert argv[argv.index("--max-rtt-timeout") + 1] == f"{int(PATH_BUDGET_S * 1000)}ms"
    assert argv[-1] == "203.0.113.21"
