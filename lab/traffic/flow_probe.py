"""`python -m lab.traffic.flow_probe`: background flows, each attempt timestamped.

Run inside a node while a scenario plays faults: for each `--flow NAME=KIND:ADDR:PORT[:QNAME]`
(KIND http: a new TCP connection and `GET /scn/NAME/SEQ`, 200 wanted; KIND http-held:
the same GET on one of a few connections kept open (`lab.traffic.held_flows`); KIND dns: one
UDP query for QNAME, NOERROR with an answer wanted; KIND http-name: QNAME looked up
at ADDR, then the http flow to the answer, as a ZPA user's flow starts) it opens a new flow every
`--interval` seconds for `--duration` seconds, each waiting `--timeout` at most.
Attempts start on time whatever earlier ones do (each in its own thread), so a
gap in the flows is counted as the flows it cost. Every attempt is one JSON line
on stdout: `method`, `seq`, `t0`, `t1` (epoch seconds), `ok`, `detail` (`200`,
`timeout`, `reset`, `refused`, ...), `sport` (an HTTP flow's local port, so a load
balancer's log of the flow can be told; 0 for DNS), `since` (when the flow began: `t0`
but for a held connection, opened by an earlier attempt). Bounded in
time (at most 120 s) and count (at most 2,000 attempts a flow); stops by itself.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode

from lab.traffic.held_flows import HeldFlows

MAX_DURATION_S, MAX_ATTEMPTS, MAX_INFLIGHT = 120.0, 2000, 64


def local_port(conn: socket.socket) -> int:
    """The port the kernel gave the connection (0 once it is closed)."""
    try:
        return int(conn.getsockname()[1])
    except OSError:
        return 0


def http_once(name: str, seq: int, address: str, port: int, timeout: float,
              host: str = "") -> tuple[bool, str, int]:
    """(ok, detail, local port) of one GET on a new connection."""
    request = (f"GET /scn/{name}/{seq} HTTP/1.0\r\nHost: {host or address}\r\n"
               "Connection: close\r\n\r\n").encode()
    deadline = time.monotonic() + timeout
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sport = 0
    try:
        with socket.socket(family, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            try:
                conn.connect((address, port))
            finally:
                sport = local_port(conn)  # a connect that timed out still holds it
            conn.settimeout(max(0.01, deadline - time.monotonic()))
            conn.sendall(request)
            head = conn.recv(64)
    except TimeoutError:
        return False, "timeout", sport
    except ConnectionResetError:
        return False, "reset", sport
    except ConnectionRefusedError:
        return False, "refused", sport
    except OSError as exc:
        return False, type(exc).__name__, sport
    if not head:
        return False, "closed", sport
    status = head.split(b" ", 2)[1:2]
    code = status[0].decode(errors="replace") if status else "?"
    return code == "200", code, sport


def dns_once(qname: str, address: str, port: int, timeout: float) -> tuple[bool, str, int]:
    try:
        answer = dns.query.udp(dns.message.make_query(qname, "A"), address, port=port,
                               timeout=timeout)
    except dns.exception.Timeout:
        return False, "timeout", 0
    except (OSError, dns.exception.DNSException) as exc:
        return False, type(exc).__name__, 0
    code = dns.rcode.to_text(answer.rcode())
    return code == "NOERROR" and bool(answer.answer), code, 0


def named_http_once(name: str, seq: int, resolver: str, port: int, qname: str,
                    timeout: float) -> tuple[bool, str, int]:
    """One lookup of `qname` at `resolver`, then one HTTP flow to the answer."""
    try:
        answer = dns.query.udp(dns.message.make_query(qname, "A"), resolver, timeout=timeout)
    except (OSError, dns.exception.DNSException):
        return False, "lookup", 0
    addresses = [r.address for rrset in answer.answer for r in rrset if hasattr(r, "address")]
    if not addresses:
        return False, "lookup", 0
    return http_once(name, seq, addresses[0], port, timeout, host=qname)


HELD = HeldFlows()


def attempt(kind: str, name: str, seq: int, address: str, port: int, qname: str,
            timeout: float, out: threading.Lock) -> None:
    t0 = since = time.time()
    if kind == "http-held":
        ok, detail, sport, since = HELD.once(name, seq, address, port, timeout)
    elif kind == "http":
        ok, detail, sport = http_once(name, seq, address, port, timeout)
    elif kind == "http-name":
        ok, detail, sport = named_http_once(name, seq, address, port, qname, timeout)
    else:
        ok, detail, sport = dns_once(qname, address, port, timeout)
    line = json.dumps({"method": name, "seq": seq, "t0": round(t0, 4),
                       "t1": round(time.time(), 4), "ok": ok, "detail": detail,
                       "sport": sport, "since": round(since, 4)})
    with out:
        print(line, flush=True)


def run_flow(spec: str, interval: float, duration: float, timeout: float,
             out: threading.Lock) -> None:
    """A new flow every `interval`, on time even while earlier ones still wait: each
    attempt in its own thread (at most MAX_INFLIGHT at once; one more is `skipped`)."""
    name, _, target = spec.partition("=")
    kind, address, port_text, *rest = target.split(":")
    port, qname = int(port_text), (rest[0] if rest else "")
    start, running = time.time(), list[threading.Thread]()
    for seq in range(MAX_ATTEMPTS):
        due = start + seq * interval
        if due - start >= duration:
            break
        time.sleep(max(0.0, due - time.time()))
        running = [t for t in running if t.is_alive()]
        if len(running) >= MAX_INFLIGHT:
            with out:
                print(json.dumps({"method": name, "seq": seq, "t0": round(time.time(), 4),
                                  "t1": round(time.time(), 4), "ok": False,
                                  "detail": "skipped"}), flush=True)
            continue
        thread = threading.Thread(target=attempt, daemon=True, args=(
            kind, name, seq, address, port, qname, timeout, out))
        thread.start()
        running.append(thread)
    for thread in running:
        thread.join(2 * timeout + 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.traffic.flow_probe",
                                     description=__doc__)
    parser.add_argument("--flow", action="append", required=True,
                        help="NAME=http:ADDR:PORT, NAME=http-held:ADDR:PORT, "
                        "NAME=dns:ADDR:PORT:QNAME or NAME=http-name:RESOLVER:PORT:QNAME")
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION_S or not 0.01 <= args.interval <= 10:
        print("flow_probe: --duration must be 0..120 s, --interval 0.01..10 s", file=sys.stderr)
        return 2
    lock = threading.Lock()
    threads = [threading.Thread(target=run_flow, daemon=True,
                                args=(spec, args.interval, args.duration, args.timeout, lock))
               for spec in args.flow]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.duration + 2 * args.timeout + 5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
