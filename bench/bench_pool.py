"""Synthetic pool figures: allocations per second, bytes per binding (tracemalloc)."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from ipaddress import IPv4Network

from connector.core.ip_pool import Allocated, SyntheticPool

BINDINGS = 8000  # the default /19 holds 8,190


def _names(count: int, tag: str) -> list[str]:
    return [f"app-{i:05d}-{tag}.corp.example" for i in range(count)]


def allocations_per_second(batches: int = 5) -> float:
    rates = []
    for b in range(batches):
        pool = SyntheticPool("default", IPv4Network("10.254.0.0/19"))
        names = _names(BINDINGS, str(b))
        started = time.perf_counter()
        for name in names:
            pool.allocate(name, 0.0)
        rates.append(BINDINGS / (time.perf_counter() - started))
    return round(statistics.median(rates))


def bytes_per_binding() -> float:
    names = _names(BINDINGS, "m")  # the names exist before: the DNS query carried them
    tracemalloc.start()
    pool = SyntheticPool("default", IPv4Network("10.254.0.0/19"))
    before = tracemalloc.get_traced_memory()[0]
    for name in names:
        assert isinstance(pool.allocate(name, 0.0), Allocated)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return round((after - before) / BINDINGS, 1)


def pool_figures() -> dict[str, object]:
    return {"bindings": BINDINGS, "allocations_per_s": allocations_per_second(),
            "bytes_per_binding": bytes_per_binding(),
            "note": "names are normalised copies kept by the pool; bytes include them"}
