"""How a user-space lab node hands packets to its namespace's kernel and gets replies back.

A fake node that carries whole IP packets (the ZIA gateway, the GWLB) opens a
TUN (with the Linux packet-information prefix; one ioctl, where scapy's
TunTapInterface cost a second of imports in every such node), and marks the
connections that entered through it so their replies route back to it:

    prerouting: new from the TUN -> ct mark; replies of marked conns -> fwmark
    ip rule fwmark -> table with `default dev TUN`

Optionally it masquerades those connections (the ZIA gateway's egress NAT).
Everything is undone by `close`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import subprocess

from lab.nodes.base import run_checked

TUN_DEVICE = "/dev/net/tun"
_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001  # no IFF_NO_PI: packets come and go with the 4-byte packet information

BATCH = 64  # packets read per wake-up at most: the others' turn comes between bursts
# The TUN's queue (frames the kernel holds for this process): at the default 500 the
# lab's GWLB lost 4,600-11,000 of a 120,000-frame flood paced at 20,000 a second on
# netns, each a stall of a few tens of ms; 10,000 holds half a second at that pace.
TUN_QUEUE = 10_000
_PI_IPV4 = struct.pack("!HH", 0, 0x0800)
_PI_IPV6 = struct.pack("!HH", 0, 0x86DD)


class KernelPath:
    def __init__(self, tun: str, mark: int, table: int, *, masquerade: bool) -> None:
        self.tun, self.mark, self.table = tun, mark, table
        self.fd = open_tun(tun)
        self._nft_table = f"lab_{tun}"
        run_checked(["ip", "link", "set", tun, "txqueuelen", str(TUN_QUEUE), "up"])
        for key in (f"conf/{tun}/rp_filter", "conf/all/rp_filter"):
            _sysctl(f"net/ipv4/{key}", "0")
        _sysctl("net/ipv4/ip_forward", "1")
        run_checked(["ip", "route", "replace", "default", "dev", tun, "table", str(table)])
        run_checked(["ip", "rule", "add", "fwmark", f"{mark:#x}", "lookup", str(table)])
        nat = (f'oifname != "{tun}" ct mark {mark:#x} masquerade' if masquerade else "")
        run_checked(["nft", "-f", "-"], f"""
table ip {self._nft_table} {{
  chain pre {{
    type filter hook prerouting priority mangle; policy accept;
    iifname "{tun}" ct state new ct mark set {mark:#x}
    ct direction reply ct mark {mark:#x} meta mark set {mark:#x}
  }}
  chain post {{
    type nat hook postrouting priority srcnat; policy accept;
    {nat}
  }}
}}""")

    def route_default(self) -> None:
        """Everything not for this node goes to the TUN (the GWLB's catch-all), IPv6
        too where the node has IPv6 (a dual-stack GWLB: spec G3)."""
        run_checked(["ip", "route", "replace", "default", "dev", self.tun])
        if ipv6_enabled():
            run_checked(["ip", "-6", "route", "replace", "default", "dev", self.tun])

    def read(self) -> bytes:
        """One IP packet from the kernel (blocking)."""
        return os.read(self.fd, 65539)[4:]

    def read_waiting(self, most: int = BATCH) -> list[bytes]:
        """The packets the kernel has queued, at most `most`, without waiting for more (after
        `select` said the TUN is readable: one wake-up then carries a burst, not a packet)."""
        packets = []
        os.set_blocking(self.fd, False)
        try:
            for _ in range(most):
                packets.append(os.read(self.fd, 65539)[4:])
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(self.fd, True)
        return packets

    def write(self, packet: bytes) -> None:
        info = _PI_IPV6 if packet and packet[0] >> 4 == 6 else _PI_IPV4
        with contextlib.suppress(OSError):  # the kernel refused it: nothing to carry
            os.write(self.fd, info + packet)

    def close(self) -> None:
        subprocess.run(["nft", "delete", "table", "ip", self._nft_table], check=False,
                       capture_output=True)
        subprocess.run(["ip", "rule", "del", "fwmark", f"{self.mark:#x}", "lookup",
                        str(self.table)], check=False, capture_output=True)
        os.close(self.fd)


def open_tun(name: str) -> int:
    """A TUN interface called `name` (created if absent), as a file descriptor."""
    fd = os.open(TUN_DEVICE, os.O_RDWR)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH22x", name.encode(), _IFF_TUN))
    except OSError:
        os.close(fd)
        raise
    return fd


def ipv6_enabled() -> bool:
    """Whether this namespace has IPv6 on (the plan turns it on for dual-stack nodes)."""
    try:
        with open("/proc/sys/net/ipv6/conf/all/disable_ipv6") as f:
            return f.read().strip() == "0"
    except OSError:
        return False


def _sysctl(key: str, value: str) -> None:
    """Set a sysctl unless it already holds `value` (docker's /proc/sys is read-only;
    the compose file sets what these nodes need)."""
    with open(f"/proc/sys/{key}") as f:
        if f.read().strip() == value:
            return
    with open(f"/proc/sys/{key}", "w") as f:
        f.write(value)

