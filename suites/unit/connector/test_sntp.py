"""SNTP: the connector's request and reply check against the lab's time server codec.

The two sides share no code (the lab never imports the connector), so a reply the
lab's server makes and the connector accepts is the wire format agreeing.
"""

from __future__ import annotations

import pytest

from connector.io import sntp
from lab.nodes import ntp_server

pytestmark = pytest.mark.unit

NOW = 1_795_000_000.25


def test_a_reply_to_our_request_gives_offset_and_delay() -> None:
    sent = sntp.request(NOW)
    # The server's clock runs 0.5 s ahead; it answers 10 ms after we send, we read it
    # 20 ms after that: offset ((t2-t1)+(t3-t4))/2 = 0.5 - 0.01, delay 0.02.
    wire = ntp_server.reply(sent, NOW + 0.51)
    assert wire is not None
    patched = wire[:40] + sntp.to_ntp(NOW + 0.51).to_bytes(8, "big")  # t3 = t2
    sample = sntp.read_reply(patched, sent, NOW + 0.02)
    assert isinstance(sample, sntp.Sample)
    assert sample.stratum == 2
    assert sample.offset_s == pytest.approx(0.5, abs=1e-6)
    assert sample.delay_s == pytest.approx(0.02, abs=1e-6)


def test_the_request_is_a_version_4_client_packet() -> None:
    wire = sntp.request(NOW)
    assert len(wire) == 48
    assert (wire[0] >> 3 & 7, wire[0] & 7) == (4, 3)
    assert sntp.from_ntp(int.from_bytes(wire[40:48], "big")) == pytest.approx(NOW, abs=1e-6)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda sent: ntp_server.reply(sntp.request(NOW - 1), NOW), "not_our_request"),
    (lambda sent: ntp_server.reply(sent, NOW, stratum=0), "kiss_of_death"),
    (lambda sent: (ntp_server.reply(sent, NOW) or b"")[:47], "short"),
    (lambda sent: sent, "not_server_mode"),  # our own request reflected back
])
def test_replies_that_do_not_answer_us_are_rejected_with_a_reason(make, reason) -> None:  # type: ignore[no-untyped-def]
    sent = sntp.request(NOW)
    assert sntp.read_reply(make(sent), sent, NOW + 0.01) == sntp.SntpReject(reason)


def test_the_lab_server_ignores_what_is_not_a_client_request() -> None:
    reply = ntp_server.reply(sntp.request(NOW), NOW)
    assert reply is not None
    assert ntp_server.reply(reply, NOW) is None  # a server packet
    assert ntp_server.reply(b"\x1b" * 20, NOW) is None
