"""Carry out a node's wiring steps in the agent's own network namespace.

On docker's networks (a compose file started by hand) docker has already attached
one interface per link with the planned address; `CreateVeth` therefore means
"give the interface that holds this address its planned name". In a lab `cclab up`
started, the host makes each interface under its planned name, after the container
starts (lab.backends.docker_wiring); `CreateVeth` then means "wait until it is
here". Sysctls come from the compose file (docker mounts /proc/sys
read-only), so here they are only checked. Netlink is iproute2's `ip`
(`iproute.py`): consecutive address, link, route and rule steps go in one batch.
"""

from __future__ import annotations

import socket
import subprocess
import time
from ipaddress import IPv4Interface
from pathlib import Path

from lab.container_layout import STAND_IN_SPACE
from lab.errors import BackendError
from lab.node_agent.iproute import Batched, Ip, IpLine, line_of
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
# The host wires a lab's containers once all have started: under load, many seconds after
# the first. The host gives up on the agents after 120 s (backends/docker.py).
WIRED_WAIT_S, WIRED_POLL_S = 100.0, 0.02


class Wiring:
    """One node's steps, in order. Batched steps wait in `pending` until a step of
    another kind (or another family) comes, or `finish`."""

    def __init__(self, node: str, attached: dict[str, IPv4Interface],
                 ip: Ip | None = None, *, wired_by_host: bool = False) -> None:
        self.node, self.attached, self.wired_by_host = node, attached, wired_by_host
        self.ip = ip or Ip(node)
        self.pending: list[tuple[Batched, IpLine]] = []
        self._addresses: set[str] | None = None  # read when an AddAddress first asks

    def apply(self, step: Step) -> None:
        if isinstance(step, AddAddress | LinkUp | AddRoute | AddRule):
            self._queue(step)
            return
        self.finish()
        match step:
            case CreateVeth() if self.wired_by_host:
                wait_for_link(step.ifname, self.node)
            case CreateVeth():
                rename_holder(self.ip, step.ifname, self.attached[step.ifname])
                self._addresses = None
            case LoadNftables():
                _nft(step.ruleset, self.node)
            case SetSysctl():
                check_sysctl(step.key, step.value, self.node)
            case WriteResolvConf():
                lines = [f"nameserver {server}" for server in step.servers]
                RESOLV_CONF.write_text("# written by the cclab node agent: lab DNS only\n"
                                       + "\n".join(lines) + "\noptions timeout:1 attempts:1\n")

    def finish(self) -> None:
        batch, self.pending = self.pending, []
        self.ip.batch(batch)

    def _queue(self, step: Batched) -> None:
        if isinstance(step, AddAddress) and str(step.address.ip) in self._present():
            return  # docker attached it already
        line = line_of(step)
        if self.pending and self.pending[-1][1].family != line.family:
            self.finish()
        self.pending.append((step, line))

    def _present(self) -> set[str]:
        if self._addresses is None:
            self._addresses = {a["local"] for link in self.ip.query("addr", "show")
                               for a in link.get("addr_info", [])}
        return self._addresses


def apply_all(steps: list[Step], attached: dict[str, IPv4Interface], node: str, *,
              wired_by_host: bool = False) -> None:
    wiring = Wiring(node, attached, wired_by_host=wired_by_host)
    for step in steps:
        wiring.apply(step)
    wiring.finish()


def wait_for_link(ifname: str, node: str, wait_s: float = WIRED_WAIT_S,
                  poll_s: float = WIRED_POLL_S) -> None:
    """Until the host has made `ifname` in this namespace (asked of the kernel, no process
    started per look)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            socket.if_nametoindex(ifname)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise BackendError(
                    f"interface {ifname} did not appear within {wait_s:g} s\n    hint: the host "
                    "makes a `cclab up` lab's links once its containers have started; a compose "
                    "file of a lab's run folder is not meant to be started by hand (`cclab "
                    "render` writes one that is)", backend="docker", node=node) from None
            time.sleep(poll_s)


def rename_holder(ip: Ip, ifname: str, address: IPv4Interface) -> None:
    """Name the interface docker gave `address` as the plan says; drop docker's routes.
    A stand-in address (see `compose.docker_subnets`) is removed: `AddAddress` puts the
    planned one in its place."""
    current = _holder_of(ip, address)
    if current != ifname:
        _move_aside(ip, ifname)
        ip.change("link", "set", "dev", current, "down", what=f"set {current} down")
        ip.change("link", "set", "dev", current, "name", ifname,
                  what=f"rename {current} to {ifname}")
    for route in ip.query("-4", "route", "show", "table", "main", "default"):
        how = ["via", route["gateway"]] if "gateway" in route else ["dev", route["dev"]]
        ip.change("route", "del", "default", *how,
                  what=f"remove docker's default route {' '.join(how)}")
    if address.ip in STAND_IN_SPACE:
        ip.change("addr", "del", f"{address.ip}/{address.network.prefixlen}", "dev", ifname,
                  what=f"remove stand-in {address} from {ifname}")


def _holder_of(ip: Ip, address: IPv4Interface) -> str:
    """The name of the interface that holds `address`."""
    for link in ip.query("-4", "addr", "show"):
        if any(a.get("local") == str(address.ip) for a in link.get("addr_info", [])):
            return str(link["ifname"])
    raise BackendError(f"no interface holds {address} (docker did not attach the link)",
                       backend="docker", node=ip.node)


def _move_aside(ip: Ip, ifname: str) -> None:
    """Docker names interfaces in its own order: one may hold the name another needs.
    It gets a temporary name; its own rename finds it by address later."""
    taken = [link for link in ip.query("link", "show") if link["ifname"] == ifname]
    if taken:
        aside = f"cctmp{taken[0]['ifindex']}"
        ip.change("link", "set", "dev", ifname, "down", what=f"set {ifname} down")
        ip.change("link", "set", "dev", ifname, "name", aside, what=f"move {ifname} aside")


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
