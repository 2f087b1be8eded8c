"""DNS answered in the kernel (runtime.dns_fast_path): what it may answer, and its logs.

The routed program (connector/bpf/dns_answer.h) answers a question again when user
space offered the answer (DnsService, by fast_lane's rule): an entry per question,
client and address asked, answering for at most the answer's TTL (and never longer
than LONGEST_S), so that user space answers each question again at least that often
and any change of rules reaches the kernel then. Every DRAIN_EVERY_S the records of
what the kernel answered are drained and replayed as user space's own answers, a
question's all at once (`DnsService.replay_kernel_answers`: the guard's accounting,
the pool's hold on the address, the count, the same log line for each, stamped at
the drain); a replay that says user space would answer otherwise now ends the
entry. Entries past their time are forgotten a little
after (GRACE_S: their last records drained first). Counted: `dns_fast_path_offered`,
`_answered`, `_withdrawn`, `_full` (the map refused an entry), `_unknown` (a record
of an entry no longer known: never expected).

Started after the routed path, whose program it uses; stopped before it, draining
what is left so that no answer goes unlogged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from connector.io.dns_fast_path import DnsAnswers, DnsKey
from connector.io.events import EventLog
from connector.io.routed_fast_path import DNS
from connector.service.counters import Counters
from connector.service.dns_service import DnsService, KernelOffer
from connector.service.routed_path import RoutedPath

DRAIN_EVERY_S = 0.5
SWEEP_EVERY_S = 1.0
LONGEST_S = 60.0
GRACE_S = 3.0
NS_PER_S = 1_000_000_000


class KernelDnsAnswers:
    def __init__(self, dns: DnsService, routed: RoutedPath, counters: Counters,
                 events: EventLog, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.dns, self.routed = dns, routed
        self.counters, self.events = counters, events
        self.clock = clock
        self.answers: DnsAnswers | None = None
        self._tickets: dict[int, tuple[KernelOffer, float]] = {}  # ticket -> offer, until
        self._live: dict[DnsKey, int] = {}  # the ticket each installed question holds
        self._next_ticket = 1
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        fast = self.routed.fast
        if fast is None or not fast.switches & DNS:
            self.counters.add("dns_fast_path_unavailable")
            self.events.emit("dns.fast_path", state="unavailable",
                             reason="the routed program is not attached")
            return
        self.answers = DnsAnswers(fast.program)
        self.dns.kernel_offer = self.offer
        self._task = asyncio.create_task(self._run())
        self.events.emit("dns.fast_path", state="on", interface=fast.interface)

    async def stop(self) -> None:
        self.dns.kernel_offer = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.answers is not None:
            self.drain()
            self.answers.close()
            self.answers = None

    def offer(self, offer: KernelOffer) -> None:
        """Let the kernel give this answer again, unless an entry for the question still
        answers."""
        assert self.answers is not None
        now = self.clock()
        held = self._live.get(offer.key)
        if held is not None and self._tickets[held][1] > now:
            return
        ticket = self._next_ticket
        self._next_ticket = ticket % 0xFFFFFFFF + 1
        until = now + min(float(offer.ttl), LONGEST_S)
        if not self.answers.install(offer.key, offer.addr, offer.ttl, int(until * NS_PER_S),
                                    ticket):
            self.counters.add("dns_fast_path_full")
            return
        self._tickets[ticket] = (offer, until)
        self._live[offer.key] = ticket
        self.counters.add("dns_fast_path_offered")

    def drain(self) -> int:
        """Replay what the kernel answered since the last drain; how many answers."""
        assert self.answers is not None
        per_ticket = self.answers.drain()
        with self.events.batch():
            for ticket, count in per_ticket.items():
                found = self._tickets.get(ticket)
                if found is None:
                    self.counters.add("dns_fast_path_unknown", count)
                elif not self.dns.replay_kernel_answers(found[0], count):
                    self._withdraw(found[0].key, ticket)
        answered = per_ticket.total()
        if answered:
            self.counters.add("dns_fast_path_answered", answered)
        return answered

    def sweep(self) -> int:
        """Forget the entries past their time (and their last records' grace); how many."""
        assert self.answers is not None
        now = self.clock()
        gone = [(offer.key, ticket) for ticket, (offer, until) in self._tickets.items()
                if until + GRACE_S < now]
        for key, ticket in gone:
            del self._tickets[ticket]
            if self._live.get(key) == ticket:
                del self._live[key]
                self.answers.remove(key)
        return len(gone)

    def _withdraw(self, key: DnsKey, ticket: int) -> None:
        """The kernel stops giving this answer; the ticket stays for records in flight."""
        assert self.answers is not None
        if self._live.get(key) == ticket:
            del self._live[key]
            self.answers.remove(key)
            self.counters.add("dns_fast_path_withdrawn")

    async def _run(self) -> None:
        swept = self.clock()
        while True:
            await asyncio.sleep(DRAIN_EVERY_S)
            self.drain()
            if self.clock() - swept >= SWEEP_EVERY_S:
                self.sweep()
                swept = self.clock()
