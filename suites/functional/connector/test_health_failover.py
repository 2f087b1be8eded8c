"""Health checks (spec §10: H1, H3), ZIA tunnel failover (F5) and connector failover.

Paths are cut for real (nftables drops the tunnel port in the ZIA edge or the
connector namespace); what is asserted is what the GWLB, the edges and the web
server logged, and what the probe answered.
"""

from __future__ import annotations

import allure

from lab.api import LabHandle
from suites.fixtures.allure_hooks import attach_json
from suites.functional.connector.gwlb_helpers import probe_status, tunnel_port_cut, wait_for

# Tier: from the gwlb_lab fixture (netns and docker).


def _healthy_again(lab: LabHandle, *nodes: str) -> None:
    for node in nodes:
        wait_for(lambda n=node: probe_status(lab, n) == "200", 10, f"{node} healthy again")


@allure.feature("health")
def test_H1_probe_is_200_then_503_when_every_zia_path_is_cut_then_200(  # noqa: N802
        gwlb_lab: LabHandle) -> None:
    assert probe_status(gwlb_lab, "cc1") == "200"
    with tunnel_port_cut(gwlb_lab, "zia1", "zia2"):
        took = wait_for(lambda: probe_status(gwlb_lab, "cc1") == "503", 5,
                        "503 after every ZIA path was cut")
        attach_json({"seconds_to_503": round(took, 2)}, "H1 timing")
        body = gwlb_lab.exec("gwlb", "curl", "-s", "-m", "3",
                             "http://10.10.3.31:50000/?cchealth").stdout
        reason = gwlb_lab.exec("fabric", "curl", "-s", "-m", "3",
                               "http://10.10.2.21:9100/health", check=False).stdout
    assert "ZIA" not in body, "the reason must not be shown on the service interface"
    assert "ZIA gateway 'default'" in reason
    assert "fail-close" in reason
    _healthy_again(gwlb_lab, "cc1", "cc2")


@allure.feature("health")
def test_H3_ten_parallel_probes_a_second_do_not_flip_state(gwlb_lab: LabHandle) -> None:  # noqa: N802
    before = len(gwlb_lab.events("gwlb", "gwlb.target_unhealthy"))
    codes = gwlb_lab.exec(
        "gwlb", "sh", "-c", "for s in 1 2 3; do seq 10 | xargs -P 10 -I{} curl -s -o /dev/null "
        "-w '%{http_code}\\n' -m 2 'http://10.10.3.31:50000/?cchealth'; sleep 1; done",
        timeout=30).stdout.split()
    assert codes == ["200"] * 30
    assert len(gwlb_lab.events("gwlb", "gwlb.target_unhealthy")) == before


def _zia_get(lab: LabHandle, path: str) -> str:
    return lab.exec("workload1", "curl", "-s", "-m", "5", f"http://198.18.10.20{path}",
                    check=False).stdout


@allure.feature("forwarding")
def test_F5_primary_edge_lost_new_flows_use_secondary_then_return(  # noqa: N802
        gwlb_lab: LabHandle) -> None:
    with tunnel_port_cut(gwlb_lab, "zia1"):
        took = wait_for(lambda: "198.19.1.2" in _zia_get(gwlb_lab, "/f5-failover"), 15,
                        "a new flow through the secondary edge")
        attach_json({"seconds_to_secondary": round(took, 2)}, "F5 failover")
        assert took < 30, "the spec allows about 30 s"
    wait_for(lambda: "198.19.1.1" in _zia_get(gwlb_lab, "/f5-return"), 15,
             "new flows back on the primary edge")
    event = gwlb_lab.wait_event("zia1", "zia.transaction", timeout=5)
    assert event["dst"] == "198.18.10.20"
    _healthy_again(gwlb_lab, "cc1", "cc2")


@allure.feature("health")
def test_unhealthy_connector_gets_no_new_flows_and_returns(gwlb_lab: LabHandle) -> None:
    def marks(state: str) -> int:
        return len([e for e in gwlb_lab.events("gwlb", f"gwlb.target_{state}")
                    if e.get("target") == "10.10.3.31"])

    was_healthy, was_unhealthy = marks("healthy"), marks("unhealthy")
    with tunnel_port_cut(gwlb_lab, "cc1"):
        wait_for(lambda: marks("unhealthy") > was_unhealthy, 15, "the GWLB marks cc1 unhealthy")
        mark = len(gwlb_lab.events("gwlb", "gwlb.flow"))
        for n in range(8):
            gwlb_lab.exec("workload1", "curl", "-s", "-m", "5",
                          f"http://198.18.10.10/spread-{n}", check=False)
        targets = {e["target"] for e in gwlb_lab.events("gwlb", "gwlb.flow")[mark:]}
    assert targets == {"10.10.3.32"}, f"new flows went to {targets}"
    wait_for(lambda: marks("healthy") > was_healthy, 15, "the GWLB marks cc1 healthy again")
