"""A layer-3 TUN device: the door between the user-space data plane and the kernel.

Packets written to it enter the kernel as if received on that interface (so
nftables, conntrack and routing apply); packets the kernel routes to it are read
back. No packet-information prefix (IFF_NO_PI): reads and writes are bare IP.
"""

from __future__ import annotations

import fcntl
import os
import struct

from connector.errors import ServiceError

_TUNSETIFF = 0x400454CA
_IFF_TUN, _IFF_NO_PI = 0x0001, 0x1000
MAX_PACKET = 65535


class TunDevice:
    def __init__(self, name: str) -> None:
        try:
            self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        except OSError as exc:
            raise ServiceError("cannot open /dev/net/tun", step="tun",
                               detail=exc.strerror or "") from exc
        try:
            fcntl.ioctl(self.fd, _TUNSETIFF,
                        struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
        except OSError as exc:
            os.close(self.fd)
            raise ServiceError(f"cannot create TUN device {name}", step="tun",
                               detail=exc.strerror or "") from exc
        self.name = name

    def read(self) -> bytes | None:
        try:
            return os.read(self.fd, MAX_PACKET)
        except BlockingIOError:
            return None

    def write(self, packet: bytes) -> bool:
        """False when the kernel refused the packet (it is counted, never raised)."""
        try:
            os.write(self.fd, packet)
            return True
        except OSError:
            return False

    def close(self) -> None:
        os.close(self.fd)
