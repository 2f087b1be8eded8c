"""The negative control of the internet gateway's anti-spoofing switch.

A module of its own, with a lab of its own: the same subnets as test_gateways.py's, with
the switch turned off. On docker it is brought up while that module's lab serves its
tests (the two share no device or conntrack zone: suites/fixtures/bring_up_ahead.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP

from lab.api import LabHandle
from suites.fixtures.bring_up_ahead import lab_recipe
from suites.fixtures.lab import BACKEND_PARAMS
from suites.functional.lab.test_gateways import (
    gateways_module_lab,
    gateways_recipe,
    spoof_into_pub,
)

pytestmark = pytest.mark.usefixtures("lab_capable")


ANTI_SPOOFING_OFF = gateways_recipe(anti_spoofing=False)


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
@lab_recipe(ANTI_SPOOFING_OFF)
def gw_off_lab(request: pytest.FixtureRequest) -> Iterator[LabHandle]:
    yield from gateways_module_lab(request, ANTI_SPOOFING_OFF, "gw-off")


def test_without_anti_spoofing_a_spoofed_vpc_source_gets_in(gw_off_lab: LabHandle,
                                                            tmp_path: Path) -> None:
    """The switch is what stops it: turned off, a spoofed VPC source reaches `pub`."""
    arrived = spoof_into_pub(gw_off_lab, "10.10.1.11", tmp_path / "pub.pcap")
    assert len(arrived) == 3
    assert {p[IP].src for p in arrived} == {"10.10.1.11"}
    assert {p[IP].dst for p in arrived} == {"10.10.3.31"}
