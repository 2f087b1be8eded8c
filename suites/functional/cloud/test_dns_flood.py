"""DNS flood resilience: one workload floods, the others keep their DNS and their flows.

workload1 sends the `dns-flood` profile (random names, varying ports and ids)
at the highest rate the flood engine reaches, bounded in count and time, to
the resolver every workload uses (the connectors intercept it). Once workload1
is blocked (spec §9.4) on every connector its flood reached, and its /24's
response budget is whole again (BUDGET_WHOLE_S), workload2 asks 100 ordinary
questions, one every 12 ms over five names in turn, and fetches a page, while the
flood goes on.
Asserted on what workload2 got, on the connectors' kernel counters (the
per-source DNS limit dropped the flood before the listener) and on the engine's
own report. It runs on every cloud topology on netns (22), and on docker on four,
one per way the workloads' DNS meets the connectors (DOCKER_COVER; each docker lab
costs about 20 s of the quiet tier, which has the machine alone); `make test-matrix`
runs it on all 22 on docker too.

Through the lab's GWLB (the node `gwlb`: the AWS topologies and `insecure`) a
flood goes at the engine's top rate too: the GWLB's user space carries each of its
flows' first packet (4,096 source ports), its fast path (a tc program) the rest,
IPv4 and, since 2026-12-05, IPv6 (in the same IPv4 outer), and it carried the whole
IPv4 flood at the engine's top rate (`python -m bench lab-flood`, 2026-12-04: 1.04
of what was sent reached the connectors, the GWLB process under 0.05 of a core;
before the fast path 0.63-0.72, its TUN losing the rest). Before the IPv6 fast
path an IPv6 flood was paced to 10,000 a second, what the GWLB's Python carried. There
the connectors' user-space GENEVE plane must also read no more of the flood than
their per-source limit admits: the limit keyed by the inner source on the service
interface drops the rest in the kernel (170,000 datagrams read without it).

On GCP the passthrough LB keeps each client's flows on one connector
(CLIENT_IP_PROTO), and with the lab's addresses both workloads' questions meet
cc2, so one connector takes the whole flood and the other workload's questions
(where the Azure LB spreads both by port over two). The IPv6 variants flood over
IPv4, around the same path; where the workloads' IPv6 meets the connectors
(aws-natgw-ipv6-connector) an IPv6 flood runs too. On azure-no-natgw the connectors
are also stopped for a moment while one client asks under its limit: they must then
read all the kernel admitted (the last test).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import allure
import pytest

from lab.api import ExecResult, LabHandle
from lab.traffic.flood.in_lab import run_flood
from suites.fixtures.allure_hooks import attach_json
from suites.fixtures.connector_view import counted, nft_counter
from suites.fixtures.lab import (
    balancer_ready,
    cloud_lab,
    on_each_backend,
)
from suites.fixtures.nft_counters import nft_packets
from suites.fixtures.windows import path_window
from suites.functional.connector.gwlb_helpers import wait_for

pytestmark = [pytest.mark.quiet, pytest.mark.usefixtures("lab_capable")]

TOPOLOGIES = ["azure-natgw", "azure-no-natgw", "azure-partial-natgw", "azure-gwlb-natgw",
              "azure-gwlb-no-natgw", "azure-gwlb-partial-natgw", "azure-plb-inbound",
              "azure-insecure", "azure-routed-sublocations", "azure-natgw-ipv6",
              "azure-natgw-ipv6-bypass",
              "gcp-cloudnat", "gcp-no-cloudnat", "gcp-partial-cloudnat", "gcp-vendor-defaults",
              "aws-no-natgw", "aws-natgw", "aws-partial-natgw", "insecure", "aws-natgw-ipv6",
              "aws-natgw-ipv6-bypass", "aws-natgw-ipv6-connector"]
# On docker one per way the workloads' DNS meets the connectors: the Azure ILB (kernel,
# spread by port), the lab's GWLB (GENEVE, its fast path), the GCP passthrough ILB (kernel,
# each client on one connector) and the Azure gateway LB's design (its ILB beside the
# VXLAN bridge). Each costs a docker lab in the quiet tier, which has the machine alone.
DOCKER_COVER = ["azure-no-natgw", "aws-no-natgw", "gcp-cloudnat", "azure-gwlb-no-natgw"]
RESOLVER, WEB, WEB2 = "198.18.53.53", "198.18.10.10", "198.18.10.20"
# workload2's page during the flood: web, Direct; in azure-routed-sublocations workload2
# is the sub-location loc-r, whose rule drops web:80, so there its page is web2's (ZIA).
PAGE_FROM = {"azure-routed-sublocations": WEB2}
# workload2's questions: 100, one every 12 ms, over the five names the lab's resolver
# knows (lab/topologies/cloud/base.yaml) in turn, so each name is asked about 17 times a
# second, under what the connector answers a client /24 per name (20 a second, spec §9.4;
# one name at 83 a second would be cut by that limit, not by the flood), and 100 in all,
# under the 300 in 10 s that block a client. One name every 50 ms made the flood cover 5 s
# of questions, three every 20 ms 2 s, where 1.2 s now ask as many: 28 labs in the quiet
# part, which has the machine alone.
PROBE_NAMES = ("www.web.example", "www.web2.example", "echo.web.example",
               "ntp.web.example", "cloud.zpa.example")
PROBE_COUNT, PROBE_INTERVAL_S = 100, 0.012
# The flood goes on until workload2's questions and page are done (its stop file), and
# no longer: a fixed 8-s flood idled 1-2 s a lab after them. Its bounds, if the stop
# never came: FLOOD_SECONDS (over five times what it covers on a quiet machine: a slow
# day's probe must still end inside it), and a count above what the engine's top rate
# (800,000 a second at most on this machine) sends in that time.
FLOOD_COUNT, FLOOD_SECONDS = 20_000_000, 20.0
COVERS_S = PROBE_COUNT * PROBE_INTERVAL_S  # the least a flood lasts: workload2's questions
A_FLOOD = 100_000  # the fewest frames that make a flood at the engine's top rate


def _through_lab_gwlb(lab: LabHandle) -> bool:
    """Whether the lab's user-space GWLB (the node `gwlb`) carries the workloads' traffic."""
    return any(n.name == "gwlb" for n in lab.topology.nodes)


# workload1 shares workload2's /24, and the connector's response-rate limit keeps one
# `all` budget (200 a second, one second's burst) per client /24 (spec §9.4). Before
# workload1's dynamic block (over 30 qps in 10 s: after its first 300 questions) its
# answers put that budget up to 300 - 200 = 100 in debt, repaid at 200 a second: half a
# second after the block the budget is whole (plus half a second for answers to questions
# the connector still held). A neighbour asking in that second loses answers by the spec
# (the first limited one of a name dropped, slip 2), one or two of 100 as the machine's
# timing fell (docs/decisions.md "A flooder's /24 neighbour and the RRL budget"); so
# workload2 asks from then on, and the spec costs it nothing. What the bound allows is
# the bar: 99 of 100.
BLOCK_AFTER, ALL_PER_SECOND = 300, 200
BUDGET_WHOLE_S = (BLOCK_AFTER - ALL_PER_SECOND) / ALL_PER_SECOND + 0.5
LOST_AT_MOST = 1


@pytest.fixture(scope="module", params=on_each_backend(TOPOLOGIES, docker=DOCKER_COVER))
def flooded(request: pytest.FixtureRequest) -> Iterator[LabHandle]:
    with cloud_lab(request, "flood") as handle:
        yield handle


def _dropped_by_kernel(lab: LabHandle) -> int:
    return sum(_limited_by_kernel(lab).values())


MGMT = {"cc1": "10.10.2.21", "cc2": "10.10.2.22"}  # lab/topologies/cloud/base.yaml
LIMIT, BURST = 1_000, 200  # the cloud labs' runtime.dns_flood_limit (a second) and its burst


def _geneve_received(lab: LabHandle) -> int:
    """Datagrams the connectors' user-space GENEVE plane read (0 off the GWLB topologies)."""
    return sum(counted(lab, MGMT[cc], "geneve_rx_packets", via=cc) for cc in MGMT)


def _lab_gwlb_dropped(lab: LabHandle) -> int:
    """Frames the lab's GWLB lost before it read them: its TUNs' full queues, counted by
    the kernel (0 where the topology has no lab GWLB)."""
    if not _through_lab_gwlb(lab):
        return 0
    out = lab.exec("gwlb", "sh", "-c", "cat /sys/class/net/gwlbtun*/statistics/tx_dropped")
    return sum(int(n) for n in out.stdout.split())


def _connectors_socket_lost(lab: LabHandle) -> int:
    """Datagrams the connectors' kernel admitted but a full socket queue lost (UDP
    RcvbufErrors): what their limit let in must all be read, or a neighbour's admitted
    flood costs other clients' questions."""
    return sum(_udp_counters(lab, cc)["RcvbufErrors"] for cc in MGMT)


def _udp_counters(lab: LabHandle, node: str) -> dict[str, int]:
    """The node's UDP counters (/proc/net/snmp): InDatagrams counts what its sockets'
    owners read, RcvbufErrors what a full socket queue lost."""
    names, values = (line.split()[1:] for line in lab.exec(
        node, "grep", "^Udp:", "/proc/net/snmp").stdout.splitlines()[:2])
    return {name: int(value) for name, value in zip(names, values, strict=True)}


def _connectors_read(lab: LabHandle) -> int:
    return sum(_udp_counters(lab, cc)["InDatagrams"] for cc in MGMT)


def _silent_drops(lab: LabHandle) -> dict[str, int]:
    """Questions each connector's DNS guard dropped silently: from workloads inside its
    ACL, a dynamic block (its first is the block's own decision)."""
    return {cc: counted(lab, MGMT[cc], "dns_guard_drop_silent", via=cc) for cc in MGMT}


def _limited_by_kernel(lab: LabHandle) -> dict[str, int]:
    """Each connector's DNS queries over the per-source limit, dropped in its kernel."""
    return {cc: nft_counter(lab, cc, "dns_flood_dropped") for cc in MGMT}


def _blocked_where_flooded(lab: LabHandle, silent: dict[str, int],
                           limited: dict[str, int]) -> bool:
    """Whether workload1 is blocked on every connector its flood reached (over its
    per-source kernel limit: then it asked that connector over 30 a second), and on one
    at least."""
    now_silent, now_limited = _silent_drops(lab), _limited_by_kernel(lab)
    reached = [cc for cc in MGMT if now_limited[cc] > limited[cc]]
    return bool(reached) and all(now_silent[cc] > silent[cc] for cc in reached)


def _flooding(lab: LabHandle, to: str) -> tuple[dict[str, Any], dict[str, Any], ExecResult]:
    """workload1 floods `to` while workload2 asks its 100 questions and fetches a page,
    and stops then (its stop file): the engine's report (`ended`: "stopped" if the flood
    lasted that long), the probe's (with `after_flood_s`, when it began), and the page.

    A flood of the resolver: workload2 begins once workload1 is blocked on every connector
    its flood reached, and its /24's response budget is whole again (BUDGET_WHOLE_S), so
    the spec's sharing of that budget between neighbours costs workload2 nothing."""
    report: dict[str, Any] = {}
    silent, limited = _silent_drops(lab), _limited_by_kernel(lab)
    stop_file = f"/tmp/cclab-flood-stop-{os.getpid()}-{time.monotonic_ns()}"

    def flood() -> None:
        report.update(run_flood(lab.backend, "workload1", "dns-flood", to, FLOOD_COUNT,
                                FLOOD_SECONDS, stop_file=stop_file))

    flooding = threading.Thread(target=flood)
    started = time.monotonic()
    flooding.start()
    try:
        if to == RESOLVER:
            wait_for(lambda: _blocked_where_flooded(lab, silent, limited), FLOOD_SECONDS / 2,
                     "workload1 blocked on every connector its flood reached")
            time.sleep(BUDGET_WHOLE_S)
        began = time.monotonic() - started
        names = [arg for name in PROBE_NAMES for arg in ("--name", name)]
        probe = json.loads(lab.exec(
            "workload2", lab.python, "-m", "lab.traffic.dns_probe", "--server", RESOLVER,
            "--count", str(PROBE_COUNT), "--interval", str(PROBE_INTERVAL_S), *names,
            "--timeout", "1", timeout=60).stdout)
        probe["after_flood_s"] = round(began, 3)
        server = PAGE_FROM.get(lab.topology.name, WEB)
        page = lab.exec("workload2", "curl", "-s", "-m", "5", f"http://{server}/during-flood",
                        check=False)
    finally:
        lab.exec("workload1", "touch", stop_file, check=False)
        flooding.join(FLOOD_SECONDS + 40)
        lab.exec("workload1", "rm", "-f", stop_file, check=False)
    return report, probe, page


@allure.feature("attacks")
@allure.story("DNS flood from inside the VPC")
def test_other_workloads_keep_their_dns_and_flows_while_one_floods(flooded: LabHandle) -> None:
    before = _dropped_by_kernel(flooded)
    geneve_before = _geneve_received(flooded)
    lab_lost_before = _lab_gwlb_dropped(flooded)
    socket_lost_before = _connectors_socket_lost(flooded)
    report, probe, page = _flooding(flooded, RESOLVER)
    dropped = _dropped_by_kernel(flooded) - before
    geneve = _geneve_received(flooded) - geneve_before
    lab_lost = _lab_gwlb_dropped(flooded) - lab_lost_before
    socket_lost = _connectors_socket_lost(flooded) - socket_lost_before
    figures = {"flood": report, "workload2_dns": probe, "kernel_dropped": dropped,
               "geneve_plane_received": geneve, "lab_gwlb_dropped": lab_lost,
               "connectors_socket_lost": socket_lost}
    attach_json(figures, "flood figures")
    assert report["frames"] >= A_FLOOD, report  # it was a flood
    assert report["ended"] == "stopped", report  # ... until workload2 was done, not before
    assert socket_lost == 0, figures  # what the limit admitted was all read
    assert probe["outcomes"].get("answer", 0) >= PROBE_COUNT - LOST_AT_MOST, figures
    assert page.ok
    assert "during-flood" in page.stdout
    assert dropped > 0.5 * int(report["frames"])  # type: ignore[call-overload]
    # Through a GWLB the flood is dropped before the user-space GENEVE plane reads it (the
    # inner source's limit on the service interface), not after it paid for each frame:
    # what it reads is what each connector's limit admits, and workload2's questions.
    admitted = len(MGMT) * (LIMIT * float(report["seconds"]) + BURST)  # type: ignore[arg-type]
    assert geneve <= admitted + 1_000, (geneve, admitted, report)


# Where the workloads' IPv6 meets the connectors: the route table sends ::/0 to the GWLB
# endpoint too, and the connectors, which have no IPv6 path, drop it in user space
# (counted, logged "IPv6 Not Carried"). Until the DNS limit inside GENEVE also matched
# IPv6 sources, their GENEVE plane read an IPv6 flood frame by frame (117,626 of 120,000
# frames); now the kernel drops what a source sends over the limit, as for IPv4.
IPV6_TO_THE_CONNECTORS = ["aws-natgw-ipv6-connector"]
WEB6 = "2001:db8:18::10:10"  # web on the internet; the lab's resolver has no IPv6
VPC6 = "2001:db8:10::/56"  # lab/topologies/cloud/dual-stack.yaml
COUNT_VPC_DNS6 = f"""table inet cclab_test_vpc_dns6 {{
  chain prerouting {{ type filter hook prerouting priority -300; policy accept;
                     ip6 saddr {VPC6} udp dport 53 counter; }}
}}"""


def _ipv6_at_the_connectors(lab: LabHandle) -> tuple[int, int]:
    """IPv6 frames the connectors' GENEVE plane read, and those it dropped (no path)."""
    return (sum(counted(lab, MGMT[cc], "geneve_rx_ipv6", via=cc) for cc in MGMT),
            sum(counted(lab, MGMT[cc], "dropped_ipv6_no_path", via=cc) for cc in MGMT))


def _vpc_dns6_at_web(lab: LabHandle) -> int:
    return nft_packets(lab, "web", "cclab_test_vpc_dns6", family="inet")


@allure.feature("attacks")
@allure.story("IPv6 DNS flood from inside the VPC, through connectors that do not carry IPv6")
@pytest.mark.parametrize("flooded", on_each_backend(IPV6_TO_THE_CONNECTORS, docker=[]),
                         indirect=True, scope="module")
def test_an_ipv6_flood_the_connectors_drop_costs_the_other_workloads_nothing(
        flooded: LabHandle) -> None:
    """workload1 floods web's IPv6 address with DNS questions (its ::/0 leads to the GWLB):
    the connectors' kernel drops what is over workload1's limit, their GENEVE plane reads
    and drops the rest (no IPv6 path), and workload2's IPv4 DNS and page are kept. Where
    a carried frame would be seen, web, counts the VPC's IPv6 DNS: one datagram from the
    bastion (the management subnet has an IPv6 way out) shows the count works, and the
    flood adds nothing to it."""
    flooded.exec("web", "nft", "-f", "-", input_text=COUNT_VPC_DNS6)
    try:
        flooded.exec("bastion", flooded.python, "-c", "import socket; socket.socket("
                     "socket.AF_INET6, socket.SOCK_DGRAM).sendto(b'control', "
                     f"('{WEB6}', 53))")
        wait_for(lambda: _vpc_dns6_at_web(flooded) == 1, 5, "the bastion's datagram at web")
        read_before, dropped_before = _ipv6_at_the_connectors(flooded)
        limited_before = _dropped_by_kernel(flooded)
        lab_lost_before = _lab_gwlb_dropped(flooded)
        report, probe, page = _flooding(flooded, WEB6)
        path_window("the flood's last frames through the GWLB and a connector").wait()
        read, dropped = (n - b for n, b in zip(_ipv6_at_the_connectors(flooded),
                                               (read_before, dropped_before), strict=True))
        limited = _dropped_by_kernel(flooded) - limited_before
        at_web = _vpc_dns6_at_web(flooded)
        lab_lost = _lab_gwlb_dropped(flooded) - lab_lost_before
    finally:
        flooded.exec("web", "nft", "delete", "table", "inet", "cclab_test_vpc_dns6",
                     check=False)
    attach_json({"flood": report, "workload2_dns": probe, "kernel_dropped": limited,
                 "connectors_read_ipv6": read, "connectors_dropped_ipv6": dropped,
                 "vpc_dns6_at_web": at_web, "lab_gwlb_dropped": lab_lost},
                "IPv6 flood figures")
    assert report["frames"] >= A_FLOOD, report  # it was a flood
    assert report["ended"] == "stopped", report  # ... until workload2 was done, not before
    # It reached the connectors: all the lab's GWLB carried, most of it dropped by their
    # kernel, the rest read
    # The lab's GWLB carried it (its fast path, IPv6 too): what its TUNs' full queues
    # lost, counted by its kernel, is a few of each of the flood's 4,096 flows' first
    # packets (user space reads those until it has written the flow), at most a twentieth
    # (1.8% in a netns run of 335,000 frames)
    assert lab_lost <= 0.05 * int(report["frames"]), (lab_lost, report)
    carried = int(report["frames"]) - lab_lost
    assert limited + read >= 0.99 * carried, (limited, read, lab_lost, report)
    assert limited > 0.5 * report["frames"], (limited, report)
    admitted = len(MGMT) * (LIMIT * float(report["seconds"]) + BURST)
    assert 0 < read <= admitted + 1_000, (read, admitted, report)
    assert dropped == read  # each one read was dropped: no IPv6 path
    assert at_web == 1, "IPv6 the connectors read reached the internet"
    # No answer to the flood spends workload1's /24 budget (the listener never sees it),
    # so the spec's RRL loss of the IPv4 flood does not apply; the bar does.
    assert probe["outcomes"].get("answer", 0) >= PROBE_COUNT - LOST_AT_MOST, probe
    assert page.ok
    assert "during-flood" in page.stdout


# A connector that does not run for a moment (a loaded host, a VM's stolen time) must
# find, when it runs again, every question its per-source limit admitted meanwhile: a
# second and a half of one client under the limit is 900 questions, where the kernel's
# default socket queue (208 KiB) holds about 270 (the mutant dns-listener-default-queue).
STALLED_PPS, STALLED_SECONDS = 600, 1.5


@allure.feature("attacks")
@allure.story("DNS flood from inside the VPC")
@pytest.mark.parametrize("flooded", on_each_backend(["azure-no-natgw"], docker=[]),
                         indirect=True, scope="module")
def test_what_the_limit_admits_while_the_connectors_stall_is_all_read_after(
        flooded: LabHandle) -> None:
    """Both connectors stopped (SIGSTOP: the Azure ILB spreads a client's questions over
    both), workload1 asks 900 questions at 600 a second, under its limit; once they run
    again their sockets hand every one over: the connectors read at least as many
    datagrams as the kernel admitted, and no full socket queue lost any."""
    pids = {cc: flooded.service_pid(cc, "connector") for cc in MGMT}
    assert None not in pids.values(), pids
    lost_before, read_before = _connectors_socket_lost(flooded), _connectors_read(flooded)
    limited_before = _dropped_by_kernel(flooded)
    for cc, pid in pids.items():
        flooded.exec(cc, "kill", "-STOP", str(pid))
    try:
        report = run_flood(flooded.backend, "workload1", "dns-flood", RESOLVER,
                           int(STALLED_PPS * STALLED_SECONDS), STALLED_SECONDS + 5,
                           pps=STALLED_PPS)
        path_window("the last questions into the connectors' socket queues").wait()
    finally:
        for cc, pid in pids.items():
            flooded.exec(cc, "kill", "-CONT", str(pid), check=False)
    admitted = int(report["frames"]) - (_dropped_by_kernel(flooded) - limited_before)
    assert admitted >= 0.9 * STALLED_PPS * STALLED_SECONDS, (admitted, report)  # it arrived
    wait_for(lambda: _connectors_read(flooded) - read_before >= admitted, 10,
             f"the connectors reading the {admitted} questions their limit admitted")
    assert _connectors_socket_lost(flooded) - lost_before == 0
    balancer_ready(flooded)  # the ILB's probes went unanswered meanwhile
