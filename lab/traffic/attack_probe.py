"""`python -m lab.traffic.attack_probe`: send `cclab attack`'s probes from one node at once,
and say which were answered.

Reads a JSON list on stdin, one object per probe: `src`, `dst`, `proto` (tcp, udp),
`sport`, `dport`, `payload` (syn, ack, udp, dns, dns-fragments, geneve), `ask` (wait
for a reply: the source is this node's own) and `via` (when set, the frame goes to
that neighbour whatever the routes say, as an attacker on its link can send it). The
asked ones go out together and wait up to `--timeout` for their replies; the others
are only sent (their effect is seen elsewhere: at a victim, at the connector). Prints
one JSON object: `answered`, the source ports that got a TCP or UDP reply from the
address probed, each with what came back. Bounded: every probe is sent `--count` times, at most 3.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from scapy.arch import get_if_hwaddr
from scapy.config import conf
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.l2 import Ether, getmacbyip
from scapy.packet import Packet, Raw
from scapy.sendrecv import send, sendp, sr

from lab.wire.geneve import geneve_header

MAX_COUNT = 3
QUERY = "www.web.example"
INNER = ("10.10.1.11", "198.18.10.10")  # a workload's flow to the web, wrapped in GENEVE
FRAGMENT_BYTES = 16  # the DNS query's 8-byte UDP header and 33-byte body in three pieces


def packet(probe: dict[str, Any]) -> Packet:
    outer = IP(src=probe["src"], dst=probe["dst"])
    sport, dport = int(probe["sport"]), int(probe["dport"])
    payload = probe["payload"]
    if payload in ("syn", "ack"):
        flags, ack = ("S", 0) if payload == "syn" else ("A", 7000)
        return outer / TCP(sport=sport, dport=dport, flags=flags, seq=1000, ack=ack)
    if payload == "udp":
        return outer / UDP(sport=sport, dport=dport) / Raw(b"cclab attack probe")
    if payload in ("dns", "dns-fragments"):
        return outer / UDP(sport=sport, dport=dport) / DNS(rd=1, qd=DNSQR(qname=QUERY))
    inner = IP(src=INNER[0], dst=INNER[1]) / TCP(sport=40000, dport=80, flags="S")
    return outer / UDP(sport=sport, dport=dport) / Raw(geneve_header(4, 0) + bytes(inner))


def frames(probe: dict[str, Any]) -> list[Packet]:
    """What goes on the wire for one probe: the packet, or its fragments."""
    whole = packet(probe)
    if probe["payload"] == "dns-fragments":
        return list(fragment(whole, fragsize=FRAGMENT_BYTES))  # type: ignore[no-untyped-call]
    return [whole]


def send_unasked(probe: dict[str, Any], count: int) -> None:
    """Send without waiting for a reply: by the routes, or as frames to `via` (its link
    and address resolved once)."""
    via = probe.get("via") or ""
    packets = frames(probe) * count
    if not via:
        send(packets, verbose=False)
        return
    iface = conf.route.route(via)[0]
    link = Ether(src=get_if_hwaddr(iface), dst=getmacbyip(via))
    sendp([link / one for one in packets], iface=iface, verbose=False)


def replied(sent: Packet, got: Packet) -> str | None:
    """What a reply from the probed address and port says, or None if it is not one."""
    layer = TCP if TCP in sent else UDP
    if IP not in got or got[IP].src != sent[IP].dst or layer not in got:
        return None
    if got[layer].sport != sent[layer].dport or got[layer].dport != sent[layer].sport:
        return None
    if layer is TCP:
        return f"TCP {got[TCP].flags} from {got[IP].src}"
    return f"{'DNS' if DNS in got else 'UDP'} reply from {got[IP].src}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.traffic.attack_probe",
                                     description=__doc__)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--count", type=int, default=2)
    args = parser.parse_args(argv)
    probes = json.load(sys.stdin)
    count = max(1, min(args.count, MAX_COUNT))
    asked = [one for p in probes if p["ask"] for one in frames(p)] * count
    for p in (p for p in probes if not p["ask"]):
        send_unasked(p, count)
    answered: dict[int, str] = {}
    if asked:
        pairs, _ = sr(asked, timeout=args.timeout, multi=True, verbose=False)
        for sent, got in pairs:
            what = replied(sent, got)
            if what is not None:
                answered[int(sent.sport)] = what
    else:
        time.sleep(args.timeout)  # what the others cause, elsewhere, gets its time too
    print(json.dumps({"answered": answered}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
