"""Which slice of STAND_IN_SPACE a docker lab owns: reserved at `cclab up`, kept in the
lab's run folder, given back when `destroy` removes that folder.

Under one lock (lab.backends.run_reservation), a lab takes the first
free block its links need (lab.stand_ins): free means no other lab's reservation
and no network of the engine (whoever made it) overlaps it. The lock is held from
reading what is taken until the reservation is written, so two labs starting at
once never pick the same block; the engine's networks are read too, so a lab left
behind without its run folder, or a network made by hand, is stepped around.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network, ip_network

from lab import stand_ins
from lab.backends import engine_calls
from lab.backends.run_reservation import RunReservation
from lab.container_layout import STAND_IN_SPACE
from lab.errors import BackendError
from lab.model import Topology

SLICES: RunReservation[IPv4Network] = RunReservation("stand-in", IPv4Network, str)


def reserve(instance: str, topo: Topology) -> IPv4Network:
    """The lab's slice: the one it already holds, else a free one, now reserved."""
    held = reserved(instance)
    if held is not None:
        return held
    prefix = stand_ins.slice_prefix(net.subnet for net in topo.networks)

    def first_free(others: list[IPv4Network]) -> IPv4Network:
        taken = [*others, *engine_subnets()]
        chosen = stand_ins.free_slice(prefix, taken)
        if chosen is None:
            raise BackendError(f"no free /{prefix} left in {STAND_IN_SPACE} for "
                               f"lab '{instance}': {len(taken)} networks and slices are taken\n"
                               "    hint: `cclab status` lists the labs; `cclab down --name "
                               "LAB` removes one", backend="docker")
        return chosen

    return SLICES.take(instance, first_free)


def reserved(instance: str) -> IPv4Network | None:
    """The slice `instance` holds, or None (not a `cclab up` lab, or not up)."""
    return SLICES.held(instance)


def engine_subnets() -> list[IPv4Network]:
    """Every IPv4 subnet of every network the engine has."""
    ids = _docker(["network", "ls", "-q"]).split()
    if not ids:
        return []
    out = _docker(["network", "inspect", "-f", "{{json .IPAM.Config}}", *ids], tolerant=True)
    subnets = []
    for line in out.splitlines():
        for config in json.loads(line or "null") or []:
            net = ip_network(config.get("Subnet") or "::/128", strict=False)
            if isinstance(net, IPv4Network):
                subnets.append(net)
    return subnets


def _docker(argv: list[str], *, tolerant: bool = False) -> str:
    """stdout of `docker ARGV`; `tolerant`: a network removed meanwhile is no error (the
    others are still listed)."""
    done = engine_calls.docker(argv)
    gone = "No such network" in done.stderr or "not found" in done.stderr
    if done.returncode != 0 and not (tolerant and gone):
        raise BackendError(f"docker {' '.join(argv[:2])}: {done.stderr.strip()}",
                           backend="docker")
    return done.stdout
