"""Carry out a node's wiring steps in the agent's own network namespace.

Docker has already attached one interface per link with the planned address;
`CreateVeth` therefore means "give the interface that holds this address its
planned name". Sysctls come from the compose file (docker mounts /proc/sys
read-only), so here they are only checked.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Interface
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute

from lab.backends import netns_links as links
from lab.container_layout import STAND_IN_SPACE
from lab.errors import BackendError
from lab.steps import (
    AddAddress,
    AddRoute,
    AddRule,
    CreateVeth,
    LinkUp,
    LoadNftables,
    SetSysctl,
    Step,
    WriteResolvConf,
)

RESOLV_CONF = Path("/etc/resolv.conf")


@contextmanager
def local_netlink() -> Iterator[Any]:
    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def apply(ipr: Any, step: Step, attached: dict[str, IPv4Interface], node: str) -> None:
    match step:
        case CreateVeth():
            rename_holder(ipr, step.ifname, attached[step.ifname], node)
        case AddAddress():
            if not _has_address(ipr, step):
                links.add_address(ipr, step)
        case LinkUp():
            links.link_up(ipr, step)
        case AddRoute():
            links.add_route(ipr, step)
        case AddRule():
            links.add_rule(ipr, step)
        case LoadNftables():
            _nft(step.ruleset, node)
        case SetSysctl():
            check_sysctl(step.key, step.value, node)
        case WriteResolvConf():
            lines = [f"nameserver {server}" for server in step.servers]
            RESOLV_CONF.write_text("# written by the cclab node agent: lab DNS only\n"
                                   + "\n".join(lines) + "\noptions timeout:1 attempts:1\n")


def rename_holder(ipr: Any, ifname: str, address: IPv4Interface, node: str) -> None:
    """Name the interface docker gave `address` as the plan says; drop docker's routes.
    A stand-in address (see `compose.docker_subnets`) is removed: `AddAddress` puts the
    planned one in its place."""
    found = ipr.get_addr(address=str(address.ip))
    if not found:
        raise BackendError(f"no interface holds {address} (docker did not attach the link)",
                           backend="docker", node=node)
    index = found[0]["index"]
    current = ipr.get_links(index)[0].get_attr("IFLA_IFNAME")
    if current != ifname:
        _move_aside(ipr, ifname, node)
        with links.netlink_errors(node, f"rename {current} to {ifname}"):
            ipr.link("set", index=index, state="down")
            ipr.link("set", index=index, ifname=ifname)
    for route in ipr.get_routes(table=254, dst_len=0):
        ipr.route("del", dst="default", gateway=route.get_attr("RTA_GATEWAY"))
    if address.ip in STAND_IN_SPACE:
        with links.netlink_errors(node, f"remove stand-in {address} from {ifname}"):
            ipr.addr("del", index=index, address=str(address.ip),
                     prefixlen=address.network.prefixlen)


def _move_aside(ipr: Any, ifname: str, node: str) -> None:
    """Docker names interfaces in its own order: one may hold the name another needs.
    It gets a temporary name; its own rename finds it by address later."""
    taken = ipr.link_lookup(ifname=ifname)
    if taken:
        with links.netlink_errors(node, f"move {ifname} aside"):
            ipr.link("set", index=taken[0], state="down")
            ipr.link("set", index=taken[0], ifname=f"cctmp{taken[0]}")


def _has_address(ipr: Any, step: AddAddress) -> bool:
    return bool(ipr.get_addr(address=str(step.address.ip)))


def check_sysctl(key: str, value: str, node: str) -> None:
    path = Path("/proc/sys", key.replace(".", "/"))
    try:
        current = path.read_text().strip()
    except OSError as exc:
        raise BackendError(f"sysctl {key}: {exc.strerror}", backend="docker", node=node) from exc
    if current != value:
        raise BackendError(f"sysctl {key} is {current}, the plan wants {value}\n"
                           f"    hint: the compose file sets sysctls; render it again with "
                           f"`cclab render`", backend="docker", node=node)


def _nft(ruleset: str, node: str) -> None:
    done = subprocess.run(["nft", "-f", "-"], input=ruleset, capture_output=True, text=True,
                          check=False, timeout=30)
    if done.returncode != 0:
        raise BackendError(f"nftables failed: {done.stderr.strip()}", backend="docker", node=node)
