"""Public-LB inbound DNAT mode (spec §4.2): the `inbound_nat` section and its nftables.

The config: each mapping's frontend is a public address, each (frontend, port)
is mapped once, problems name their path. The ruleset: the mapped flows are
decided by the forwarding rules in the `inbound` chain before the public-source
check, which still catches every other public-source flow; DNAT, the forward
chain and SNAT act only on flows that chain let in.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from connector.config import InboundMapping, parse_config
from connector.errors import ConfigError
from connector.io.nft_render import render_ruleset

pytestmark = pytest.mark.unit

BASE = """\
connector: {name: cc1, group: ccg-1, location: vpc-lab}
locations: [vpc-lab]
interfaces:
  service: {name: eth-svc, address: 10.10.3.31/24}
  management: {name: eth-mgmt, address: 10.10.2.21/24}
dest_ip_groups:
  fe: [198.18.81.80]
network_services:
  web: [{protocol: TCP, dest_ports: [80]}]
  web-8081: [{protocol: TCP, dest_ports: [8081]}]
forwarding_rules:
  - {order: 1, name: fe-web, forward_method: DIRECT, dest_ip_groups: [fe], nw_services: [web]}
  - {order: 2, name: fe-8081, forward_method: DROP, dest_ip_groups: [fe],
     nw_services: [web-8081]}
  - {order: 3, name: fe-zia, forward_method: ZIA, dest_ip_groups: [fe]}
"""
INBOUND = """\
inbound_nat:
  snat_to: 10.10.4.10
  mappings:
"""


def _config(*mappings: str) -> str:
    return BASE + INBOUND + "".join(f"    - {m}\n" for m in mappings)


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source=Path("cc.yaml"))
    return [f"{i.path}: {i.message}" for i in caught.value.issues]


def _chain(ruleset: str, name: str) -> list[str]:
    lines = ruleset.splitlines()
    start = lines.index(f"    chain {name} {{")
    return [line.strip() for line in lines[start + 1:lines.index("    }", start)]]


def test_a_mapping_is_read() -> None:
    config = parse_config(_config("{frontend: 198.18.81.80, port: 443, to: 10.10.1.12, "
                                  "to_port: 8443}"), source=Path("cc.yaml"))
    assert config.inbound is not None
    assert config.inbound.snat_to == IPv4Address("10.10.4.10")
    assert config.inbound.mappings == (
        InboundMapping(IPv4Address("198.18.81.80"), 443, IPv4Address("10.10.1.12"), 8443),)


@pytest.mark.parametrize(("frontend", "message"), [
    ("10.1.2.3", "10.1.2.3 is not a public address (RFC 1918, CGNAT)"),
    ("100.64.0.9", "100.64.0.9 is not a public address (RFC 1918, CGNAT)"),
    ("198.18.81.x", "input is not a valid IPv4 address"),
])
def test_a_bad_frontend_is_named_by_its_path(frontend: str, message: str) -> None:
    text = _config(f"{{frontend: {frontend}, port: 80, to: 10.10.1.12, to_port: 80}}")
    assert _problems(text) == [f"inbound_nat.mappings[0].frontend: {message}"]


def test_a_port_mapped_twice_names_both_mappings() -> None:
    text = _config("{frontend: 198.18.81.80, port: 80, to: 10.10.1.12, to_port: 80}",
                   "{frontend: 198.18.81.81, port: 80, to: 10.10.1.12, to_port: 80}",
                   "{frontend: 198.18.81.80, port: 80, to: 10.10.1.11, to_port: 8080}")
    assert _problems(text) == ["inbound_nat.mappings[2].port: 198.18.81.80 port 80 is already "
                               "mapped by inbound_nat.mappings[0]"]


@pytest.mark.parametrize(("section", "path"), [
    ("inbound_nat:\n  snat_to: 10.10.4.10\n  mappings: []\n", "inbound_nat.mappings"),
    ("inbound_nat:\n  mappings: [{frontend: 198.18.81.80, port: 80, to: 10.10.1.12, "
     "to_port: 80}]\n", "inbound_nat.snat_to"),
    (INBOUND + "    - {frontend: 198.18.81.80, port: 0, to: 10.10.1.12, to_port: 80}\n",
     "inbound_nat.mappings[0].port"),
])
def test_an_incomplete_section_is_named_by_its_path(section: str, path: str) -> None:
    assert [p.split(":")[0] for p in _problems(BASE + section)] == [path]


def test_without_the_section_the_ruleset_has_no_inbound_lines() -> None:
    ruleset = render_ruleset(parse_config(BASE, source=Path("cc.yaml")))
    assert "inbound" not in ruleset
    assert "0x400" not in ruleset


def test_mapped_flows_meet_the_rules_before_the_public_source_check() -> None:
    ruleset = render_ruleset(parse_config(_config(
        "{frontend: 198.18.81.80, port: 80, to: 10.10.1.12, to_port: 80}",
        "{frontend: 198.18.81.80, port: 8081, to: 10.10.1.12, to_port: 8081}"),
        source=Path("cc.yaml")))
    classify = _chain(ruleset, "classify")
    assert classify[0] == "ip daddr . tcp dport { 198.18.81.80 . 80, 198.18.81.80 . 8081 } " \
                          "goto inbound"
    # kept out through user space, whose Public Source Drop logs it (F7)
    assert classify[1].endswith("ip daddr { 198.18.81.80 } counter name inbound_unmapped "
                                "ct mark set ct mark or 0x200 return "
                                'comment "public-LB frontend, no mapping for this port"')
    assert classify[1].startswith("ip saddr != { 10.0.0.0/8, ")
    assert classify[2].endswith('comment "public source (spec 2.5)"')
    # First match, each method as an inbound flow can take it: Direct in, Drop dropped,
    # ZIA (and the default ZIA rule) cannot carry an inbound flow.
    assert _chain(ruleset, "inbound") == [
        'iifname "eth-svc" ip daddr { 198.18.81.80 } tcp dport { 80 } '
        "ct mark set ct mark or 0x400 return",
        'iifname "eth-svc" ip daddr { 198.18.81.80 } tcp dport { 8081 } '
        "counter name inbound_policy_drop ct mark set ct mark or 0x200 return",
        'iifname "eth-svc" ip daddr { 198.18.81.80 } counter name inbound_not_carriable '
        "ct mark set ct mark or 0x200 return",
        "counter name inbound_not_carriable ct mark set ct mark or 0x200 return "
        'comment "default ZIA rule: no way in"']
    assert _chain(ruleset, "inbound_dnat")[1:] == [
        'iifname "eth-svc" ct mark and 0x400 == 0x400 ip daddr 198.18.81.80 tcp dport 80 '
        "dnat ip to 10.10.1.12:80",
        'iifname "eth-svc" ct mark and 0x400 == 0x400 ip daddr 198.18.81.80 tcp dport 8081 '
        "dnat ip to 10.10.1.12:8081"]
    assert 'ct mark and 0x400 == 0x400 oifname "eth-svc" snat ip to 10.10.4.10 ' \
           'comment "public-LB inbound: replies come back through the ILB"' \
           in _chain(ruleset, "postrouting")
    forward = _chain(ruleset, "forward")
    let_in = forward.index('ct mark and 0x400 == 0x400 ct status dnat counter name inbound_dnat '
                           'accept comment "public-LB inbound: to the workload"')
    assert let_in < forward.index('iifname "eth-svc" counter name default_zia drop '
                                  'comment "default ZIA rule: carried in user space, never here"')


def test_accepting_public_sources_drops_the_source_condition_of_the_unmapped_line() -> None:
    text = _config("{frontend: 198.18.81.80, port: 80, to: 10.10.1.12, to_port: 80}")
    text = text.replace("locations: [vpc-lab]\n",
                        "locations: [vpc-lab]\nruntime: {accept_public_sources: true}\n")
    classify = _chain(render_ruleset(parse_config(text, source=Path("cc.yaml"))), "classify")
    assert classify[1] == 'ip daddr { 198.18.81.80 } counter name inbound_unmapped drop ' \
                          'comment "public-LB frontend, no mapping for this port"'
