"""The lookups the core is given when there is nothing to look up (model.py)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from connector.core.model import NoNames, NoPools

pytestmark = pytest.mark.unit


def test_the_empty_lookups_know_no_name_pool_or_live_app() -> None:
    addr = IPv4Address("10.254.0.1")  # inside the default synthetic pool's range
    assert NoNames().names_for(addr) == frozenset()
    assert NoPools().pool_of(addr) is None
    assert NoPools().has_live_mapping(addr) is False
