"""Namespaces, links, addresses, routes and rules, through pyroute2.

Each function does one netlink job in one namespace and maps pyroute2's errors
to `BackendError`, naming the namespace and what was attempted.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2 import NetNS, netns
from pyroute2.netlink.exceptions import NetlinkError

from lab.errors import BackendError
from lab.steps import AddAddress, AddRoute, AddRule, CreateBridge, CreateVeth, LinkUp

IFA_F_NODAD = 0x02  # linux/if_addr.h: no duplicate address detection


@functools.cache
def libc() -> ctypes.CDLL:
    """The C library, loaded once and handed to pyroute2: left to find it itself, every
    namespace's create and handle forks a child that runs `ldconfig -p` (46 a cloud
    topology's bring-up, each a process spawned from Python)."""
    return ctypes.CDLL("libc.so.6", use_errno=True)


@contextmanager
def netlink_errors(ns: str, what: str) -> Iterator[None]:
    try:
        yield
    except NetlinkError as exc:
        raise BackendError(f"{what}: {exc.args[-1] if exc.args else exc}",
                           backend="netns", node=ns) from exc
    except OSError as exc:
        raise BackendError(f"{what}: {exc.strerror or exc}", backend="netns", node=ns) from exc


class Namespaces:
    """Open NetNS handles, one per namespace, closed together."""

    def __init__(self) -> None:
        self._open: dict[str, Any] = {}

    def __call__(self, ns: str) -> Any:
        if ns not in self._open:
            with netlink_errors(ns, "open namespace"):
                self._open[ns] = NetNS(ns, libc=libc())
        return self._open[ns]

    def close(self) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()


def create_namespace(ns: str) -> None:
    with netlink_errors(ns, "create namespace"):
        netns.create(ns, libc=libc())


def remove_namespace(ns: str) -> None:
    try:
        netns.remove(ns, libc=libc())
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.EINVAL):
            raise BackendError(f"remove namespace: {exc}", backend="netns", node=ns) from exc


def list_namespaces() -> list[str]:
    return sorted(netns.listnetns())


def index_of(ipr: Any, ns: str, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise BackendError(f"no interface '{ifname}'", backend="netns", node=ns)
    return int(found[0])


def create_bridge(ipr: Any, step: CreateBridge) -> None:
    with netlink_errors(step.ns, f"bridge {step.name}"):
        ipr.link("add", ifname=step.name, kind="bridge")


def create_veth(spaces: Namespaces, step: CreateVeth) -> None:
    ipr = spaces(step.ns)
    with netlink_errors(step.ns, f"veth {step.ifname}"):
        ipr.link("add", ifname=step.ifname, kind="veth",
                 peer={"ifname": step.peer, "net_ns_fd": step.peer_ns})
    sw = spaces(step.peer_ns)
    with netlink_errors(step.peer_ns, f"attach {step.peer} to {step.bridge}"):
        sw.link("set", index=index_of(sw, step.peer_ns, step.peer),
                master=index_of(sw, step.peer_ns, step.bridge), state="up")


def add_address(ipr: Any, step: AddAddress) -> None:
    with netlink_errors(step.ns, f"address {step.address} on {step.ifname}"):
        extra: dict[str, Any] = {}
        if step.address.version == 6:
            extra = {"family": socket.AF_INET6, "flags": IFA_F_NODAD}
        ipr.addr("add", index=index_of(ipr, step.ns, step.ifname),
                 address=str(step.address.ip), prefixlen=step.address.network.prefixlen, **extra)


def link_up(ipr: Any, step: LinkUp) -> None:
    with netlink_errors(step.ns, f"set {step.ifname} up"):
        ipr.link("set", index=index_of(ipr, step.ns, step.ifname), state="up")


def add_route(ipr: Any, step: AddRoute) -> None:
    family = socket.AF_INET6 if step.to.version == 6 else socket.AF_INET
    dst = "default" if step.to.prefixlen == 0 and step.to.version == 4 else str(step.to)
    with netlink_errors(step.ns, f"route {step.to} via {step.via}"):
        ipr.route("add", dst=dst, gateway=str(step.via), table=step.table, family=family)


def add_rule(ipr: Any, step: AddRule) -> None:
    args: dict[str, Any] = {"table": step.table, "priority": step.priority,
                            "family": socket.AF_INET6 if step.family == 6 else socket.AF_INET}
    if step.source is not None:
        args.update(src=str(step.source.network_address), src_len=step.source.prefixlen)
    if step.suppress_prefixlength is not None:
        args["suppress_prefixlen"] = step.suppress_prefixlength  # pyroute2's NLA name
    with netlink_errors(step.ns, f"rule {step.priority}"):
        ipr.rule("add", **args)
    _check_rule(ipr, step)


def _check_rule(ipr: Any, step: AddRule) -> None:
    """pyroute2 ignores keyword arguments it does not know; read the rule back."""
    family = socket.AF_INET6 if step.family == 6 else socket.AF_INET
    for rule in ipr.get_rules(family=family, priority=step.priority):
        suppress = rule.get("FRA_SUPPRESS_PREFIXLEN")
        wanted = step.suppress_prefixlength
        if wanted is None or suppress == wanted:
            return
    raise BackendError(f"rule {step.priority} was not created as planned: {step.describe()}",
                       backend="netns", node=step.ns)
