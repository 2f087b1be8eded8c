"""Forget one connection in the kernel's connection-tracking table (netlink, pyroute2).

The routed path needs it when the kernel steered a flow's first packet to user space
while its name sets were a moment behind the core: the connection's entry then holds
the user-space mark and a NAT decision made for the TUN, so the packet can only be
carried Direct once the entry is gone and the kernel decides afresh.

pyroute2 is imported on first use, not with the module: most connectors never
forget an entry, and its import is about a third of a connector's start-up
(0.17 s of 0.53 s here), paid by every connector of every lab.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyroute2.conntrack import AsyncConntrack


class ConntrackTable:
    """The table of the namespace the connector runs in; one netlink socket, opened on
    first use and kept."""

    def __init__(self) -> None:
        self._socket: AsyncConntrack | None = None

    async def forget(self, proto: int, src: IPv4Address, sport: int,
                     dst: IPv4Address, dport: int) -> bool:
        """Delete the entry whose original direction is this 5-tuple; True if one was."""
        from pyroute2.conntrack import AsyncConntrack
        from pyroute2.netlink.exceptions import NetlinkError
        from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

        if self._socket is None:
            self._socket = AsyncConntrack()
        key = NFCTAttrTuple(saddr=str(src), daddr=str(dst), proto=proto,
                            sport=sport, dport=dport)
        try:
            return await self._socket.delete(key) is not None
        except (NetlinkError, OSError):
            return False

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
