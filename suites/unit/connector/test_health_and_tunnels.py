"""Health verdict (spec §3.5), tunnel liveness (§5.4), ZIA frames and the probe's request parser."""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from connector.config import load_config
from connector.core.health import GatewayState, HealthFacts, judge
from connector.core.policy import ZiaGateway
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth, choose_transport
from connector.io import zia_frame
from connector.io.zia_frame import Frame, FrameReject, FrameType
from connector.service.http_endpoints import (
    management_answer,
    probe_answer,
    prometheus_text,
    request_path,
)
from connector.service.zpa_proxy import next_probe_in

pytestmark = pytest.mark.unit
P, S = IPv4Address("198.19.1.1"), IPv4Address("198.19.1.2")


def _facts(usable: bool, fail_closed: bool, up: bool = True,
           zpa: bool | None = None, dns: bool = True) -> HealthFacts:
    return HealthFacts(up, dns, (GatewayState("default", usable, fail_closed),), zpa)


@pytest.mark.parametrize(("facts", "healthy"), [
    (_facts(True, True), True),
    (_facts(False, True), False),
    (_facts(False, False), True),   # fail-open: Direct is a usable path
    (_facts(True, True, up=False), False),
    (_facts(True, True, zpa=True), True),
    (_facts(True, True, zpa=False), False),  # ZPA rules, and no broker answers
    (_facts(True, True, dns=False), False),  # §3.5: 200 only while the DNS listener is up
], ids=["tunnel-up", "fail-close-no-tunnel", "fail-open-no-tunnel", "dataplane-down",
        "zpa-broker-up", "zpa-no-broker", "dns-listener-down"])
def test_health_verdict(facts: HealthFacts, healthy: bool) -> None:
    verdict = judge(facts)
    assert verdict.healthy is healthy
    assert bool(verdict.reasons) is not healthy


def test_each_unhealthy_cause_is_named_once() -> None:
    verdict = judge(HealthFacts(False, False, (GatewayState("default", False, True),), False))
    assert len(verdict.reasons) == 4
    assert any("DNS listener" in r for r in verdict.reasons)
    assert any("data plane" in r for r in verdict.reasons)
    assert any("ZPA" in r for r in verdict.reasons)
    assert any("'default'" in r and "fail-close" in r for r in verdict.reasons)


def test_probe_answer_carries_no_reason_management_does() -> None:
    verdict = judge(_facts(False, True))
    probe = probe_answer(verdict)
    assert probe.startswith(b"HTTP/1.1 503 ")
    assert b"ZIA" not in probe
    assert b"Connection: close" in probe
    management = management_answer("/health", verdict, lambda: "")
    assert b"fail-close" in management
    assert management.startswith(b"HTTP/1.1 503 ")


def test_metrics_are_prometheus_text() -> None:
    text = prometheus_text({"dropped_policy drop": 3}, {"flows": 2.0})
    assert "# TYPE cclab_connector_dropped_policy_drop_total counter" in text
    assert "cclab_connector_dropped_policy_drop_total 3" in text
    assert "cclab_connector_flows 2" in text


@pytest.mark.parametrize(("head", "path"), [
    (b"GET /?cchealth HTTP/1.1\r\nHost: a\r\n\r\n", "/?cchealth"),
    (b"GET / HTTP/1.0\r\n\r\n", "/"),
    (b"POST / HTTP/1.1\r\n\r\n", None),
    (b"GET /\r\n\r\n", None),
    (b"\x16\x03\x01\x02\x00", None),  # a TLS hello on the probe port
])
def test_request_path(head: bytes, path: str | None) -> None:
    assert request_path(head) == path


def _health() -> TunnelHealth:
    return TunnelHealth({"default": ZiaGateway("default", P, S)}, KeepaliveTiming(1.0, 3.0),
                        lambda: 0.0)


def test_an_address_is_alive_until_dead_after_without_answers() -> None:
    health = _health()
    assert health.acked(P, 10.0) is True, "first answer: it came alive"
    assert health.acked(P, 11.0) is False
    for _ in range(3):  # keepalives at 12, 13 and 14, none answered
        health.asked(P)
    assert health.alive(P, 14.0)
    assert not health.alive(P, 14.1)


def test_an_address_silent_while_the_connector_did_not_run_stays_alive() -> None:
    """A connector stalled for 10 s sent no keepalive meanwhile (one, when it woke):
    the silence is its own, and the answer it has not read yet is not a death."""
    health = _health()
    health.acked(P, 10.0)
    health.asked(P)
    assert health.alive(P, 21.0)
    health.asked(P)  # KeepaliveTiming(1.0, 3.0): two unanswered inside 3 s of silence
    assert not health.alive(P, 21.0)
    assert health.acked(P, 21.1) is True, "its answer brings it back"


def test_primary_is_preferred_secondary_used_when_it_is_dead() -> None:
    health = _health()
    assert health.active("default", 0.0) is None
    health.acked(S, 0.0)
    assert health.active("default", 1.0) == S
    health.acked(P, 1.0)
    assert health.active("default", 1.5) == P
    assert health.active("other", 1.5) is None
    assert health.addresses() == [P, S]


def test_zia_frames_round_trip_and_bad_ones_are_named() -> None:
    frame = Frame(FrameType.DATA, 0xDEADBEEF, 7, b"\x45" + bytes(19))
    assert zia_frame.decode(zia_frame.encode(frame)) == frame
    assert zia_frame.stream_frame(frame)[:2] == (12 + 20).to_bytes(2, "big")
    # a DATA frame made per packet: the header as the module's docstring lays it out
    assert zia_frame.data_frame(0xDEADBEEF, 7, b"\x45" + bytes(19)) == (
        b"ZT\x01\x01" + bytes.fromhex("deadbeef") + (7).to_bytes(4, "big") + b"\x45" + bytes(19))
    assert zia_frame.data_frame(0xDEADBEEF, 7, frame.payload) == zia_frame.encode(frame)
    keepalive = zia_frame.encode(Frame(FrameType.KEEPALIVE, 1, 2))
    for data, reason in ((b"ZT", "short"), (b"XX" + keepalive[2:], "magic"),
                         (keepalive[:2] + b"\x02" + keepalive[3:], "version"),
                         (keepalive[:3] + b"\x09" + keepalive[4:], "type"),
                         (keepalive + b"x", "payload")):
        result = zia_frame.decode(data)
        assert isinstance(result, FrameReject)
        assert result.reason == reason


@pytest.mark.parametrize(("mode", "answered", "unanswered", "tls_up", "expected"), [
    ("auto", 9.0, 1, True, "udp"),     # UDP answered 1 s ago: stays on UDP
    ("auto", 5.0, 5, True, "tls"),     # UDP silent for 5 s (> 3.5), 5 unanswered: TLS
    ("auto", 5.0, 2, True, "udp"),     # silent, but asked twice only (a stall): UDP
    ("auto", None, 0, True, "tls"),    # UDP never answered, TLS up
    ("auto", None, 0, False, "udp"),   # nothing up: keep trying UDP
    ("udp", None, 9, True, "udp"),     # the config forbids TLS
    ("tls", 9.9, 0, True, "tls"),      # the config asks for TLS only
])
def test_zia_transport_udp_with_tls_fallback(mode: str, answered: float | None,
                                              unanswered: int, tls_up: bool,
                                              expected: str) -> None:
    assert choose_transport(mode, answered, unanswered, tls_up, now=10.0,
                            timing=KeepaliveTiming(1.0, 3.5)) == expected


def test_management_health_names_each_cause_in_the_words_operators_match() -> None:
    """§3.5: the reason for a 503 is shown on the management interface. The functional
    tiers and operators match these sentences verbatim (decisions.md: "DNS listener is
    down", "ZPA: no broker reachable"; test_connector_image: the fail-close gateway),
    in the order the parts are checked: data plane, DNS listener, gateways, ZPA."""
    facts = HealthFacts(False, False, (GatewayState("default", False, True),
                                       GatewayState("backup", False, False)), False)
    answer = management_answer("/health", judge(facts), lambda: "")
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body == {"healthy": False, "reasons": [
        "data plane is down",
        "DNS listener is down",
        "ZIA gateway 'default': no tunnel alive and fail-close",
        "ZPA: no broker reachable",
    ]}


@pytest.mark.parametrize(("answered", "probe_s", "expected"), [
    (True, 5.0, 5.0),    # the default: every 5 s while a broker answers
    (True, 1.0, 1.0),    # the labs' runtime.zpa_probe_s
    (False, 5.0, 1.0),   # none answers: every second, to see one come back soon
    (False, 0.5, 0.5),   # ... or faster, when the configured interval is shorter
])
def test_brokers_are_pinged_at_the_configured_interval(answered: bool, probe_s: float,
                                                       expected: float) -> None:
    assert next_probe_in(answered, probe_s) == expected


def test_the_probe_interval_comes_from_the_runtime_section() -> None:
    shipped = load_config(Path("lab/topologies/connectors/aws-cc1.yaml"))
    assert shipped.dataplane.zpa_probe_s == 1.0  # the file says 1
    minimal = load_config(Path("lab/topologies/connectors/minimal-cc1.yaml"))
    assert minimal.dataplane.zpa_probe_s == 5.0  # not set: the default
