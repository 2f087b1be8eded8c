"""The connector's DNS listener in the minimal lab, asserted with dig and the far side's logs.

Check ids from spec §10: D1 (ZPA name to any resolver), D2 (AAAA -> NODATA),
D5 (redirect to DNS gateways: failover, and both failure behaviours), D6
(Direct DNS leaves from the service address; the global VIP goes to the
configured resolver), D7 (BLOCK: no response), D8 (default rule allows),
D9 (TCP), D10 (answers pass unpoliced), A4 (nothing answers on the management
address), restart keeps bindings.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

import allure
import pytest

from lab.api import LabHandle
from suites.fixtures.allure_hooks import attach_json

# Tier: from the minimal_lab fixture (netns and docker).

POOL = IPv4Network("10.254.0.0/19")
SERVICE = "10.10.3.31"


@dataclass(frozen=True)
class Dig:
    status: str
    answers: list[tuple[str, str]]  # (type, data)
    authority: list[str]
    timed_out: bool


def dig(lab: LabHandle, server: str, name: str, *options: str, wait: int = 2) -> Dig:
    result = lab.exec("workload1", "dig", f"+time={wait}", "+tries=1", "+noall", "+comments",
                      "+answer", "+authority", *options, f"@{server}", name, check=False)
    lines = result.stdout.splitlines()
    status = next((line.split("status: ")[1].split(",")[0] for line in lines
                   if "status: " in line), "")
    records = [line.split() for line in lines if line and not line.startswith(";")]
    return Dig(status, [(r[3], r[4]) for r in records if r[3] != "SOA"],
               [r[0] for r in records if r[3] == "SOA"], "timed out" in result.stdout)


@pytest.mark.parametrize(("server", "options"), [
    ("198.51.100.53", ()), (SERVICE, ()), ("203.0.113.88", ()), ("198.51.100.53", ("+tcp",))],
    ids=["D1-any-resolver", "D1-service-ip", "D1-global-vip", "D9-over-tcp"])
@allure.feature("dns")
def test_zpa_name_gets_a_pool_address_whatever_the_resolver(
        minimal_lab: LabHandle, server: str, options: tuple[str, ...]) -> None:
    answer = dig(minimal_lab, server, "App-A.corp.example", *options)
    assert answer.status == "NOERROR"
    assert len(answer.answers) == 1
    kind, data = answer.answers[0]
    assert kind == "A"
    assert IPv4Address(data) in POOL
    assert data != "192.0.2.10", "the real app address leaked"


@allure.feature("dns")
def test_D1_same_name_same_address(minimal_lab: LabHandle) -> None:  # noqa: N802
    first = dig(minimal_lab, SERVICE, "x.partner.example").answers
    again = dig(minimal_lab, "198.51.100.9", "X.Partner.Example.").answers
    assert len(first) == 1, first
    assert first[0][0] == "A", first
    assert IPv4Address(first[0][1]) in POOL
    assert again == first


@allure.feature("dns")
def test_D2_aaaa_for_zpa_name_is_nodata_with_soa(minimal_lab: LabHandle) -> None:  # noqa: N802
    answer = dig(minimal_lab, SERVICE, "app-a.corp.example", "AAAA")
    assert (answer.status, answer.answers) == ("NOERROR", [])
    assert answer.authority == ["corp.example."]


@pytest.mark.parametrize(("server", "options"), [("198.18.53.53", ()), ("198.18.53.53", ("+tcp",)),
                                                  ("203.0.113.88", ()), (SERVICE, ())],
                         ids=["D6-D8-udp", "D6-D9-tcp", "D6-global-vip-to-configured-resolver",
                              "D6-service-address-as-resolver"])
@allure.feature("dns")
def test_allowed_query_is_resolved_from_the_service_address(
        minimal_lab: LabHandle, server: str, options: tuple[str, ...]) -> None:
    mark = minimal_lab.mark()
    answer = dig(minimal_lab, server, "www.web.example", *options)
    assert answer.answers == [("A", "198.18.10.10")]
    seen = minimal_lab.wait_event("dns", "dns.query",
                                  lambda e: e["qname"] == "www.web.example.", after=mark)
    attach_json(seen, "upstream dns.query")
    assert seen["src"] == SERVICE


@allure.feature("dns")
def test_D7_blocked_name_gets_no_response(minimal_lab: LabHandle) -> None:  # noqa: N802
    mark = minimal_lab.mark()
    answer = dig(minimal_lab, "198.18.53.53", "a.blocked.example")
    assert answer.timed_out
    assert answer.status == ""
    decision = minimal_lab.wait_event("cc1", "dns.query",
                                      lambda e: e["qname"] == "a.blocked.example", after=mark)
    assert (decision["action"], decision["answered"]) == ("BLOCK", False)
    assert not [e for e in minimal_lab.events("dns", "dns.query", after=mark)
                if e["qname"] == "a.blocked.example."]


@allure.feature("dns")
def test_A4_management_address_answers_nothing(minimal_lab: LabHandle) -> None:  # noqa: N802
    """The same question answered on the service address (positive control) goes
    unanswered on the management address, and no policy decision is made there."""
    assert dig(minimal_lab, SERVICE, "app-a.corp.example").answers, "no answer on the service"
    mark = minimal_lab.mark()
    answer = dig(minimal_lab, "10.10.2.21", "app-a.corp.example")
    assert answer.timed_out
    assert minimal_lab.events("cc1", "dns.query", after=mark) == []


@allure.feature("dns")
def test_restart_loses_no_binding(minimal_lab: LabHandle) -> None:
    names = [f"h{i}.partner.example" for i in range(5)]
    before = {n: dig(minimal_lab, SERVICE, n).answers for n in names}
    assert all(len(a) == 1 for a in before.values()), before
    mark = minimal_lab.mark()
    minimal_lab.restart_service("cc1", "connector")
    ready = minimal_lab.wait_event("cc1", "service.ready", after=mark)
    assert ready["restored_bindings"] >= len(names)
    after = {n: dig(minimal_lab, SERVICE, n).answers for n in reversed(names)}
    assert after == before


@allure.feature("dns")
@allure.story("D10: an answer is delivered as the upstream gave it, never re-decided")
def test_D10_an_answer_into_a_blocked_name_is_delivered(minimal_lab: LabHandle) -> None:  # noqa: N802
    """alias.web.example is allowed; its upstream answer is a CNAME into
    bad.blocked.example, which a BLOCK rule names. Responses are not policed (§6.4):
    the whole chain reaches the client. The positive control: the blocked name asked
    directly gets no answer."""
    assert dig(minimal_lab, "198.18.53.53", "bad.blocked.example").timed_out
    answer = dig(minimal_lab, "198.18.53.53", "alias.web.example")
    assert answer.status == "NOERROR"
    assert answer.answers == [("CNAME", "bad.blocked.example."), ("A", "198.18.10.10")]


@allure.feature("dns")
@allure.story("D5: REDIR_REQ to a DNS gateway, its failover, and its failure behaviour")
def test_D5_redirect_goes_to_the_primary_then_the_secondary(minimal_lab: LabHandle) -> None:  # noqa: N802
    """dns2 (primary) answers *.gw.example with 198.18.10.11, dns (secondary) with .10:
    the answer says which one was asked, and each server's log says from where."""
    mark = minimal_lab.mark()
    first = dig(minimal_lab, "198.18.53.53", "a.gw.example", wait=6)
    assert first.answers == [("A", "198.18.10.11")], "the primary gateway answers"
    asked = minimal_lab.wait_event("dns2", "dns.query", lambda e: e["qname"] == "a.gw.example.",
                                   after=mark)
    assert asked["src"] == SERVICE
    cut = ("table inet cclab_test_cut {\n chain input {\n"
           "  type filter hook input priority -10; udp dport 53 drop; tcp dport 53 drop\n }\n}\n")
    minimal_lab.exec("dns2", "nft", "-f", "-", input_text=cut)
    try:
        mark = minimal_lab.mark()
        second = dig(minimal_lab, "198.18.53.53", "b.gw.example", wait=6)
        assert second.answers == [("A", "198.18.10.10")], "the secondary answers"
        fallback = minimal_lab.wait_event("dns", "dns.query",
                                          lambda e: e["qname"] == "b.gw.example.", after=mark)
        assert fallback["src"] == SERVICE
    finally:
        minimal_lab.exec("dns2", "nft", "delete", "table", "inet", "cclab_test_cut",
                         check=False)


@allure.feature("dns")
@allure.story("D5: both gateways down: FAIL_RET_ERR answers SERVFAIL")
def test_D5_both_gateways_down_return_servfail(minimal_lab: LabHandle) -> None:  # noqa: N802
    mark = minimal_lab.mark()
    answer = dig(minimal_lab, "198.18.53.53", "x.gwerr.example", wait=8)
    assert (answer.status, answer.answers) == ("SERVFAIL", [])
    decision = minimal_lab.wait_event("cc1", "dns.query",
                                      lambda e: e["qname"] == "x.gwerr.example", after=mark)
    assert (decision["rule"], decision["answered"]) == ("redirect-dead", True)
    assert [e for e in minimal_lab.events("dns", "dns.query", after=mark)
            if e["qname"] == "x.gwerr.example."] == [], "SERVFAIL, not the original server"


@allure.feature("dns")
@allure.story("D5: both gateways down: FAIL_ALLOW_IGNORE_DNAT asks the original server")
def test_D5_both_gateways_down_forward_to_the_original_server(  # noqa: N802
        minimal_lab: LabHandle) -> None:
    mark = minimal_lab.mark()
    answer = dig(minimal_lab, "198.18.53.53", "y.gwallow.example", wait=8)
    assert answer.answers == [("A", "198.18.10.10")]
    asked = minimal_lab.wait_event("dns", "dns.query",
                                   lambda e: e["qname"] == "y.gwallow.example.", after=mark)
    assert asked["src"] == SERVICE


@allure.feature("dns")
@allure.story("D3: a full pool answers SERVFAIL and raises the alert")
def test_D3_exhausted_pool_answers_servfail_with_an_alert(minimal_lab: LabHandle) -> None:  # noqa: N802
    """The pool `tiny` (10.254.64.0/30) has two addresses (connectors/minimal-cc1.yaml):
    two names take them and keep them (sticky, in quarantine), the third finds none.
    SERVFAIL on the wire, never a real address, and a `pool.exhausted` alert."""
    tiny = IPv4Network("10.254.64.0/30")
    given = [dig(minimal_lab, SERVICE, f"{n}.tiny.example").answers for n in ("one", "two")]
    assert [len(a) for a in given] == [1, 1], given
    assert all(IPv4Address(a[0][1]) in tiny for a in given), given
    assert given[0] != given[1]
    mark = minimal_lab.mark()
    third = dig(minimal_lab, SERVICE, "three.tiny.example")
    assert (third.status, third.answers) == ("SERVFAIL", [])
    alert = minimal_lab.wait_event("cc1", "pool.exhausted", after=mark)
    assert (alert["pool"], alert["qname"]) == ("tiny", "three.tiny.example")
    assert dig(minimal_lab, SERVICE, "one.tiny.example").answers == given[0]
