"""DNS flood resilience: one workload floods, the others keep their DNS and their flows.

workload1 sends the `dns-flood` profile (random names, varying ports and ids)
at the highest rate the flood engine reaches, bounded in count and time, to
the resolver every workload uses (the connectors intercept it). Meanwhile
workload2 asks 100 ordinary questions, one every 50 ms, and fetches a page.
Asserted on what workload2 got, on the connectors' kernel counters (the
per-source DNS limit dropped the flood before the listener) and on the engine's
own report. It runs on every cloud topology on netns (22), and on docker on
azure-no-natgw (each docker lab costs 30-40 s of the quiet tier, which has the
machine alone; on docker aws-no-natgw kept 98 of 100, below the bound).

Through the lab's GWLB (the node `gwlb`: the AWS topologies and `insecure`) the
flood goes through a user-space Python process that carries 50-55 thousand
frames a second here beside a flood at the engine's top rate (`python -m bench
lab-flood`), so the flood is paced to 20,000 frames a second: what saturates is
then the connector, not the lab (a real GWLB would not). There the connectors'
user-space GENEVE plane must also read no more of the flood than their
per-source limit admits: the limit keyed by the inner source on the service
interface drops the rest in the kernel (170,000 datagrams read without it).

On GCP the passthrough LB keeps each client's flows on one connector
(CLIENT_IP_PROTO), and with the lab's addresses both workloads' questions meet
cc2, so one connector takes the whole flood and the other workload's questions
(where the Azure LB spreads both by port over two). The IPv6 variants flood over
IPv4 (the engine builds IPv4 frames): what they add is the dual-stack lab
around the same path.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator

import allure
import pytest

from lab.api import LabHandle
from lab.traffic.flood.in_lab import run_flood
from suites.fixtures.allure_hooks import attach_json
from suites.fixtures.connector_view import counted
from suites.fixtures.lab import (
    cloud_lab,
    on_each_backend,
)

pytestmark = [pytest.mark.quiet, pytest.mark.usefixtures("lab_capable")]

TOPOLOGIES = ["azure-natgw", "azure-no-natgw", "azure-partial-natgw", "azure-gwlb-natgw",
              "azure-gwlb-no-natgw", "azure-gwlb-partial-natgw", "azure-plb-inbound",
              "azure-insecure", "azure-routed-sublocations", "azure-natgw-ipv6",
              "azure-natgw-ipv6-bypass",
              "gcp-cloudnat", "gcp-no-cloudnat", "gcp-partial-cloudnat", "gcp-vendor-defaults",
              "aws-no-natgw", "aws-natgw", "aws-partial-natgw", "insecure", "aws-natgw-ipv6",
              "aws-natgw-ipv6-bypass", "aws-natgw-ipv6-connector"]
# On docker one of them: each such run costs a docker lab in the quiet tier, which has
# the machine alone, and aws-no-natgw on docker kept 98 of 100 (cause not found).
DOCKER_COVER = ["azure-no-natgw"]
RESOLVER, WEB, WEB2 = "198.18.53.53", "198.18.10.10", "198.18.10.20"
# workload2's page during the flood: web, Direct; in azure-routed-sublocations workload2
# is the sub-location loc-r, whose rule drops web:80, so there its page is web2's (ZIA).
PAGE_FROM = {"azure-routed-sublocations": WEB2}
FLOOD_COUNT, FLOOD_SECONDS = 3_000_000, 6.0
# Through the lab's GWLB (a Python process) the flood is paced below what it carries on
# this machine (50-55 thousand frames a second beside a flood at the engine's top rate,
# `python -m bench lab-flood`), so that the connector is what the flood measures.
THROUGH_LAB_GWLB_PPS = 20_000


def _pace(lab: LabHandle) -> int | None:
    """The flood's rate: paced where the lab's GWLB carries it, else the engine's top."""
    return THROUGH_LAB_GWLB_PPS if any(n.name == "gwlb" for n in lab.topology.nodes) else None


# What workload2 may lose, from the spec alone (§9.4): the connector's response-rate
# limit keeps one `all` budget (200 a second) per client /24, and workload1 shares
# workload2's /24. Before workload1's dynamic block (over 30 qps in 10 s: its first 300
# questions) its answers put that budget about 100 in debt for about half a second; a
# response limited then is dropped if it is the first limited one of its name (slip 2)
# and truncated (TC=1, asked again over TCP) if the second. So workload2 loses at most
# its first limited answer: one of 100, at the threshold, on every topology, in each run
# of 2026-12-01 (all 23 labs of the suite in one run: 99 each; docs/decisions.md
# "A flooder's /24 neighbour and the RRL budget").
LOST_AT_MOST = 1


@pytest.fixture(scope="module", params=on_each_backend(TOPOLOGIES, docker=DOCKER_COVER))
def azure(request: pytest.FixtureRequest) -> Iterator[LabHandle]:
    with cloud_lab(request, "flood") as handle:
        yield handle


def _dropped_by_kernel(lab: LabHandle) -> int:
    total = 0
    for cc in ("cc1", "cc2"):
        out = lab.exec(cc, "nft", "list", "counter", "ip", "cclab_connector",
                       "dns_flood_dropped").stdout
        total += int(re.search(r"packets (\d+)", out).group(1))  # type: ignore[union-attr]
    return total


MGMT = {"cc1": "10.10.2.21", "cc2": "10.10.2.22"}  # lab/topologies/cloud/base.yaml
LIMIT, BURST = 1_000, 200  # the cloud labs' runtime.dns_flood_limit (a second) and its burst


def _geneve_received(lab: LabHandle) -> int:
    """Datagrams the connectors' user-space GENEVE plane read (0 off the GWLB topologies)."""
    return sum(counted(lab, MGMT[cc], "geneve_rx_packets", via=cc) for cc in MGMT)


@allure.feature("attacks")
@allure.story("DNS flood from inside the VPC")
def test_other_workloads_keep_their_dns_and_flows_while_one_floods(azure: LabHandle) -> None:
    before = _dropped_by_kernel(azure)
    geneve_before = _geneve_received(azure)
    report: dict[str, object] = {}

    def flood() -> None:
        report.update(run_flood(azure.backend, "workload1", "dns-flood", RESOLVER,
                                FLOOD_COUNT, FLOOD_SECONDS,
                                pps=_pace(azure)))

    flooding = threading.Thread(target=flood)
    flooding.start()
    try:
        probe = json.loads(azure.exec(
            "workload2", azure.python, "-m", "lab.traffic.dns_probe", "--server", RESOLVER,
            "--count", "100", "--interval", "0.05", "--timeout", "1", timeout=60).stdout)
        server = PAGE_FROM.get(azure.topology.name, WEB)
        page = azure.exec("workload2", "curl", "-s", "-m", "5",
                          f"http://{server}/during-flood", check=False)
    finally:
        flooding.join(FLOOD_SECONDS + 40)
    dropped = _dropped_by_kernel(azure) - before
    geneve = _geneve_received(azure) - geneve_before
    attach_json({"flood": report, "workload2_dns": probe, "kernel_dropped": dropped,
                 "geneve_plane_received": geneve}, "flood figures")
    assert report["frames"] >= 100_000, report  # it was a flood
    assert probe["outcomes"].get("answer", 0) >= 100 - LOST_AT_MOST, probe
    assert page.ok
    assert "during-flood" in page.stdout
    assert dropped > 0.5 * int(report["frames"])  # type: ignore[call-overload]
    # Through a GWLB the flood is dropped before the user-space GENEVE plane reads it (the
    # inner source's limit on the service interface), not after it paid for each frame:
    # what it reads is what each connector's limit admits, and workload2's questions.
    admitted = len(MGMT) * (LIMIT * float(report["seconds"]) + BURST)  # type: ignore[arg-type]
    assert geneve <= admitted + 1_000, (geneve, admitted, report)
