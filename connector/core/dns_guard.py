"""DNS listener protection with defaults from spec §9.4: ACL, dynamic blocks, RRL, ANY, size.

Per query (`check_query`): a source outside the ACL is dropped silently over
UDP (a spoofed victim gets no reflection) and REFUSED over TCP; a source in a
dynamic block is dropped; ANY over UDP gets a minimal answer (RFC 8482).
Per response (`check_response`): UDP answers go through response-rate limiting
(TCP is exempt) and an answer larger than the client's payload is truncated.
Dynamic blocks: a /32 sending more than 30 qps averaged over 10 s, more than
5 ANY queries in one second, or more than 100,000 response bytes per second
averaged over 10 s is blocked for 60 s. Exempt sources (health probes,
cluster peers) are never limited nor blocked. Pure: `now` comes from the caller.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network

from connector.core.memo import remember
from connector.core.model import Transport
from connector.core.rrl import RateVerdict, ResponseKind, ResponseRateLimiter, RrlConfig

# dnsdist's default ACL, the fallback when no workload range is configured (§9.2, §9.4).
PRIVATE_DEFAULT = tuple(IPv4Network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "192.168.0.0/16",
    "172.16.0.0/12"))


class QueryVerdict(Enum):
    ACCEPT = "accept"
    MINIMAL_ANY = "minimal-any"
    DROP_SILENT = "drop-silent"
    REFUSED = "refused"


class ResponseVerdict(Enum):
    SEND = "send"
    DROP = "drop"
    SLIP = "slip"  # send an empty TC=1 response instead
    TRUNCATE = "truncate"  # larger than the payload: TC=1


@dataclass(frozen=True, slots=True)
class GuardConfig:
    workloads: tuple[IPv4Network, ...] = ()
    exempt: tuple[IPv4Network, ...] = ()  # health-probe sources and cluster peers
    rrl: RrlConfig = field(default_factory=RrlConfig)
    block_qps: float = 30
    block_window_s: int = 10
    block_any_per_s: int = 5
    block_bytes_per_s: float = 100_000
    block_for_s: float = 60
    udp_payload_cap: int = 1232

    def acl(self) -> tuple[IPv4Network, ...]:
        return (self.workloads or PRIVATE_DEFAULT) + self.exempt


@dataclass(frozen=True, slots=True)
class QueryMeta:
    src: IPv4Address
    transport: Transport
    qtype: str
    qname: str = ""


class DnsGuard:
    def __init__(self, config: GuardConfig | None = None) -> None:
        self.config = config or GuardConfig()
        self._acl = self.config.acl()
        self._rrl = ResponseRateLimiter(self.config.rrl)
        self._queries: dict[int, deque[tuple[int, ...]]] = {}  # second, queries, ANY
        self._bytes: dict[int, deque[tuple[int, ...]]] = {}  # second, response bytes
        self._blocked: dict[int, float] = {}  # source -> blocked until
        self._standings: dict[int, tuple[bool, bool]] = {}
        self.counters: dict[str, int] = defaultdict(int)
        self.per_prefix: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def check_query(self, meta: QueryMeta, now: float) -> QueryVerdict:
        verdict = self._query_verdict(meta, now)
        self._count(meta.src, verdict._value_)  # not .value: an Enum property is slow
        return verdict

    def check_response(self, meta: QueryMeta, kind: ResponseKind, size: int, payload: int,
                       now: float) -> ResponseVerdict:
        verdict = self._response_verdict(meta, kind, size, payload, now)
        self._count(meta.src, _COUNTED_RESPONSE[verdict._value_])
        return verdict

    def exempt(self, src: IPv4Address) -> bool:
        """Is `src` one this guard never limits (inside the ACL and exempt)?"""
        allowed, exempt = self._standing(src)
        return allowed and exempt

    def check_exempt(self, meta: QueryMeta, kind: ResponseKind, size: int, payload: int,
                     count: int, now: float) -> tuple[QueryVerdict, ResponseVerdict] | None:
        """check_query and check_response `count` times for one exempt source's same
        query and response, in one step: their verdicts depend on nothing that the
        repetitions change (no rate, no block for such a source), so each is judged once
        and counted `count` times. None, counting nothing, if `meta.src` is not exempt.
        """
        if not self.exempt(meta.src):
            return None
        asked = self._query_verdict(meta, now)
        sent = self._response_verdict(meta, kind, size, payload, now)
        self._count(meta.src, asked._value_, count)
        self._count(meta.src, _COUNTED_RESPONSE[sent._value_], count)
        return asked, sent

    def blocked_sources(self, now: float) -> frozenset[IPv4Address]:
        return frozenset(IPv4Address(s) for s, until in self._blocked.items() if until > now)

    def _query_verdict(self, meta: QueryMeta, now: float) -> QueryVerdict:
        allowed, exempt = self._standing(meta.src)
        if not allowed:
            tcp = meta.transport is Transport.TCP
            return QueryVerdict.REFUSED if tcp else QueryVerdict.DROP_SILENT
        if exempt:
            return self._any_policy(meta)
        if self._blocked.get(int(meta.src), 0) > now:
            return QueryVerdict.DROP_SILENT
        if self._over_query_limits(meta, now):
            self._blocked[int(meta.src)] = now + self.config.block_for_s
            self.counters["dyn_blocks"] += 1
            return QueryVerdict.DROP_SILENT
        return self._any_policy(meta)

    def _any_policy(self, meta: QueryMeta) -> QueryVerdict:
        if meta.qtype.upper() == "ANY" and meta.transport is Transport.UDP:
            return QueryVerdict.MINIMAL_ANY
        return QueryVerdict.ACCEPT

    def _response_verdict(self, meta: QueryMeta, kind: ResponseKind, size: int, payload: int,
                          now: float) -> ResponseVerdict:
        if meta.transport is Transport.TCP:
            return ResponseVerdict.SEND
        if not self._standing(meta.src)[1]:
            self._add(self._bytes, meta.src, now, (size,))
            rate = self._rrl.check(meta.src, kind, now, meta.qname)
            if rate is not RateVerdict.SEND:
                return ResponseVerdict(rate.value)
        if size > min(payload, self.config.udp_payload_cap):
            return ResponseVerdict.TRUNCATE
        return ResponseVerdict.SEND

    def _over_query_limits(self, meta: QueryMeta, now: float) -> bool:
        is_any = int(meta.qtype.upper() == "ANY")
        window = self._add(self._queries, meta.src, now, (1, is_any))
        c = self.config
        total = sum(q for _, q, _ in window)
        any_now = window[-1][2]
        sent = sum(bucket[1] for bucket in self._bytes.get(int(meta.src), ()))
        return (total > c.block_qps * c.block_window_s or any_now > c.block_any_per_s
                or sent > c.block_bytes_per_s * c.block_window_s)

    def _add(self, table: dict[int, deque[tuple[int, ...]]], src: IPv4Address, now: float,
             values: tuple[int, ...]) -> deque[tuple[int, ...]]:
        """Per-second buckets of the last `block_window_s` seconds for one source."""
        second = int(now)
        buckets = table.setdefault(int(src), deque())
        while buckets and buckets[0][0] <= second - self.config.block_window_s:
            buckets.popleft()
        if buckets and buckets[-1][0] == second:
            last = buckets.pop()
            buckets.append((second, *(a + b for a, b in zip(last[1:], values, strict=True))))
        else:
            buckets.append((second, *values))
        return buckets

    def _standing(self, src: IPv4Address) -> tuple[bool, bool]:
        """(inside the ACL, exempt from limits): fixed per source, so looked up once."""
        found = self._standings.get(int(src))
        if found is None:
            found = remember(self._standings, int(src), (
                any(src in net for net in self._acl),
                any(src in net for net in self.config.exempt)), STANDING_MEMO)
        return found

    def _count(self, src: IPv4Address, what: str, count: int = 1) -> None:
        self.counters[what] += count
        self.per_prefix[_prefix_of(int(src) & 0xFFFFFF00)][what] += count


STANDING_MEMO = 65_536
# Counter names by verdict, made once (a query and a response are counted each).
_COUNTED_RESPONSE = {v.value: f"response-{v.value}" for v in ResponseVerdict}


@lru_cache(maxsize=4096)
def _prefix_of(network: int) -> str:
    return f"{IPv4Address(network)}/24"  # runs per query: made once per /24
