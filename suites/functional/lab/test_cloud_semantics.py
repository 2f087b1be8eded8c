"""The cloud's filtering semantics, each shown by packets (docs/cloud-semantics.md).

One small lab (data/cloud-semantics.yaml) holds a case for each rule the
importers rely on: AWS groups as a union, a group reference, protocol `all`,
a stateless network ACL (ordered entries, implicit deny, replies judged on
their own), an Azure NSG by priority with its default rules, the subnet's NSG
judging too, and `VirtualNetwork` widened by a user-defined route of the NIC's
subnet only. suites/unit/lab/test_reach.py evaluates the same cases statically
(`lab.reach`): the two must agree, as `cclab attack` requires on a whole cloud.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.api import LabHandle, bring_up
from suites.fixtures.lab import unique_instance

pytestmark = pytest.mark.netns

TOPOLOGY = Path(__file__).parent / "data" / "cloud-semantics.yaml"
ADDRESS = {"srv": "10.30.2.80", "srv2": "10.30.2.81", "vm": "10.30.3.10", "vm2": "10.30.5.10",
           "d1": "10.30.4.11"}

# (client, server, proto, passes, why): tcp is an HTTP GET on 80, udp an echo on 7.
CASES = [
    ("a1", "srv", "tcp", True, "AWS: the first of the interface's groups allows a1"),
    ("a2", "srv", "tcp", True, "AWS: the second group allows a2: groups are a union"),
    ("x1", "srv", "tcp", False, "AWS: no group allows x1"),
    ("a1", "srv2", "tcp", True, "AWS: a1 is a member of the referenced group"),
    ("a1", "srv2", "udp", True, "AWS: protocol all, every port"),
    ("a2", "srv2", "tcp", False, "AWS: a2 is not a member of the referenced group"),
    ("a1", "d1", "tcp", True, "NACL: rule 100 in, the reply by rule 110 out"),
    ("a2", "d1", "tcp", False, "NACL: stateless, the reply to a2 meets outbound rule 100 "
                               "(deny) before 110"),
    ("a1", "d1", "udp", False, "NACL: no entry in: the implicit deny"),
    ("a1", "vm", "tcp", True, "NSG: priority 200 allows the VNet"),
    ("a2", "vm", "tcp", False, "NSG: priority 100 denies a2, written after the allow"),
    ("a1", "vm", "udp", False, "NSG: the subnet's NSG denies it, though the NIC's allows"),
    ("a2", "vm", "udp", True, "NSG: AllowVnetInBound, on the subnet's NSG and the NIC's"),
    ("x1", "vm", "udp", True, "NSG: a UDR of vm's subnet widened VirtualNetwork to x1"),
    ("x1", "vm2", "udp", False, "NSG: vm2's subnet has no such UDR: DenyAllInBound"),
    ("lbprobe", "vm2", "tcp", True, "NSG: AllowAzureLoadBalancerInBound"),
    ("x1", "vm2", "tcp", False, "NSG: DenyAllInBound"),
]


@pytest.fixture(scope="module")
def semantics_lab(lab_capable: None) -> Iterator[LabHandle]:
    handle = bring_up(TOPOLOGY, instance=unique_instance("sem"))
    try:
        yield handle
    finally:
        handle.down()


def _passes(lab: LabHandle, client: str, server: str, proto: str) -> bool:
    address = ADDRESS[server]
    if proto == "tcp":
        return lab.exec(client, "curl", "-s", "-o", "/dev/null", "-m", "2",
                        f"http://{address}/", check=False).ok
    script = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
              f"s.settimeout(1.5); s.sendto(b'semantics', ('{address}', 7)); s.recv(100)")
    return lab.exec(client, lab.python, "-c", script, check=False).ok


@pytest.mark.parametrize(("client", "server", "proto", "passes", "why"), CASES,
                         ids=[f"{c}-{s}-{p}" for c, s, p, _, _ in CASES])
def test_packets_follow_the_documented_semantics(semantics_lab: LabHandle, client: str,
                                                 server: str, proto: str, passes: bool,
                                                 why: str) -> None:
    assert _passes(semantics_lab, client, server, proto) == passes, why
