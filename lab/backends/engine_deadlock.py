"""Whether a docker engine's goroutine dump shows libnetwork's lock-order deadlock. Pure.

Docker 20.10 before 20.10.27 (Debian 12 ships 20.10.24) can deadlock when two
containers of one network leave it at once, as a lab's teardown makes them do: one
container's cleanup (`sbLeave` -> `getSvcRecords`) holds the network's lock and
waits for the controller's, while the watch loop (`processEndpointDelete`, for the
other container's endpoint) holds the controller's and waits for the network's
(moby/moby#46661, fixed by moby/libnetwork#2679). The engine still answers `docker
version`, but every call that touches networks or those containers hangs for good,
and only a restart frees it.

`dockerd` writes every goroutine's stack when it gets SIGUSR1. Go marks a goroutine
that has waited a minute or more (`[semacquire, 7 minutes]`), so the deadlock is
called only when both sides have waited that long: a busy engine's brief waits on
the same locks are not mistaken for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"^goroutine (\d+) \[([^\],]+)(?:, (\d+) minutes)?[^\]]*\]:$")
# The two sides, each blocked acquiring a mutex (`semacquire`) inside this frame.
NETWORK_SIDE = "libnetwork.(*network).getSvcRecords"
CONTROLLER_SIDE = "libnetwork.(*controller).processEndpointDelete"
ISSUE = "moby/moby#46661"


@dataclass(frozen=True, slots=True)
class Goroutine:
    number: int
    state: str  # "semacquire", "IO wait", "select", ...
    waited_min: int  # whole minutes Go reports it has waited; 0 under a minute
    frames: tuple[str, ...]  # function lines only, innermost first

    def blocked_in(self, function: str, at_least_min: int) -> bool:
        return (self.state == "semacquire" and self.waited_min >= at_least_min
                and any(function in frame for frame in self.frames))


@dataclass(frozen=True, slots=True)
class Deadlock:
    network_side: int  # goroutine numbers
    controller_side: int
    waited_min: int  # the shorter of the two waits

    def describe(self) -> str:
        return (f"libnetwork's lock-order deadlock ({ISSUE}): goroutine {self.network_side} "
                f"in getSvcRecords and goroutine {self.controller_side} in "
                f"processEndpointDelete have each waited {self.waited_min} minute(s) or more "
                "for the lock the other holds")


def parse_goroutines(dump: str) -> list[Goroutine]:
    """The goroutines of a dump, in its order. Lines that are not a header or a
    function line (file paths, blank lines, the dump's preamble) are skipped."""
    found: list[Goroutine] = []
    header: re.Match[str] | None = None
    frames: list[str] = []
    for line in [*dump.splitlines(), ""]:
        match = _HEADER.match(line)
        if match or not line.strip():
            if header is not None:
                found.append(Goroutine(int(header[1]), header[2], int(header[3] or 0),
                                       tuple(frames)))
            header, frames = match, []
        elif header is not None and not line.startswith(("\t", " ")):
            frames.append(line)
    return found


def libnetwork_deadlock(goroutines: list[Goroutine], at_least_min: int = 1
                        ) -> Deadlock | None:
    """Both sides blocked for `at_least_min` minutes or more, or None."""
    network = [g for g in goroutines if g.blocked_in(NETWORK_SIDE, at_least_min)]
    controller = [g for g in goroutines if g.blocked_in(CONTROLLER_SIDE, at_least_min)]
    if not network or not controller:
        return None
    one, other = network[0], controller[0]
    return Deadlock(one.number, other.number, min(one.waited_min, other.waited_min))
