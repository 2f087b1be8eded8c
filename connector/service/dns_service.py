"""The DNS listener: every query diverted from the service interface, decided by the core.

Carries out `DnsDecision`s (spec §6.4): synthetic answers from the pools
(persisted before they leave), NODATA for other types of ZPA names, silent
drops, redirects to DNS gateways with failover and failure behaviour, and
queries allowed on to their own destination under the forwarding policy
(Direct: sent from the service address; a query to the vendor global VIP goes
to the configured resolver instead). Answers that pass through teach the
forwarding core address->name bindings (FQDN rules, §5.2).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from functools import lru_cache
from ipaddress import IPv4Address
from typing import Any, NamedTuple, Protocol, assert_never

from connector.config import ConnectorConfig
from connector.core.bindings import LocatedNames, NameBindings, NamesView, names_in
from connector.core.cluster import ClusterMember
from connector.core.dns_guard import DnsGuard, GuardConfig, QueryMeta, QueryVerdict, ResponseVerdict
from connector.core.dns_policy import DnsPolicy, on_gateway_failure, on_pool_exhausted
from connector.core.fast_lane import DnsAsked, kernel_may_answer_dns
from connector.core.ip_pool import Exhausted
from connector.core.memo import remember
from connector.core.model import (
    DnsDecision,
    DnsOutcome,
    DnsQuestion,
    FlowKey,
    GatewayHealth,
    IpProto,
    Method,
    NameLookup,
    Transport,
)
from connector.core.pools import Pools
from connector.core.rrl import ResponseKind
from connector.core.rules import ForwardingPolicy
from connector.io import dns_plain, dns_wire, upstream
from connector.io.dns_fast_path import QUESTION_MAX, DnsKey
from connector.io.events import EventLog
from connector.io.state_store import StateStore


class ZiaDnsPort(Protocol):
    async def query(self, wire: bytes, server: IPv4Address, gateway: str) -> bytes | None: ...


class Query(NamedTuple):  # one per query: a tuple is made in half a dataclass's time
    wire: bytes
    client: tuple[str, int]
    original_dst: tuple[str, int]
    transport: Transport


@dataclass(frozen=True, slots=True)
class Asked:
    """A question's decision, how the guard sees it, and its log line's fixed members."""

    decision: DnsDecision
    meta: QueryMeta
    outcome: str  # the decision's outcome, as counted
    log_members: str
    location: str = ""  # a sub-location's name; "" for the own location


@dataclass(frozen=True, slots=True)
class KernelOffer:
    """An answer user space gave that the kernel may give again (fast_lane's rule): the
    question as the program compares it, the answer's address and TTL, and what a
    replay of the kernel's answer needs (connector/service/dns_kernel_answers.py)."""

    key: DnsKey
    addr: IPv4Address
    ttl: int
    asked: Asked
    size: int  # the answer's bytes
    kind: ResponseKind


ASKED_MEMO = 16_384  # questions remembered (per client and address asked)
FORWARD_GATEWAY, FORWARD_ORIGINAL = DnsOutcome.FORWARD_GATEWAY, DnsOutcome.FORWARD_ORIGINAL
_ANSWERED, _UNANSWERED = ', "answered": true', ', "answered": false'


class DnsService:
    def __init__(self, config: ConnectorConfig, *, pools: Pools, names: NameBindings,
                 health: GatewayHealth, events: EventLog, store: StateStore,
                 zia: ZiaDnsPort | None = None,
                 on_learned: Callable[[IPv4Address, str, int], None] | None = None,
                 on_bound: Callable[[IPv4Address], None] | None = None,
                 cluster: ClusterMember | None = None,
                 located: dict[str, NameBindings] | None = None) -> None:
        """`located`: the sub-locations' names restored from the store (the cluster
        member's table when there is one)."""
        self.config = config
        self.policy = DnsPolicy(config.policy, config.identity)
        # Which way a forwarded query goes; the listener's ACL is DNS's gate (§9.4), so
        # this core does not drop public sources again (the data plane's does, §2.5).
        self.forwarding = ForwardingPolicy(config.policy, config.identity,
                                           trusted_sources=None)
        # Sub-locations (issue 18): each its DNS rules (and so its pools) and forwarding.
        self.located_policies = {
            loc: (DnsPolicy(config.policy, replace(config.identity, location=loc)),
                  ForwardingPolicy(config.policy, replace(config.identity, location=loc),
                                   trusted_sources=None))
            for loc in sorted(set(dict(config.dataplane.geneve_locations).values()))}
        self.pools, self.names, self.health = pools, names, health
        self.events, self.store = events, store
        self.on_learned = on_learned  # the kernel's name sets
        self.on_bound = on_bound  # the kernel's live synthetic addresses
        self.cluster = cluster  # learned names shared with the other members (F9)
        # names learned in sub-locations (issue 18), shared with the cluster member's
        self.located: dict[str, NameBindings] = (
            cluster.located if cluster is not None else {} if located is None else located)
        # where a query came from (the data plane knows its flow); "" = the own location
        self.location_of: Callable[[FlowKey], str] = lambda _key: ""
        self.service_ip = config.service.address.ip
        self.counters: dict[str, int] = {}
        self.zia = zia  # queries a ZIA rule sends through a tunnel (ZIA DNS control)
        self.guard = DnsGuard(GuardConfig(workloads=config.dns_acl, exempt=config.dns_exempt))
        self._known: dict[tuple[bytes, str, str, bool, str], Asked] = {}
        # answers the kernel may give again (runtime.dns_fast_path), while it is on
        self.kernel_offer: Callable[[KernelOffer], None] | None = None

    async def answer(self, query: Query) -> bytes | None:
        """The bytes to send back to the client, or None for no response at all."""
        now = self.answer_now(query)
        return await now if isinstance(now, Coroutine) else now

    def answer_now(self, query: Query) -> bytes | None | Coroutine[Any, Any, bytes | None]:
        """The answer when it needs no waiting (every local decision), else a coroutine
        that forwards the query and returns the answer (gateways, upstream, ZIA)."""
        plain = dns_plain.parse_plain(query.wire)
        parsed = None if plain is not None else self._parse_full(query)
        if plain is not None:
            asked = self._asked_plain(plain, query)
            payload = plain.udp_payload
        elif parsed is not None:
            asked = self._asked(parsed.question, query, self._location_if_any(query))
            payload = parsed.udp_payload
        else:
            self._count("malformed")
            return None
        admitted = self.guard.check_query(asked.meta, time.time())
        if admitted is not QueryVerdict.ACCEPT:
            return self._refused(admitted, parsed or self._parse_full(query))
        decision = asked.decision
        if decision.outcome is FORWARD_GATEWAY or decision.outcome is FORWARD_ORIGINAL:
            return self._answer_later(asked, payload, parsed or self._parse_full(query), query)
        if decision.outcome is DnsOutcome.ANSWER_SYNTHETIC and plain is not None:
            response = self._synthetic(decision, plain, query)
            if self.kernel_offer is not None and response is not None:
                self._offer_to_kernel(asked, plain, query, response)
        else:
            response = self._local(decision, parsed or self._parse_full(query), query)
        return self._finish(asked, payload, response)

    def _asked_plain(self, plain: dns_plain.PlainQuery, query: Query) -> Asked:
        """What a plain question decides, remembered per question, client and address
        asked (the policy's decision depends on nothing else)."""
        location = self._location_if_any(query)
        key = (plain.shape.question, query.client[0], query.original_dst[0],
               query.transport is Transport.TCP, location)  # not the Enum: its hash is slow
        asked = self._known.get(key)
        if asked is None:
            src, dst = _address(query.client[0]), _address(query.original_dst[0])
            question = DnsQuestion(plain.qname, plain.qtype, src, dst, query.transport)
            asked = remember(self._known, key, self._asked(question, query, location),
                             ASKED_MEMO)
        return asked

    def _offer_to_kernel(self, asked: Asked, plain: dns_plain.PlainQuery, query: Query,
                         response: bytes) -> None:
        """Offer this answer to the kernel, to give again, when fast_lane allows it."""
        assert self.kernel_offer is not None
        addr = dns_plain.answered_address(response)
        shape = plain.shape
        if addr is None or not kernel_may_answer_dns(DnsAsked(
                synthetic=True, udp=query.transport is Transport.UDP, edns=shape.edns,
                question_len=len(shape.question), sub_location=bool(asked.location),
                exempt=self.guard.exempt(asked.meta.src), ttl=self.config.dns_ttl),
                QUESTION_MAX):
            return
        key = DnsKey(asked.meta.src, _address(query.original_dst[0]), shape.question)
        self.kernel_offer(KernelOffer(key, addr, self.config.dns_ttl, asked, len(response),
                                      dns_wire.response_kind(response)))

    def replay_kernel_answers(self, offer: KernelOffer, count: int) -> bool:
        """What user space does for its own answer, done for `count` answers the kernel
        gave again since the last drain: the guard's accounting, the pool's hold on the
        address, the count and the log line (the same line, `count` times, stamped now).
        False if user space would not give that answer now (the name's address moved, the
        source is no longer exempt): the kernel must stop giving it."""
        now = time.time()
        asked = offer.asked
        verdicts = self.guard.check_exempt(asked.meta, offer.kind, offer.size,
                                           dns_plain.PLAIN_PAYLOAD, count, now)
        exempt = verdicts is not None
        for _ in range(0 if exempt else count):  # judged one by one, as user space judges
            verdicts = (self.guard.check_query(asked.meta, now), self.guard.check_response(
                asked.meta, offer.kind, offer.size, dns_plain.PLAIN_PAYLOAD, now))
        result = self.pools.allocate(asked.decision.pool or "default", asked.decision.qname,
                                     now)
        if not isinstance(result, Exhausted) and result.fresh:
            self.store.save_binding(result.pool, result.name, result.addr, now)
            if self.on_bound is not None:
                self.on_bound(result.addr)
        self.counters[asked.outcome] = self.counters.get(asked.outcome, 0) + count
        self.events.emit_members("dns.query", asked.log_members + _ANSWERED, count)
        return (exempt and verdicts == (QueryVerdict.ACCEPT, ResponseVerdict.SEND)
                and not isinstance(result, Exhausted) and result.addr == offer.addr)

    def _location_if_any(self, query: Query) -> str:
        """The query's sub-location, asked only when there are sub-locations."""
        return self._location(query) if self.located_policies else ""

    def _asked(self, question: DnsQuestion, query: Query, location: str = "") -> Asked:
        policy = self.located_policies[location][0] if location else self.policy
        decision = policy.decide(question)
        meta = QueryMeta(question.src, question.transport, question.qtype,
                         question.qname.lower())
        fields = {"src": query.client[0], "dst": query.original_dst[0],
                  "location": location or self.config.identity.location,
                  "transport": question.transport.value, "qname": decision.qname,
                  "qtype": question.qtype, "rule": decision.rule_name,
                  "action": decision.action.value, "outcome": decision.outcome.value,
                  "pool": decision.pool, "segment": decision.app_segment}
        return Asked(decision, meta, decision.outcome.value, EventLog.members(fields),
                     location)

    async def _answer_later(self, asked: Asked, payload: int,
                            parsed: dns_wire.ParsedQuery | None, query: Query) -> bytes | None:
        assert parsed is not None  # the plain parse succeeded, so the full one does
        if asked.decision.outcome is DnsOutcome.FORWARD_GATEWAY:
            response = await self._via_gateway(asked.decision, parsed, query)
        else:
            response = await self._forward_original(parsed, query)
        return self._finish(asked, payload, response)

    def _finish(self, asked: Asked, payload: int, response: bytes | None) -> bytes | None:
        self._count(asked.outcome)
        self.events.emit_members("dns.query", asked.log_members + (
            _ANSWERED if response is not None else _UNANSWERED))
        return None if response is None else self._rate_limited(asked.meta, response, payload)

    @staticmethod
    def _parse_full(query: Query) -> dns_wire.ParsedQuery | None:
        return dns_wire.parse_query(query.wire, _address(query.client[0]),
                                    _address(query.original_dst[0]), query.transport)

    def _refused(self, verdict: QueryVerdict, parsed: dns_wire.ParsedQuery | None
                 ) -> bytes | None:
        self._count(f"guard_{verdict.value}")
        if parsed is None:
            return None
        if verdict is QueryVerdict.REFUSED:
            return dns_wire.error_answer(parsed, dns_wire.REFUSED).to_wire()
        if verdict is QueryVerdict.MINIMAL_ANY:
            return dns_wire.minimal_any_answer(parsed, self.config.dns_ttl).to_wire()
        return None

    def _rate_limited(self, meta: QueryMeta, wire: bytes, payload: int) -> bytes | None:
        kind = dns_wire.response_kind(wire)
        verdict = self.guard.check_response(meta, kind, len(wire), payload, time.time())
        if verdict is ResponseVerdict.DROP:
            self._count("rrl_dropped")
            return None
        if verdict is ResponseVerdict.SLIP:
            self._count("rrl_slipped")
            return dns_wire.truncated(wire)
        return dns_wire.to_wire_bytes(wire, meta.transport, payload)

    def _local(self, decision: DnsDecision, parsed: dns_wire.ParsedQuery | None,
               query: Query) -> bytes | None:
        """Every outcome decided here and now: drop, synthetic, NODATA, SERVFAIL."""
        assert parsed is not None  # the plain parse succeeded, so the full one does
        match decision.outcome:
            case DnsOutcome.DROP_SILENT:
                return None
            case DnsOutcome.ANSWER_SYNTHETIC:
                return self._synthetic(decision, parsed, query)
            case DnsOutcome.ANSWER_NODATA:
                return dns_wire.nodata_answer(parsed, self.config.dns_ttl).to_wire()
            case DnsOutcome.ANSWER_SERVFAIL:
                return dns_wire.error_answer(parsed, dns_wire.SERVFAIL).to_wire()
            case DnsOutcome.FORWARD_ORIGINAL | DnsOutcome.FORWARD_GATEWAY:
                raise AssertionError("a forwarded outcome is answered later, never here")
            case _:
                assert_never(decision.outcome)

    def _synthetic(self, decision: DnsDecision,
                   asked: dns_plain.PlainQuery | dns_wire.ParsedQuery,
                   query: Query) -> bytes | None:
        now = time.time()
        result = self.pools.allocate(decision.pool or "default", decision.qname, now)
        if isinstance(result, Exhausted):
            self._count("pool_exhausted")
            self.events.emit("pool.exhausted", pool=result.pool, qname=result.name,
                             reason=result.reason)
            failed = on_pool_exhausted(decision)
            assert failed.outcome is DnsOutcome.ANSWER_SERVFAIL
            parsed = asked if isinstance(asked, dns_wire.ParsedQuery) else self._parse_full(
                query)
            assert parsed is not None  # the plain parse succeeded, so the full one does
            return dns_wire.error_answer(parsed, dns_wire.SERVFAIL).to_wire()
        if result.fresh:
            self.store.save_binding(result.pool, result.name, result.addr, now)
            if self.on_bound is not None:
                self.on_bound(result.addr)
        if isinstance(asked, dns_plain.PlainQuery):
            return dns_plain.synthetic_a(asked, result.addr, self.config.dns_ttl)
        return dns_wire.synthetic_answer(asked, result.addr, self.config.dns_ttl).to_wire()

    async def _via_gateway(self, decision: DnsDecision, parsed: dns_wire.ParsedQuery,
                           query: Query) -> bytes | None:
        gateway = decision.gateway
        assert gateway is not None
        tcp = query.transport is Transport.TCP
        for server in filter(None, (gateway.primary, gateway.secondary)):
            try:
                return self._learn(await upstream.query(query.wire, server, self.service_ip,
                                                        tcp=tcp), query)
            except upstream.UpstreamTimeout:
                self._count("gateway_timeout")
        failed = on_gateway_failure(decision)
        if failed.outcome is DnsOutcome.FORWARD_ORIGINAL:
            return await self._forward_original(parsed, query)
        return dns_wire.error_answer(parsed, dns_wire.SERVFAIL).to_wire()

    async def _forward_original(self, parsed: dns_wire.ParsedQuery, query: Query
                                ) -> bytes | None:
        proto = IpProto.TCP if query.transport is Transport.TCP else IpProto.UDP
        dst = IPv4Address(query.original_dst[0])
        flow = FlowKey(proto, IPv4Address(query.client[0]), dst, query.client[1],
                       query.original_dst[1])
        location = self._location_if_any(query)
        if location:
            forwarding = self.located_policies[location][1]
            synthetic = self.cluster.pools if self.cluster is not None else self.pools
            names: NameLookup = NamesView(LocatedNames(self.located, location), synthetic)
        else:
            forwarding, names = self.forwarding, NamesView(self.names, self.pools)
        verdict = forwarding.decide(flow, names, self.pools, self.health)
        # Addressed to the connector itself (a workload's configured resolver) or to
        # the global VIP: the configured upstream resolves it, never the address asked.
        to_us = dst in self.config.global_vips or dst == self.service_ip
        server = self.config.upstream_dns[0] if to_us and self.config.upstream_dns else dst
        match verdict.method:
            case Method.DIRECT:
                return await self._direct(query, server, proto == IpProto.TCP)
            case Method.ZIA if self.zia is not None and verdict.gateway:
                self._count("forward_zia")
                answer = await self.zia.query(query.wire, server, verdict.gateway)
                return self._learn(answer, query) if answer is not None else None
            case Method.ZIA | Method.DROP | Method.ZPA | Method.LOCAL:
                # Drop, ZIA with no tunnel here, or a path a query cannot take (ZPA, Local)
                self._count(f"forward_{verdict.method.value.lower()}")
                return None
            case _:
                assert_never(verdict.method)

    async def _direct(self, query: Query, server: IPv4Address, tcp: bool) -> bytes | None:
        """Direct: asked of `server` from the service address (§6.4: SNAT to it)."""
        try:
            return self._learn(await upstream.query(query.wire, server, self.service_ip,
                                                    tcp=tcp), query)
        except upstream.UpstreamTimeout:
            self._count("upstream_timeout")
            return None

    def _learn(self, wire: bytes, query: Query | None = None) -> bytes:
        """Teach the forwarding core the answer's address->name bindings; the answer
        itself passes unchanged (responses are not policed, §6.4, check D10).
        A query from a sub-location teaches that location only (issue 18)."""
        now = time.time()
        location = self._location(query) if query is not None else ""
        if location:
            table = names_in(self.located, location)
            for name, addr, ttl in dns_wire.a_records(wire):
                expires = now + ttl + table.grace_s
                table.learn(addr, name, ttl, now)
                self.store.save_located(location, addr, name, expires)
                if self.cluster is not None:
                    self.cluster.learned(addr, name, expires, now, location)
            return wire
        for name, addr, ttl in dns_wire.a_records(wire):
            expires = now + ttl + self.names.grace_s
            self.names.learn(addr, name, ttl, now)
            self.store.save_learned(addr, name, expires)
            if self.cluster is not None:
                self.cluster.learned(addr, name, expires, now)
            if self.on_learned is not None:
                self.on_learned(addr, name, ttl)
        return wire

    def _location(self, query: Query) -> str:
        proto = IpProto.TCP if query.transport is Transport.TCP else IpProto.UDP
        return self.location_of(FlowKey(proto, IPv4Address(query.client[0]),
                                        IPv4Address(query.original_dst[0]), query.client[1],
                                        query.original_dst[1]))

    def _count(self, what: str) -> None:
        self.counters[what] = self.counters.get(what, 0) + 1


@lru_cache(maxsize=4096)
def _address(text: str) -> IPv4Address:
    """Parsed once per client: the same few workloads ask again and again."""
    return IPv4Address(text)
