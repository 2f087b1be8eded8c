"""The fast path's pure half: which flows the kernel may carry, what it counted since the
last read, how that lands in the flow table, the config switch, and the map key's bytes."""

from __future__ import annotations

import re
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from connector.config import parse_config
from connector.core.fast_lane import Carried, kernel_may_carry, since
from connector.core.flows import ACK, RST, SYN, Direction, FlowTable
from connector.core.model import Decision, FlowKey, IpProto, Method
from connector.core.steering import DNS_INTERCEPT, Dropped, ToKernel, ToZia
from connector.errors import ConfigError
from connector.io import nft_render
from connector.io.fast_path import FastKey, possible_cpus

pytestmark = pytest.mark.unit

DIRECT = Decision(Method.DIRECT, "udp-direct", 3, "first match")
UDP = FlowKey(IpProto.UDP, IPv4Address("10.10.1.78"), IPv4Address("198.18.10.10"),
              40200, 5001)


def _key(proto: int) -> FlowKey:
    return FlowKey(proto, UDP.src, UDP.dst, UDP.sport, UDP.dport)


def _table(key: FlowKey, decision: Decision = DIRECT) -> FlowTable:
    table = FlowTable()
    table.insert(key, decision, 1.0)
    return table


def _back(key: FlowKey) -> FlowKey:
    return FlowKey(key.proto, key.dst, key.src, key.dport, key.sport)


def test_a_direct_udp_flow_in_its_opening_direction_may_be_carried() -> None:
    assert kernel_may_carry(ToKernel(DIRECT), UDP, _table(UDP))


TCP = _key(IpProto.TCP)


def _completed_tcp() -> FlowTable:
    """A TCP flow whose handshake the table saw: SYN, SYN-ACK (seq 900), ACK 901."""
    table = _table(TCP)
    table.observe(TCP, 1.0, 60, SYN, 100, 0)
    table.observe(_back(TCP), 1.0, 60, SYN | ACK, 900, 101)
    table.observe(TCP, 1.0, 52, ACK, 101, 901)
    return table


ZIA = ToZia(IPv4Address("198.19.1.1"), Decision(Method.ZIA, "default", None, "default"))


def test_a_zia_flow_may_be_carried_as_a_direct_one() -> None:
    """Into its tunnel by the kernel: UDP at once, TCP once completed and until it closes
    (the caller checks the tunnel is UDP, not TLS)."""
    assert kernel_may_carry(ZIA, UDP, _table(UDP))
    table = _table(TCP)
    table.observe(TCP, 1.0, 60, SYN, 100, 0)
    assert not kernel_may_carry(ZIA, TCP, table), "before its handshake"
    table = _completed_tcp()
    assert kernel_may_carry(ZIA, TCP, table)
    table.observe(TCP, 1.0, 52, RST, 101, 901)
    assert not kernel_may_carry(ZIA, TCP, table), "closing"


def test_a_direct_tcp_flow_may_be_carried_once_completed_and_until_it_closes() -> None:
    table = _table(TCP)
    table.observe(TCP, 1.0, 60, SYN, 100, 0)
    assert not kernel_may_carry(ToKernel(DIRECT), TCP, table), "before its handshake"
    table = _completed_tcp()
    assert kernel_may_carry(ToKernel(DIRECT), TCP, table)
    assert not kernel_may_carry(ToKernel(DIRECT), _back(TCP), table), "not the reply way"
    table.observe(TCP, 1.0, 52, RST, 101, 901)
    assert not kernel_may_carry(ToKernel(DIRECT), TCP, table), "closing"


@pytest.mark.parametrize(("action", "key", "why"), [
    (ToKernel(DIRECT), _back(UDP), "a reply completes the exchange: the table must see it"),
    (ToKernel(DIRECT), _key(IpProto.ICMP), "only UDP and TCP"),
    (ToKernel(DNS_INTERCEPT), UDP, "DNS stays with the listener's guards"),
    (ToKernel(Decision(Method.ZPA, "app-a", 1, "segment")), UDP, "ZPA: the proxy's"),
    (ZIA, _back(UDP), "a ZIA flow's reply comes by the tunnel, to user space"),
    (Dropped("policy", DIRECT), UDP, "a dropped packet"),
])
def test_anything_else_stays_in_user_space(action: object, key: FlowKey, why: str) -> None:
    table = _table(UDP)
    table.insert(_key(IpProto.ICMP), DIRECT, 1.0)
    assert not kernel_may_carry(action, key, table), why  # type: ignore[arg-type]


def test_a_flow_the_table_does_not_hold_is_not_carried() -> None:
    assert not kernel_may_carry(ToKernel(DIRECT), UDP, FlowTable())
    assert not kernel_may_carry(ToKernel(DIRECT), TCP, FlowTable())


def test_since_gives_only_what_passed_after_the_last_fold() -> None:
    assert since((5, 500, 3_500_000_000), (2, 200)) == Carried(3, 300, 3.5)
    assert since((5, 500, 3_500_000_000), (5, 500)) is None, "nothing new"
    assert since((0, 0, 0), (0, 0)) is None


def test_absorb_counts_the_opening_direction_and_keeps_the_later_time() -> None:
    table = FlowTable()
    table.insert(UDP, DIRECT, 10.0)
    table.observe(UDP, 12.0, 60)
    assert table.absorb(UDP, 3, 180, 11.0)
    entry = table.lookup(UDP, 0.0)
    assert entry is not None
    assert (entry.packets, entry.octets) == ([4, 0], [240, 0])
    assert not entry.completed, "packets one way never complete an exchange"
    again = FlowTable()
    again.insert(UDP, DIRECT, 10.0)
    again.absorb(UDP, 1, 60, 15.0)
    again.absorb(UDP, 1, 60, 14.0)  # an older time never moves the flow back
    assert again.expire(134.5) == [], "idle 120 s from the newest packet, 15.0, not 14.0"
    assert len(again.expire(135.0)) == 1


def test_absorb_and_originates_of_a_flow_that_is_gone() -> None:
    table = FlowTable()
    assert not table.absorb(UDP, 1, 60, 1.0)
    assert not table.originates(UDP)


def test_only_the_opening_direction_originates() -> None:
    table = FlowTable()
    table.insert(UDP, DIRECT, 1.0)
    back = FlowKey(UDP.proto, UDP.dst, UDP.src, UDP.dport, UDP.sport)
    assert table.originates(UDP)
    assert not table.originates(back)
    entry = table.lookup(back, 1.0)
    assert entry is not None
    assert entry.direction_of(back) is Direction.REPLY


CONFIG = """\
connector: {name: cc1, group: ccg-1, location: vpc-lab}
locations: [vpc-lab]
interfaces:
  service: {name: eth-svc, address: 10.10.3.31/24}
  management: {name: eth-mgmt, address: 10.10.2.21/24}
runtime:
  geneve_fast_path: true
"""


def test_the_fast_path_without_geneve_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG, source=Path("cc.yaml"))
    assert [i.path for i in caught.value.issues] == ["runtime.geneve_fast_path"]
    config = parse_config(CONFIG.replace("runtime:\n", "runtime:\n  geneve_sources: "
                                         "[10.10.3.5/32]\n"), source=Path("cc.yaml"))
    assert config.dataplane.geneve_fast_path
    assert not parse_config(CONFIG.replace("  geneve_fast_path: true\n", ""),
                            source=Path("cc.yaml")).dataplane.geneve_fast_path


def test_the_map_key_is_the_c_struct_byte_for_byte() -> None:
    """connector/bpf/geneve_direct.c's struct flow_key: 24 bytes of addresses, ports,
    lengths in network order, then 64 of header, zero-padded."""
    header = bytes(range(1, 41))
    key = FastKey(IPv4Address("10.10.3.5"), IPv4Address("10.10.3.31"), 41001, header,
                  IPv4Address("10.10.1.78"), IPv4Address("198.18.10.10"), 40200, 5001)
    expected = (bytes([10, 10, 3, 5, 10, 10, 3, 31]) + (41001).to_bytes(2, "big")
                + bytes([40, 17]) + bytes([10, 10, 1, 78, 198, 18, 10, 10])
                + (40200).to_bytes(2, "big") + (5001).to_bytes(2, "big")
                + header + bytes(24))
    assert key.packed() == expected
    assert len(expected) == 88


def test_the_routed_fast_path_is_read_and_refused_beside_the_geneve_one() -> None:
    """Both are tc programs on the service interface's ingress, which takes one."""
    routed = CONFIG.replace("  geneve_fast_path: true\n", "  routed_fast_path: true\n")
    config = parse_config(routed, source=Path("cc.yaml"))
    assert config.dataplane.routed_fast_path
    assert not config.dataplane.geneve_fast_path
    both = CONFIG.replace("runtime:\n", "runtime:\n  geneve_sources: [10.10.3.5/32]\n"
                          "  routed_fast_path: true\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(both, source=Path("cc.yaml"))
    assert [i.path for i in caught.value.issues] == ["runtime.routed_fast_path"]


@pytest.mark.parametrize(("text", "cpus"), [("0\n", 1), ("0-1\n", 2), ("0,2-5\n", 6),
                                             ("0-3,8\n", 9)])
def test_a_per_cpu_map_holds_a_value_up_to_the_highest_possible_cpu(text: str,
                                                                     cpus: int) -> None:
    assert possible_cpus(text) == cpus


def test_the_programs_read_the_marks_the_ruleset_writes() -> None:
    """connector/bpf/direct_nat.h carries what the nftables rules decided Direct: its
    mark constants are nft_render's, written out again in C; a change to one side only
    would let the programs carry what the rules sent to user space, or nothing."""
    header = (Path(nft_render.__file__).parent.parent / "bpf" / "direct_nat.h").read_text()
    defined = dict(re.findall(r"^#define (DIRECT_MARK|DECIDED_MASK) (0x[0-9a-f]+)", header,
                              re.MULTILINE))
    mask = nft_render.DIRECT_MARK | nft_render.USER_MARK | nft_render.FAIL_OPEN_MARK
    assert {k: int(v, 16) for k, v in defined.items()} == {
        "DIRECT_MARK": nft_render.DIRECT_MARK, "DECIDED_MASK": mask}
    assert f"ct mark and {mask:#x} == {nft_render.DIRECT_MARK:#x}" == nft_render.DECIDED_DIRECT
    routed = (Path(nft_render.__file__).parent.parent / "bpf" / "routed_direct.c").read_text()
    assert re.findall(r"^#define USER_MARK (0x[0-9a-f]+)", routed, re.MULTILINE) == [
        f"{nft_render.USER_MARK:#x}"], "routed ZIA flows: the mark of what went to user space"
