"""Response-rate limiting per client prefix, as BIND's `rate-limit` accounts it (spec §9.1).

Each (prefix, kind, name) account earns `rate` credits per second, holds at most
`rate` (one second of burst) and at least `-rate x window` (debt older than
the window is forgiven). Every response costs one credit; a response sent while
the account is below zero is rate-limited: every `slip`-th limited response is
sent truncated (TC=1, so a real client retries over TCP) and the others are
dropped; slip 0 never slips, slip 1 always does. A per-prefix `all` account
caps every kind and name together. As in BIND, answers are accounted per
identical response (the query name), so many workloads in one /24 asking
different names do not share one budget. Accounts live in an LRU table of bounded size.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Address


class ResponseKind(Enum):
    ANSWER = "answer"
    ERROR = "error"
    NXDOMAIN = "nxdomain"


class RateVerdict(Enum):
    SEND = "send"
    DROP = "drop"
    SLIP = "slip"


@dataclass(frozen=True, slots=True)
class RrlConfig:
    responses_per_second: float = 20
    errors_per_second: float = 20
    nxdomains_per_second: float = 20
    all_per_second: float = 200
    window_s: float = 15
    slip: int = 2
    prefix_len: int = 24
    table_size: int = 20_000

    def rate_of(self, kind: ResponseKind) -> float:
        return {ResponseKind.ANSWER: self.responses_per_second,
                ResponseKind.ERROR: self.errors_per_second,
                ResponseKind.NXDOMAIN: self.nxdomains_per_second}[kind]


class _Account:
    __slots__ = ("balance", "at", "limited")

    def __init__(self, rate: float, now: float) -> None:
        self.balance, self.at, self.limited = rate, now, 0

    def spend(self, rate: float, window: float, now: float) -> bool:
        """Pay one credit; True if the account was in credit (not limited)."""
        self.balance = min(rate, self.balance + (now - self.at) * rate)
        self.at = now
        self.balance = max(self.balance - 1, -rate * window)
        return self.balance >= 0


class ResponseRateLimiter:
    def __init__(self, config: RrlConfig | None = None) -> None:
        self.config = config or RrlConfig()
        self._accounts: OrderedDict[tuple[int, str], _Account] = OrderedDict()

    def check(self, client: IPv4Address, kind: ResponseKind, now: float,
              name: str = "") -> RateVerdict:
        prefix = int(client) >> (32 - self.config.prefix_len)
        c = self.config
        key = f"{kind.value}:{name}"
        kind_ok = self._account(prefix, key, c.rate_of(kind), now).spend(
            c.rate_of(kind), c.window_s, now)
        all_ok = self._account(prefix, "all", c.all_per_second, now).spend(
            c.all_per_second, c.window_s, now)
        if kind_ok and all_ok:
            return RateVerdict.SEND
        account = self._accounts[(prefix, key)]
        account.limited += 1
        if c.slip and account.limited % c.slip == 0:
            return RateVerdict.SLIP
        return RateVerdict.DROP

    def __len__(self) -> int:
        return len(self._accounts)

    def _account(self, prefix: int, kind: str, rate: float, now: float) -> _Account:
        key = (prefix, kind)
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = _Account(rate, now)
            while len(self._accounts) > self.config.table_size:
                self._accounts.popitem(last=False)
        else:
            self._accounts.move_to_end(key)
        return account
