"""Which senders a tunnel endpoint accepts: the load balancer's networks, remembered.

The GENEVE endpoint and the VXLAN bridge both accept encapsulated packets from
configured networks only (spec G1, V2). The answer per sender address is kept
in a bounded memo (a spoofing flood of many senders starts it again).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from connector.core.memo import remember

MEMO_SIZE = 4096


class SenderFilter:
    def __init__(self, sources: tuple[IPv4Network, ...]) -> None:
        self.sources = sources
        self._known: dict[str, bool] = {}  # sender address -> inside `sources`

    def admits(self, address: str) -> bool:
        known = self._known.get(address)
        if known is None:
            known = remember(self._known, address,
                             any(IPv4Address(address) in net for net in self.sources), MEMO_SIZE)
        return known
