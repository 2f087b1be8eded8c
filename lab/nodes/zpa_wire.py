"""The lab's ZPA tunnel protocol, as the fake broker and app connectors speak it.

Every ZPA connection is TLS to the broker (port 443). Its first line, from the
dialling side, is one JSON object (a *hello*, at most 4 KiB, ending in a
newline); the broker answers with one line too. What follows depends on the role:

- ``{"role": "user", "app": NAME, "port": P, ...}`` from a cloud connector: the
  broker finds the app connector serving NAME, and once that one has reached
  the app, answers ``{"ok": true, "address": ...}``; the bytes after that are
  the user's TCP stream, spliced to the app.
- ``{"role": "app-connector", "name": ..., "domains": [...]}``: registers; the
  connection stays open, and the broker sends ``{"open": STREAM, "app": ..., "port": ...}``
  lines on it.
- ``{"role": "data", "stream": STREAM, "ok": ..., "address": ...}`` from an app
  connector: the app side of one stream, dialled back after it reached the app.

The connector's side of the same format lives in `connector/io/zpa_frame.py`, and
its own copy loop in `connector/service/zpa_proxy.py`: the fake cloud shares no code
with the connector it tests, so the two implementations check each other.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

MAX_LINE = 4096
HELLO_TIMEOUT_S = 5.0


class FrameError(Exception):
    """The peer sent something that is not one JSON object line."""


async def read_frame(reader: asyncio.StreamReader, timeout: float = HELLO_TIMEOUT_S
                     ) -> dict[str, Any]:
    try:
        line = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
        raise FrameError(f"no hello line: {type(exc).__name__}") from exc
    if len(line) > MAX_LINE:
        raise FrameError(f"hello of {len(line)} bytes (at most {MAX_LINE})")
    try:
        frame = json.loads(line)
    except ValueError as exc:
        raise FrameError("hello is not JSON") from exc
    if not isinstance(frame, dict):
        raise FrameError("hello is not a JSON object")
    return frame


def frame_bytes(frame: dict[str, Any]) -> bytes:
    return json.dumps(frame, sort_keys=True).encode() + b"\n"


async def splice(a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 b: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> tuple[int, int]:
    """Copy both ways until both ends are done; bytes (a->b, b->a).

    An end is passed on as a half-close where the transport has one (TCP) and as
    a close where it has not (TLS), so the far side always learns of it.
    """
    results = await asyncio.gather(_pump(a[0], b[1]), _pump(b[0], a[1]))
    for writer in (a[1], b[1]):
        writer.close()
    return results[0], results[1]


async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> int:
    moved = 0
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
            moved += len(data)
    except (OSError, asyncio.IncompleteReadError):
        pass
    try:
        if dst.can_write_eof():
            dst.write_eof()
        else:
            dst.close()
    except OSError:
        pass
    return moved
