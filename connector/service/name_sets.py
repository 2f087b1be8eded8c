"""Fill the kernel's per-rule address sets from names learned in DNS answers (spec §5.2).

An FQDN or wildcard forwarding rule matches in the kernel through the set
`r<order>_names`; each A record whose owner matches one of the rule's
patterns adds its address for the record's TTL plus the same grace the core
uses, so the kernel and the core forget a name at the same time.
"""

from __future__ import annotations

import contextlib
from ipaddress import IPv4Address

from connector.config import ConnectorConfig
from connector.core.bindings import DEFAULT_GRACE_S
from connector.core.names import NamePattern, normalise_name
from connector.errors import ServiceError
from connector.io import host
from connector.io.nft_render import name_set


class NameSetUpdater:
    def __init__(self, config: ConnectorConfig) -> None:
        self._rules = [(name_set(r), [d for d in r.dest_addresses if isinstance(d, NamePattern)])
                       for r in config.policy.forwarding_rules if r.enabled and name_set(r)]

    def learned(self, addr: IPv4Address, qname: str, ttl: int) -> None:
        """From an answer: kept for its TTL plus the core's grace."""
        self.learned_for(addr, qname, int(ttl + DEFAULT_GRACE_S))

    def learned_for(self, addr: IPv4Address, qname: str, seconds: int) -> None:
        """Kept `seconds` (a name another cluster member learned, with what is left)."""
        name = normalise_name(qname)
        for set_name, patterns in self._rules:
            if set_name and any(p.matches(name) for p in patterns):
                # On failure the core still knows the name; the next answer retries the set.
                with contextlib.suppress(ServiceError):
                    host.nft_add_element(set_name, str(addr), seconds)

    @property
    def wanted(self) -> bool:
        """Whether any rule matches names (else nothing learned needs the kernel)."""
        return bool(self._rules)
