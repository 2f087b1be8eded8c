"""The routed program's DNS answers: the questions it may answer, and what it answered.

`connector/bpf/dns_answer.h`, part of `routed_direct.o`, answers a plain query
whose client, address asked and exact question section match an entry of
`dns_answers` (written here, `install`) until the entry's time, with the entry's
address and TTL, and puts a record in the ring `dns_log` for each answer: the
entry's ticket (`drain` counts them per ticket). `answers` reads how many it gave
for an entry; `remove` ends one.

I/O only, through `tcbpf`, on the program connector/io/routed_fast_path.py attached.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass
from ipaddress import IPv4Address

from tcbpf import TcProgram

MAP, RING = "dns_answers", "dns_log"
RING_BYTES = 1 << 22  # dns_answer.h: dns_log's max_entries
QUESTION_MAX = 128  # dns_answer.h QUESTION_MAX: longer questions stay user space's
# addresses in network order, as the packet has them; the question's length host order
_KEY = struct.Struct(f"=4s4sHH{QUESTION_MAX}s")
# address and TTL in network order; until (CLOCK_MONOTONIC ns), answers, ticket
_VALUE = struct.Struct("=4s4sQQII")


@dataclass(frozen=True, slots=True)
class DnsKey:
    """A question as the program compares it: who asked, which address, its bytes."""

    client: IPv4Address
    dst: IPv4Address
    question: bytes  # the question section exactly as sent

    def packed(self) -> bytes:
        return _KEY.pack(self.client.packed, self.dst.packed, len(self.question), 0,
                         self.question)


class DnsAnswers:
    """The program's DNS entries and the reader of its answers' records."""

    def __init__(self, program: TcProgram) -> None:
        self._program = program
        self._fd = program.map_fd(MAP)
        self._ring = program.ring(RING, RING_BYTES)

    def install(self, key: DnsKey, addr: IPv4Address, ttl: int, until_ns: int,
                ticket: int) -> bool:
        """Answer `key` with `addr` and `ttl` until `until_ns` (time.monotonic_ns), each
        answer recorded with `ticket`; False if the map refused it."""
        return self._program.update(self._fd, key.packed(), _VALUE.pack(
            addr.packed, ttl.to_bytes(4, "big"), until_ns, 0, ticket, 0))

    def remove(self, key: DnsKey) -> None:
        self._program.delete(self._fd, key.packed())

    def answers(self, key: DnsKey) -> int | None:
        """How many answers the entry gave since written; None without the entry."""
        value = self._program.lookup(self._fd, key.packed(), _VALUE.size)
        return None if value is None else int(_VALUE.unpack(value)[3])

    def drain(self) -> Counter[int]:
        """How many answers each entry (by its ticket) gave since the last drain."""
        return Counter(self._ring.drain_words())  # a record: the entry's ticket

    def close(self) -> None:
        """Stop reading the ring; before the program is detached."""
        self._ring.close()
