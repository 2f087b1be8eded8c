"""The management plane of the connector in the minimal lab (spec §2.5, §10 A5).

A real OpenSSH server answers on the management address only, and only to the
management subnet; metrics are served on the management address only. Judged
from other nodes with ssh-keyscan and curl, and by the connector's nftables
counters.
"""

from __future__ import annotations

import allure

from lab.api import LabHandle
from suites.fixtures.connector_view import nft_counter

# Tier: from the minimal_lab fixture (netns and docker).
MGMT, SERVICE = "10.10.2.21", "10.10.3.31"


def _keyscan(lab: LabHandle, node: str, address: str) -> str:
    return lab.exec(node, "ssh-keyscan", "-T", "2", "-t", "ed25519", address,
                    check=False).stdout


def _counter(lab: LabHandle, name: str) -> int:
    return nft_counter(lab, "cc1", name)


@allure.feature("management")
def test_sshd_answers_on_the_management_address_from_the_management_subnet(
        minimal_lab: LabHandle) -> None:
    assert "ssh-ed25519" in _keyscan(minimal_lab, "fabric", MGMT)


@allure.feature("management")
def test_no_ssh_on_the_service_address(minimal_lab: LabHandle) -> None:
    before = _counter(minimal_lab, "ssh_not_management")
    assert _keyscan(minimal_lab, "workload1", SERVICE) == ""
    assert _counter(minimal_lab, "ssh_not_management") > before


@allure.feature("attacks")
def test_A5_ssh_from_outside_the_management_subnet_is_dropped(  # noqa: N802
        minimal_lab: LabHandle) -> None:
    before = _counter(minimal_lab, "ssh_refused")
    assert _keyscan(minimal_lab, "web", MGMT) == ""
    assert _counter(minimal_lab, "ssh_refused") > before


@allure.feature("management")
def test_metrics_only_on_the_management_address(minimal_lab: LabHandle) -> None:
    text = minimal_lab.exec("fabric", "curl", "-s", "-m", "3", f"http://{MGMT}:9100/metrics").stdout
    assert "# TYPE cclab_connector_healthy gauge" in text
    refused = minimal_lab.exec("workload1", "curl", "-s", "-m", "3",
                               f"http://{SERVICE}:9100/metrics", check=False)
    assert refused.returncode != 0
    assert "cclab_connector" not in refused.stdout
