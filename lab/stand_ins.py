"""Stand-in subnets: where a docker lab's links live on the engine. Pure.

Docker refuses two networks with overlapping subnets, on one engine, whoever owns
them. A lab started by `cclab up` therefore gets a slice of STAND_IN_SPACE of its
own (`free_slice`, chosen by lab.backends.docker_slices) and every link a block of
the link's own size in it (`pack`): docker attaches each address at the same offset
there, and the node agent puts the planned address in place. Two labs with the same
subnets, or the same topology twice, then run side by side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from ipaddress import IPv4Network

from lab.container_layout import STAND_IN_SPACE


def slice_prefix(subnets: Iterable[IPv4Network]) -> int:
    """The prefix length of the smallest block that holds every subnet's size, packed."""
    total = sum(net.num_addresses for net in subnets)
    if total == 0:
        raise ValueError("a lab without links needs no stand-in slice")
    size = 1 << (total - 1).bit_length()
    prefix = 32 - size.bit_length() + 1
    if prefix < STAND_IN_SPACE.prefixlen:
        raise ValueError(f"the links need {total} addresses: more than {STAND_IN_SPACE} holds")
    return prefix


def pack(subnets: Mapping[str, IPv4Network], block: IPv4Network) -> dict[str, IPv4Network]:
    """Each link's stand-in: a block of the link's size inside `block`, the largest
    first (so each lands aligned), ties in the links' order. Raises if they do not fit."""
    order = sorted(subnets, key=lambda name: subnets[name].prefixlen)  # stable: ties keep order
    given: dict[str, IPv4Network] = {}
    start = int(block.network_address)
    for name in order:
        size = subnets[name].num_addresses
        if start + size > int(block.broadcast_address) + 1:
            raise ValueError(f"the links do not fit in {block}")
        given[name] = IPv4Network((start, subnets[name].prefixlen))
        start += size
    return {name: given[name] for name in subnets}


def free_slice(prefix: int, taken: Iterable[IPv4Network],
               space: IPv4Network = STAND_IN_SPACE) -> IPv4Network | None:
    """The first block of `prefix` in `space` that overlaps nothing taken (another lab's
    slice, or any network the engine has), or None when the space is full."""
    used = [net for net in taken if net.overlaps(space)]
    return next((block for block in space.subnets(new_prefix=prefix)
                 if not any(block.overlaps(net) for net in used)), None)
