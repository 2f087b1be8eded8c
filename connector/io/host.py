"""The host's kernel, as the service drives it: sysctls and nftables.

Thin: each call is one command or one file write, and a refusal becomes a
`ServiceError` naming the step and what the kernel said.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from connector.errors import ServiceError

# Forward between workloads and destinations; never tell a workload to bypass us
# (one-arm: packets leave by the interface they came in on, spec §4.2).
ROUTER_SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/ipv4/conf/all/send_redirects": "0",
    "net/ipv4/conf/default/send_redirects": "0",
}


def apply_sysctls(values: dict[str, str]) -> None:
    """Set each sysctl that differs. One already right is left alone, so the service also
    runs where /proc/sys is read-only and the container's runtime set it (docker)."""
    for key, value in values.items():
        path = Path("/proc/sys", key)
        try:
            if path.read_text().strip() == value:
                continue
            path.write_text(value)
        except OSError as exc:
            raise ServiceError(f"cannot set {key}={value}", step="sysctl",
                               detail=str(exc)) from exc


DIVERT_TABLE = 53


def add_divert_route(mark: int) -> None:
    """Packets marked for the DNS listener are delivered locally (tproxy's routing half)."""
    _ip(["rule", "add", "fwmark", hex(mark), "lookup", str(DIVERT_TABLE)], "divert-rule")
    _ip(["route", "replace", "local", "0.0.0.0/0", "dev", "lo", "table", str(DIVERT_TABLE)],
        "divert-route")


def remove_divert_route(mark: int) -> None:
    for args in (["rule", "del", "fwmark", hex(mark), "lookup", str(DIVERT_TABLE)],
                 ["route", "flush", "table", str(DIVERT_TABLE)]):
        subprocess.run(["ip", *args], capture_output=True, check=False, timeout=10)


def add_tun_return_route(dev: str, mark: int, table: int, mask: int | None = None) -> None:
    """Bring the TUN up and route replies of connections marked `mark` (under `mask`,
    by default the mark's own bits) into it.

    Packets written to the TUN carry workload sources that the kernel would route
    elsewhere, so reverse-path filtering is off for it.
    """
    _ip(["link", "set", dev, "up", "mtu", "9001"], "tun-up")  # 8500-byte payloads (G4)
    _ip(["route", "replace", "default", "dev", dev, "table", str(table)], "tun-route")
    _ip(["rule", "add", "fwmark", _fwmark(mark, mask), "lookup", str(table)], "tun-rule")
    apply_sysctls({f"net/ipv4/conf/{dev}/rp_filter": "0", "net/ipv4/conf/all/rp_filter": "0"})


def remove_tun_return_route(mark: int, table: int, mask: int | None = None) -> None:
    for args in (["rule", "del", "fwmark", _fwmark(mark, mask), "lookup", str(table)],
                 ["route", "flush", "table", str(table)]):
        subprocess.run(["ip", *args], capture_output=True, check=False, timeout=10)


def _fwmark(mark: int, mask: int | None) -> str:
    return f"{mark:#x}/{mark if mask is None else mask:#x}"


def nft_add_element(set_name: str, element: str, timeout_s: int) -> None:
    _nft(["add", "element", "ip", "cclab_connector", set_name,
          f"{{ {element} timeout {timeout_s}s }}"], None, "nftables-set")


def _ip(args: list[str], step: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=10)
    if done.returncode != 0 and "File exists" not in done.stderr:
        raise ServiceError("ip refused the request", step=step, detail=done.stderr)


def load_nft(ruleset: str) -> None:
    _nft(["-f", "-"], ruleset, "nftables")


def nft_apply(commands: str) -> None:
    """Several nft commands (one a line) as one transaction."""
    _nft(["-f", "-"], commands, "nftables-update")


def delete_nft_table(family: str, table: str) -> None:
    """Remove our table; absent already is fine (idempotent shutdown)."""
    try:
        _nft(["delete", "table", family, table], None, "nftables-delete")
    except ServiceError as exc:
        if "No such file" not in exc.detail:
            raise


def nft_counters(family: str, table: str) -> str:
    return _nft(["list", "counters", "table", family, table], None, "nftables-list")


def _nft(args: list[str], stdin: str | None, step: str) -> str:
    try:
        done = subprocess.run(["nft", *args], input=stdin, capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError("nft did not run", step=step, detail=str(exc)) from exc
    if done.returncode != 0:
        raise ServiceError("nft refused the request", step=step, detail=done.stderr)
    return done.stdout
