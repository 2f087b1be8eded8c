"""Sub-location names survive a restart (issue 18 part 2), on a real state store.

A DNS answer to a query from a sub-location teaches that location's table only
(docs/decisions.md, sub-locations). The store must give each location back its
own names after a restart, and no other location's; a location the config no
longer maps is not brought back. The answer is real DNS wire; the store real
SQLite in a temporary directory; the restart a new store and service on it.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import dns.message
import dns.rrset
import pytest

from connector.config import ConnectorConfig, parse_config
from connector.core.model import Transport
from connector.io.events import EventLog
from connector.io.state_store import StateStore
from connector.service.dns_service import DnsService, Query
from connector.service.run import restore_located, restore_state

pytestmark = pytest.mark.unit

CONFIG = """
connector: {name: cc1, group: ccg-1, location: vpc-lab}
interfaces:
  service: {name: eth-svc, address: 10.10.3.31/24}
  management: {name: eth-mgmt, address: 10.10.2.21/24}
runtime:
  geneve_sources: [10.10.3.5/32]
  geneve_locations:
    vpce-0a0a0a0a0a0a0a0a: loc-a
    vpce-0b0b0b0b0b0b0b0b: loc-b
locations: [vpc-lab, loc-a, loc-b]
"""
WEB = IPv4Address("198.18.10.10")
CLIENT, RESOLVER = ("10.10.1.11", 40001), ("198.18.53.53", 53)


def _service(config: ConnectorConfig, state: Path, location: str) -> DnsService:
    """A connector's DNS service as started on `state`; its queries come from `location`."""
    store = StateStore(state)
    pools, names = restore_state(config, store)
    service = DnsService(config, pools=pools, names=names, health=None,  # type: ignore[arg-type]
                         events=EventLog(None, "cc1"), store=store,
                         located=restore_located(config, store))
    service.location_of = lambda _key: location
    return service


def _answer(name: str, addr: IPv4Address) -> tuple[bytes, Query]:
    query = dns.message.make_query(name, "A")
    reply = dns.message.make_response(query)
    reply.answer.append(dns.rrset.from_text(name, 300, "IN", "A", str(addr)))
    return reply.to_wire(), Query(query.to_wire(), CLIENT, RESOLVER, Transport.UDP)


def test_a_sublocations_names_come_back_after_a_restart_and_only_its_own(tmp_path: Path) -> None:
    config = parse_config(CONFIG, source=tmp_path / "cc1.yaml")
    before = _service(config, tmp_path / "state", "loc-a")
    before._learn(*_answer("www.web.example.", WEB))
    # positive control: learned in loc-a, before any restart
    assert before.located["loc-a"].names_for(WEB) == {"www.web.example"}
    after = _service(config, tmp_path / "state", "")
    assert after.located["loc-a"].names_for(WEB) == {"www.web.example"}
    assert "loc-b" not in after.located  # loc-b never learned it
    assert after.names.names_for(WEB) == frozenset()  # nor the connector's own location


def test_a_location_no_longer_mapped_is_not_brought_back(tmp_path: Path) -> None:
    config = parse_config(CONFIG, source=tmp_path / "cc1.yaml")
    _service(config, tmp_path / "state", "loc-a")._learn(*_answer("www.web.example.", WEB))
    unmapped = parse_config(CONFIG.replace("    vpce-0a0a0a0a0a0a0a0a: loc-a\n", ""),
                            source=tmp_path / "cc1.yaml")
    assert restore_located(config, StateStore(tmp_path / "state"))  # control: it is stored
    assert restore_located(unmapped, StateStore(tmp_path / "state")) == {}
