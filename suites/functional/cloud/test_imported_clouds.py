"""Each example export (lab/imports/examples), imported, built and attacked on real packets
with `cclab attack`'s matrix (lab.attack).

Which attacks get through comes from the export's rules as the providers document
them (docs/cloud-semantics.md), read by hand and written here, not from the lab:
the seed's recommended rules keep the internet out; the vendor template's open
AWS rules and an Azure `0.0.0.0/0` route to `Internet` on the connectors' subnets
(which widens `VirtualNetwork` to everything there) let it in. The static
evaluator (`lab.reach`) and the packets must both say so.

Before an attack counts as blocked: the listeners answer from inside (sshd on the
connector, its DNS for a workload), and every probe is seen at the internet
gateway's outside (the matrix's `sent`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import allure
import pytest

from lab.api import LabHandle, bring_up
from lab.attack.expect import plan
from lab.attack.matrix import markdown
from lab.attack.replay import replay
from lab.lint.roles import connector_roles
from suites.fixtures.bring_up_ahead import Recipe, lab_recipe
from suites.fixtures.lab import backend_ready, made, on_each_backend
from suites.fixtures.teardown_behind import remover
from suites.fixtures.windows import dns_answer_window
from suites.golden.lab.test_import_golden import CASES, write_example

CONNECTORS = ("cc1", "cc2")

SERVICE_ATTACKS = {"ssh-service", "dns-resolver", "dns-reflection", "health-port",
                   "service-https", "geneve-injection", "spoofed-public", "licence-inflation",
                   "ack-probe", "dns-fragments"}
# case: the (attack, interface role) pairs that get through from the internet, read from
# each export's rules by hand. A spoofed workload never does (the internet edge's
# anti-spoofing, docs/cloud-semantics.md), nor a private destination (the internet
# gateway maps public addresses only); a spoofed public source does wherever the
# attacker's own would. An ACK is TCP 22 as SSH is, a fragmented query UDP 53 as DNS is.
OPEN: dict[str, set[tuple[str, str]]] = {
    # SSH from an admin prefix list; the service interface from the VPC only
    "aws-recommended": set(),
    # the CloudFormation template: SSH from 0.0.0.0/0 on management; on the service
    # interface 50000, 443, 6081 and "all" from 0.0.0.0/0 (no DNS rule on management)
    "aws-vendor-open": {("ssh-management", "management"), ("ack-probe", "management"),
                        *((a, "service") for a in SERVICE_ATTACKS)},
    # VirtualNetwork: the VNet and its peering
    "azure-recommended": set(),
    # the 0.0.0.0/0 route widens VirtualNetwork on both connector subnets: the SSH rule,
    # "all from VirtualNetwork" and the default AllowVnetInBound admit everyone
    "azure-udr-internet": {("ssh-management", "management"), ("dns-resolver", "management"),
                           ("ack-probe", "management"), ("dns-fragments", "management"),
                           *((a, "service") for a in SERVICE_ATTACKS)},
    # the seed's AWS design as a Terraform plan: SSH from an admin prefix list, the
    # service interface from the VPC only
    "terraform-recommended": set(),
    # the seed's Azure design as a Terraform plan: as azure-recommended, VirtualNetwork
    # is the VNet and its peering (no route on the connectors' subnets widens it), the
    # health port from AzureLoadBalancer only
    "terraform-azure-recommended": set(),
}


@dataclass(frozen=True)
class Imported:
    case: str
    lab: LabHandle
    folder: Path


# The docker tier builds one example per provider, those whose rules let attacks in: the
# security groups and NSGs on the docker fabric (lab/backends/docker_fabric.py), where
# the netns switch is not, both ways.
DOCKER_COVER = ["aws-vendor-open", "azure-udr-internet"]


def _imported_recipe(param: tuple[str, str]) -> Recipe:
    """How a case's lab is made (on docker, ahead of it: bring_up_ahead.py): the example
    imported into a folder of its own."""
    case, backend = param
    return Recipe(f"imp-{case}", lambda instance, tmp: bring_up(
        write_example(case, tmp.mktemp(case)), instance=instance, backend=backend), backend)


@pytest.fixture(scope="module", params=on_each_backend(sorted(OPEN), docker=DOCKER_COVER))
@lab_recipe(_imported_recipe)
def imported(request: pytest.FixtureRequest, lab_capable: None) -> Iterator[Imported]:
    case, backend = request.param
    backend_ready(request, backend)
    remove = remover(request)  # a docker lab: behind the next one's bring-up
    handle = made(request, _imported_recipe(request.param), f"imp-{case}")
    try:
        assert handle.topology.source is not None
        yield Imported(case, handle, handle.topology.source.parent)
    finally:
        remove(handle)


@pytest.mark.unit
def test_every_example_has_an_expectation() -> None:
    assert set(OPEN) == set(CASES)


def _private(lab: LabHandle, node: str, iface: str) -> str:
    return str(lab.topology.node(node).interface(iface).address.ip)


def _banner(lab: LabHandle, node: str, address: str) -> str:
    script = f"exec 3<>/dev/tcp/{address}/22; head -c 7 <&3"
    return lab.exec(node, "timeout", "3", "bash", "-c", script, check=False).stdout


def _dns_answered(lab: LabHandle, node: str, address: str) -> bool:
    """An answer, any status, within two tries, each as long as the connector may take:
    it answers a forwarded name only when its upstream did or gave up (2 s), so dig's
    own 2 s used to give up first on a loaded machine (CI, azure-udr-internet on docker)."""
    wait = math.ceil(dns_answer_window("an answer from the listener").seconds)
    out = lab.exec(node, "dig", "+tries=2", f"+time={wait}", f"@{address}", "www.web.example",
                   check=False).stdout
    return "status:" in out


def test_the_listeners_answer_from_inside(imported: Imported) -> None:
    """What the attacks aim at is there: sshd on the management address, the DNS on the
    service address for a workload."""
    lab = imported.lab
    for cc in CONNECTORS:
        assert _banner(lab, cc, _private(lab, cc, "eth-mgmt")) == "SSH-2.0", cc
        assert _dns_answered(lab, "workload1", _private(lab, cc, "eth-svc")), cc


def test_the_attack_matrix_is_what_the_rules_say(imported: Imported) -> None:
    lab = imported.lab
    planned = plan(lab.topology, connector_roles(lab.topology, imported.folder))
    matrix = replay(lab, planned, imported.case)
    allure.attach(markdown(matrix), "attack matrix", allure.attachment_type.TEXT)
    assert {r.key for r in matrix.rows if r.sent is not True} == set(), \
        "probes that never reached the internet gateway"
    roles = {c.key: (c.attack.id, c.target.role) for c in planned.cells}
    documented = {r.key for r in matrix.rows if roles[r.key] in OPEN[imported.case]}
    assert {r.key for r in matrix.rows if r.expected} == documented, "the static evaluator"
    assert {r.key for r in matrix.rows if r.observed} == documented, "the packets"
    assert len(matrix.rows) == len(planned.cells) > 0
