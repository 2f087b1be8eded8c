"""`python -m lab.traffic.flood PROFILE --iface IF [--count N] [--duration S] ...`

Sends a profile from inside a lab node (`cclab exec NODE -- ...`, or `cclab
traffic run`) and prints one JSON line: profile, frames sent, seconds, pps.
`--pcap FILE` writes the ring's frames to a pcap instead (what tcpreplay and
the TRex profiles are compared against). Count and duration are both bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from lab.traffic.flood.engine import RING_FRAMES, describe, frames_for
from lab.traffic.flood.mmsg import MmsgSender
from lab.traffic.flood.profiles import PROFILES, Targets
from lab.traffic.flood.tx_ring import TxRing

MAX_COUNT = 50_000_000
MAX_DURATION_S = 120.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.traffic.flood", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", choices=sorted(PROFILES))
    parser.add_argument("--iface", help="send on this interface (inside the node)")
    parser.add_argument("--pcap", help="write the frames to this pcap instead of sending")
    parser.add_argument("--describe", action="store_true",
                        help="print the streams (templates and field programs) as JSON, "
                             "what trex_profile.py reads")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds at most")
    parser.add_argument("--ring", type=int, default=RING_FRAMES, help="distinct frames")
    parser.add_argument("--sender", choices=["mmsg", "ring"], default="mmsg",
                        help="sendmmsg (default) or the PACKET_MMAP TX ring")
    parser.add_argument("--pps", type=float, default=None,
                        help="frames a second at most (sendmmsg only; default: top rate)")
    parser.add_argument("--stop-file", default=None,
                        help="stop early once this file exists (sendmmsg only), still "
                             "bounded by --count and --duration")
    for name in Targets.__slots__:
        parser.add_argument(f"--{name.replace('_', '-')}", default=getattr(Targets(), name))
    args = parser.parse_args(argv)
    if not 0 < args.count <= MAX_COUNT or not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--count must be 1..{MAX_COUNT} and --duration 0..{MAX_DURATION_S:g} s")
    if args.pps is not None and (args.pps <= 0 or args.sender != "mmsg"):
        parser.error("--pps must be above 0, and paces the sendmmsg sender only")
    if args.stop_file is not None and args.sender != "mmsg":
        parser.error("--stop-file stops the sendmmsg sender only")
    targets = Targets(**{n: getattr(args, n) for n in Targets.__slots__})
    if args.describe:
        print(json.dumps(describe(args.profile, targets)))
        return 0
    frames = frames_for(args.profile, targets, args.ring)
    if args.pcap:
        from scapy.layers.l2 import Ether
        from scapy.utils import wrpcap

        wrpcap(args.pcap, [Ether(f) for f in frames])
        print(json.dumps({"profile": args.profile, "pcap": args.pcap, "frames": len(frames)}))
        return 0
    if not args.iface:
        parser.error("give --iface to send, or --pcap to write")
    sender = MmsgSender(args.iface, frames) if args.sender == "mmsg" else TxRing(args.iface,
                                                                                   frames)
    try:
        stop_file = args.stop_file
        result = (sender.send(args.count, args.duration, args.pps,
                              (lambda: os.path.exists(stop_file)) if stop_file else None)
                  if isinstance(sender, MmsgSender) else sender.send(args.count, args.duration))
    finally:
        sender.close()
    print(json.dumps({"profile": args.profile, "iface": args.iface, "sender": args.sender,
                      "frames": result.frames, "ended": result.ended,
                      "seconds": round(result.seconds, 4), "pps": round(result.pps)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
