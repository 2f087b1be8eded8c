"""The connector's DNS listener in the minimal lab, asserted with dig and the far side's logs.

Check ids from spec §10: D1 (ZPA name to any resolver), D2 (AAAA -> NODATA),
D6 (Direct DNS leaves from the service address; the global VIP goes to the
configured resolver), D7 (BLOCK: no response), D8 (default rule allows),
D9 (TCP), A4 (nothing answers on the management address), restart keeps bindings.
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


def dig(lab: LabHandle, server: str, name: str, *options: str) -> Dig:
    result = lab.exec("workload1", "dig", "+time=2", "+tries=1", "+noall", "+comments",
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
    assert first == again


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
    answer = dig(minimal_lab, server, "www.web.example", *options)
    assert answer.answers == [("A", "198.18.10.10")]
    seen = minimal_lab.wait_event("dns", "dns.query",
                                  lambda e: e["qname"] == "www.web.example.")
    attach_json(seen, "upstream dns.query")
    assert seen["src"] == SERVICE


@allure.feature("dns")
def test_D7_blocked_name_gets_no_response(minimal_lab: LabHandle) -> None:  # noqa: N802
    before = len(minimal_lab.events("dns", "dns.query"))
    answer = dig(minimal_lab, "198.18.53.53", "a.blocked.example")
    assert answer.timed_out
    assert answer.status == ""
    decision = minimal_lab.wait_event("cc1", "dns.query",
                                      lambda e: e["qname"] == "a.blocked.example")
    assert (decision["action"], decision["answered"]) == ("BLOCK", False)
    assert not [e for e in minimal_lab.events("dns", "dns.query")[before:]
                if e["qname"] == "a.blocked.example."]


@allure.feature("dns")
def test_A4_management_address_answers_nothing(minimal_lab: LabHandle) -> None:  # noqa: N802
    answer = dig(minimal_lab, "10.10.2.21", "app-a.corp.example")
    assert answer.timed_out


@allure.feature("dns")
def test_restart_loses_no_binding(minimal_lab: LabHandle) -> None:
    names = [f"h{i}.partner.example" for i in range(5)]
    before = {n: dig(minimal_lab, SERVICE, n).answers for n in names}
    minimal_lab.restart_service("cc1", "connector")
    ready = minimal_lab.events("cc1", "service.ready")[-1]
    assert ready["restored_bindings"] >= len(names)
    after = {n: dig(minimal_lab, SERVICE, n).answers for n in reversed(names)}
    assert after == before
