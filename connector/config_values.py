"""Parse the value forms a rule may hold: addresses, prefixes, ranges, names, ports.

Each parser returns a value or a problem string (never raises), so the config
loader can list every bad value of a file at once.
"""

from __future__ import annotations

from ipaddress import AddressValueError, IPv4Address, IPv4Network, NetmaskValueError

from connector.core.names import name_problem, parse_pattern
from connector.core.policy import AddressRange, DestAddress, IpMatch, PortRange

NAME_HINT = "write an FQDN (app.corp.example) or a wildcard (*.corp.example)"
IP_HINT = "write an address (10.1.2.3), a prefix (10.1.0.0/16) or a range (10.1.2.3-10.1.2.9)"


def parse_ip_match(text: str) -> IpMatch | str:
    """`10.1.2.3`, `10.1.0.0/16` or `10.1.2.3-10.1.2.9`; else the problem."""
    text = text.strip()
    try:
        if "-" in text:
            first, last = (IPv4Address(part.strip()) for part in text.split("-", 1))
            if first > last:
                return f"range '{text}' ends before it starts"
            return AddressRange(first, last)
        if "/" in text:
            return IPv4Network(text, strict=False)
        return IPv4Address(text)
    except (AddressValueError, NetmaskValueError, ValueError):
        return f"'{text}' is not an IPv4 address, prefix or range"


def parse_dest(text: str) -> DestAddress | str:
    """A forwarding destination: an IP form, or an FQDN / `*.` wildcard."""
    if _looks_numeric(text):
        return parse_ip_match(text)
    problem = name_problem(text)
    return f"'{text}': {problem}" if problem else parse_pattern(text)


def parse_name(text: str) -> object:
    """A DNS rule destination (FQDN or wildcard only); a str return is the problem."""
    problem = name_problem(text)
    return f"'{text}': {problem}" if problem else parse_pattern(text)


def parse_ports(value: int | str) -> PortRange | str:
    """`443`, `"8000-8100"`; ports 1..65535."""
    text = str(value).strip()
    try:
        first, _, last = text.partition("-")
        port_range = PortRange(int(first), int(last or first))
    except ValueError:
        return f"'{text}' is not a port or port range"
    if not 1 <= port_range.first <= port_range.last <= 65535:
        return f"'{text}' is outside 1-65535 or ends before it starts"
    return port_range


def _looks_numeric(text: str) -> bool:
    head = text.strip().split("/")[0].split("-")[0]
    return bool(head) and all(part.isdigit() for part in head.split("."))
