"""The negative control of the internet gateway's anti-spoofing switch.

A module of its own so that, on docker, the anti-spoofing lab of
test_gateways.py is down before this one (same subnets) comes up.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP

from suites.fixtures.lab import BACKEND_PARAMS, backend_ready
from suites.functional.lab.test_gateways import gateways_lab, spoof_into_pub

pytestmark = pytest.mark.usefixtures("lab_capable")


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_without_anti_spoofing_a_spoofed_vpc_source_gets_in(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        tmp_path: Path, backend: str) -> None:
    """The switch is what stops it: turned off, a spoofed VPC source reaches `pub`."""
    backend_ready(request, backend)
    lab = gateways_lab(tmp_path_factory, anti_spoofing=False, backend=backend)
    try:
        arrived = spoof_into_pub(lab, "10.10.1.11", tmp_path / "pub.pcap")
    finally:
        lab.down()
    assert len(arrived) == 3
    assert {p[IP].src for p in arrived} == {"10.10.1.11"}
    assert {p[IP].dst for p in arrived} == {"10.10.3.31"}
