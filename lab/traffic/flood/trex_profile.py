"""A flood profile as a TRex STL profile, run by TRex's own Python client.

Runs in a virtualenv of its own (`.venv-trex`, with `lbr-trex-client`), because
the TRex client brings its own scapy: this file imports nothing from the lab.
It reads a profile description (what `python -m lab.traffic.flood PROFILE
--describe` prints: each stream's template frame and its fields) on stdin and
turns each field into an STLVM `inc` flow variable written at its offset, then
fixes the IPv4 checksum in software and the UDP/TCP checksum as TRex does
(`fix_chksum_hw`, done by the NIC or by TRex's software fallback).

    .venv-trex/bin/python lab/traffic/flood/trex_profile.py < description.json
        prints the profile as TRex serialises it (STLProfile.to_json)
    ... --server HOST [--duration S] [--pps N]
        runs it on a TRex server's port 0 and prints the port's counters
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import lbr_trex_client  # noqa: F401 - puts TRex's packages on sys.path
from trex.stl.api import (
    STLVM,
    Ether,
    STLClient,
    STLPktBuilder,
    STLProfile,
    STLStream,
    STLTXCont,
)

L4_TYPE = {6: 11, 17: 17}  # CTRexVmInsFixHwCs: L4_TYPE_TCP = 11, L4_TYPE_UDP = 17
ETH_LEN = 14


def stream_of(item: dict[str, Any], pps: float) -> Any:
    frame = bytes.fromhex(item["template_hex"])
    vm = STLVM()
    for field in item["fields"]:
        vm.var(name=field["name"], min_value=field["start"], max_value=field["last"],
               size=field["size"], op="inc", step=field["step"])
        vm.write(fv_name=field["name"], pkt_offset=field["offset"])
    ihl = (frame[ETH_LEN] & 0x0F) * 4
    proto = frame[ETH_LEN + 9]
    if proto in L4_TYPE:
        vm.fix_chksum_hw(l3_offset=ETH_LEN, l4_offset=ETH_LEN + ihl, l4_type=L4_TYPE[proto])
    else:
        vm.fix_chksum(offset=ETH_LEN)
    return STLStream(packet=STLPktBuilder(pkt=Ether(frame), vm=vm),
                     mode=STLTXCont(pps=pps * item["share"]))


def profile_of(description: dict[str, Any], pps: float) -> Any:
    return STLProfile([stream_of(item, pps) for item in description["streams"]])


def run(profile: Any, server: str, duration: float) -> dict[str, Any]:
    client = STLClient(server=server)
    client.connect()
    try:
        client.reset(ports=[0])
        client.add_streams(profile.get_streams(), ports=[0])
        client.start(ports=[0], duration=duration)
        client.wait_on_traffic(ports=[0])
        return dict(client.get_stats(ports=[0])[0])
    finally:
        client.disconnect()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", help="a TRex server to run the profile on")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (<= 120)")
    parser.add_argument("--pps", type=float, default=1_000_000.0, help="rate per share")
    args = parser.parse_args()
    if not 0 < args.duration <= 120:
        parser.error("--duration must be 0..120 s")
    profile = profile_of(json.load(sys.stdin), args.pps)
    if args.server is None:
        print(json.dumps(profile.to_json()))
        return 0
    print(json.dumps(run(profile, args.server, args.duration), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
