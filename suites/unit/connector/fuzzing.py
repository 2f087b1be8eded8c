"""A small seeded mutation fuzzer: random bytes and mutated valid inputs, many of them.

Half the inputs are random byte strings, half are valid seeds bent by one to four
mutations (bit flip, byte set to an edge value, truncation, insertion, a slice
duplicated). Seeded, so a failure names the input that caused it and repeats.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

EDGES = (0x00, 0x01, 0x7F, 0x80, 0xFF)


def inputs(seeds: Sequence[bytes], count: int, *, seed: int = 0x5EED,
           max_random: int = 256) -> Iterator[bytes]:
    rng = random.Random(seed)
    for n in range(count):
        if n % 2 == 0 or not seeds:
            yield rng.randbytes(rng.randrange(max_random))
        else:
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 4)):
                _mutate(rng, data)
            yield bytes(data)


def _mutate(rng: random.Random, data: bytearray) -> None:
    if not data:
        data.extend(rng.randbytes(rng.randint(1, 8)))
        return
    at = rng.randrange(len(data))
    op = rng.randrange(5)
    if op == 0:
        data[at] ^= 1 << rng.randrange(8)
    elif op == 1:
        data[at] = rng.choice(EDGES)
    elif op == 2:
        del data[at:]
    elif op == 3:
        data[at:at] = rng.randbytes(rng.randint(1, 16))
    else:
        end = min(len(data), at + rng.randint(1, 16))
        data[at:at] = data[at:end]


def crashes(parse: Callable[[bytes], object], seeds: Sequence[bytes], count: int,
            accepted: tuple[type, ...]) -> tuple[dict[str, int], list[tuple[bytes, str]]]:
    """Run `parse` on `count` inputs: (how many returned each type, the inputs that
    raised or returned something outside `accepted`)."""
    bad: list[tuple[bytes, str]] = []
    kinds: dict[str, int] = {}
    for data in inputs(seeds, count):
        try:
            result = parse(data)
        except Exception as exc:  # the point of the test: nothing may raise
            bad.append((data, f"{type(exc).__name__}: {exc}"))
            continue
        kind = type(result).__name__
        kinds[kind] = kinds.get(kind, 0) + 1
        if not isinstance(result, accepted):
            bad.append((data, f"returned {kind}"))
    return kinds, bad[:5]
