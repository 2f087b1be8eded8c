"""Internet gateway (1:1 NAT, anti-spoofing switch) and NAT gateway, on real packets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap

from lab.api import LabHandle, bring_up
from suites.fixtures.bring_up_ahead import Recipe, RecipeOf, lab_recipe
from suites.fixtures.lab import BACKEND_PARAMS, backend_ready, made
from suites.fixtures.nft_counters import nft_packets
from suites.fixtures.spoof import send_from
from suites.fixtures.teardown_behind import remover

# Tier: from the backend parameter of gw_lab (netns and docker). The negative
# control (anti-spoofing off) is in test_gateways_negative.py: on docker, a
# second lab with the same subnets cannot be up beside gw_lab.
pytestmark = pytest.mark.usefixtures("lab_capable")

TOPOLOGY = Path(__file__).parent / "data" / "gateways.yaml"


def gateways_lab(tmp: pytest.TempPathFactory, anti_spoofing: bool, backend: str,
                 instance: str) -> LabHandle:
    text = TOPOLOGY.read_text()
    if not anti_spoofing:
        text = text.replace("vpc: [10.10.0.0/16]}\n  web:",
                            "vpc: [10.10.0.0/16], anti_spoofing: false}\n  web:")
    path = tmp.mktemp("topo") / "gateways.yaml"
    path.write_text(text)
    return bring_up(path, instance=instance, backend=backend)


def gateways_recipe(anti_spoofing: bool) -> RecipeOf:
    """How a module's gateways lab (its param: the backend) is made, by its fixture or
    ahead of it on docker (suites/fixtures/bring_up_ahead.py)."""
    key = f"gateways-{'on' if anti_spoofing else 'off'}"

    def recipe(backend: str) -> Recipe:
        return Recipe(key, lambda instance, tmp: gateways_lab(tmp, anti_spoofing, backend,
                                                              instance), backend)
    return recipe


def gateways_module_lab(request: pytest.FixtureRequest, recipe: RecipeOf,
                        stem: str) -> Iterator[LabHandle]:
    """A module's gateways lab (its param: the backend), made by `recipe` (on docker the
    one brought up ahead if there is one), and torn down behind the next one's bring-up."""
    backend_ready(request, request.param)
    remove = remover(request)
    handle = made(request, recipe(request.param), stem)
    try:
        yield handle
    finally:
        remove(handle)


ANTI_SPOOFING_ON = gateways_recipe(anti_spoofing=True)


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
@lab_recipe(ANTI_SPOOFING_ON)
def gw_lab(request: pytest.FixtureRequest) -> Iterator[LabHandle]:
    yield from gateways_module_lab(request, ANTI_SPOOFING_ON, "gw-on")


def _get(lab: LabHandle, node: str, url: str) -> int:
    return lab.exec(node, "curl", "-s", "-o", "/dev/null", "-m", "2", url,
                    check=False).returncode


def _counter(lab: LabHandle, node: str, table: str, name: str) -> int:
    return nft_packets(lab, node, table, name)


def test_public_address_is_the_source_seen_outside(gw_lab: LabHandle) -> None:
    mark = gw_lab.mark()
    assert _get(gw_lab, "pub", "http://198.18.10.10/eip") == 0
    event = gw_lab.wait_event("web", "http.request", lambda e: e["path"] == "/eip", after=mark)
    assert event["src"] == "203.0.113.31"


def test_private_subnet_leaves_through_the_nat_gateway(gw_lab: LabHandle) -> None:
    mark = gw_lab.mark()
    assert _get(gw_lab, "priv", "http://198.18.10.10/natgw") == 0
    event = gw_lab.wait_event("web", "http.request", lambda e: e["path"] == "/natgw",
                              after=mark)
    assert event["src"] == "203.0.113.5"


def test_inbound_to_a_public_address_reaches_its_private_owner(gw_lab: LabHandle) -> None:
    mark = gw_lab.mark()
    assert _get(gw_lab, "web", "http://203.0.113.31/inbound") == 0
    event = gw_lab.wait_event("pub", "http.request", lambda e: e["path"] == "/inbound",
                              after=mark)
    assert event["src"] == "198.18.10.10"


def test_unsolicited_inbound_to_the_nat_gateway_is_dropped(gw_lab: LabHandle) -> None:
    before = _counter(gw_lab, "natgw", "cclab_natgw", "unsolicited")
    assert _get(gw_lab, "web", "http://203.0.113.5/") == 28  # timed out: dropped
    assert _counter(gw_lab, "natgw", "cclab_natgw", "unsolicited") > before


def spoof_into_pub(lab: LabHandle, src: str, pcap: Path) -> list:
    with lab.capture("pub", "eth0", pcap):
        send_from(lab, "attacker", IP(src=src, dst="203.0.113.31")
                  / TCP(sport=40000, dport=80, flags="S"), count=3)
    return [p for p in rdpcap(str(pcap))
            if TCP in p and p[TCP].sport == 40000 and p[TCP].flags == "S"]


@pytest.mark.parametrize("spoofed", ["10.10.1.11", "192.168.7.7"], ids=["vpc-source", "rfc1918"])
def test_anti_spoofing_drops_private_sources_from_the_internet(gw_lab: LabHandle, tmp_path: Path,
                                                              spoofed: str) -> None:
    counter = "spoofed_vpc" if spoofed.startswith("10.10.") else "spoofed_private"
    before = _counter(gw_lab, "igw", "cclab_igw", counter)
    arrived = spoof_into_pub(gw_lab, spoofed, tmp_path / "pub.pcap")
    assert arrived == []
    assert _counter(gw_lab, "igw", "cclab_igw", counter) >= before + 3
