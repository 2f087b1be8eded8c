"""SNTP on the wire (RFC 4330): the request the connector sends, the reply it accepts. Pure.

The connector watches its clock against the configured NTP servers over the
management interface (spec §1.1, §2.1: UDP 123 out). It measures and reports
the offset; it never steps the clock (in the lab every node shares the host's).

A reply counts only when it answers this request (its originate timestamp is
our transmit timestamp), comes from a synchronised server (leap indicator not
3, stratum 1-15: stratum 0 is a kiss-o'-death) in server mode, and is at least
48 bytes. Anything else is an `SntpReject` with a reason, never an exception.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

NTP_PORT = 123
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
PACKET = struct.Struct("!BBbbII4sQQQQ")
VERSION = 4
MODE_CLIENT, MODE_SERVER = 3, 4


@dataclass(frozen=True, slots=True)
class Sample:
    offset_s: float  # server clock minus ours
    delay_s: float  # round trip, less the server's own time
    stratum: int


@dataclass(frozen=True, slots=True)
class SntpReject:
    reason: str


def to_ntp(unix_s: float) -> int:
    """A 64-bit NTP timestamp (32.32 fixed point since 1900)."""
    return int((unix_s + NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFF_FFFF_FFFF_FFFF


def from_ntp(stamp: int) -> float:
    return stamp / (1 << 32) - NTP_EPOCH_OFFSET


def request(sent_s: float) -> bytes:
    """A client request (version 4, mode 3) whose transmit timestamp is `sent_s`."""
    return PACKET.pack(VERSION << 3 | MODE_CLIENT, 0, 0, 0, 0, 0, b"\0" * 4, 0, 0, 0,
                       to_ntp(sent_s))


def read_reply(wire: bytes, sent: bytes, received_s: float) -> Sample | SntpReject:
    """The sample a reply to `sent` gives, received at `received_s` (our clock)."""
    if len(wire) < PACKET.size:
        return SntpReject("short")
    first, stratum, _poll, _prec, _delay, _disp, _ref, _ref_ts, originate, receive, transmit = \
        PACKET.unpack_from(wire)
    leap, mode = first >> 6, first & 0x07
    if mode != MODE_SERVER:
        return SntpReject("not_server_mode")
    if originate != PACKET.unpack_from(sent)[-1]:
        return SntpReject("not_our_request")
    if leap == 3 or not 1 <= stratum <= 15:
        return SntpReject("unsynchronised" if stratum else "kiss_of_death")
    if not receive or not transmit:
        return SntpReject("no_timestamps")
    t1, t2, t3, t4 = from_ntp(originate), from_ntp(receive), from_ntp(transmit), received_s
    return Sample(((t2 - t1) + (t3 - t4)) / 2, (t4 - t1) - (t3 - t2), stratum)
