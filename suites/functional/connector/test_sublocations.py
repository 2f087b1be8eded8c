"""Sub-locations (issue 18 part 2): two workload VPCs with one address plan.

workload1 (VPC A) and workload-b (VPC B) are both 10.10.1.11, each behind its own
GWLB endpoint (vpce-0a0a0a0a0a0a0a0a, vpce-0b0b0b0b0b0b0b0b); the connectors map
them to loc-a and loc-b (`lab/topologies/connectors/gwlb-subloc-cc*.yaml`).
What each check expects comes from that config and spec §5.1 (`locations`: a rule
naming locations applies to their flows only) and §5.2 (first match):
web:80 is Direct for loc-a (rule 2, web-direct) and dropped for loc-b (rule 1,
web-drop-loc-b); web:8080 is Direct (rule 3, web-8080-by-name) only to an address the flow's own
location learned for www.web.example; otherwise the default ZIA rule carries it
(the web server sees the ZIA edge 198.19.1.1); web:8081 is Direct for both
(rule 4, web-8081-everyone).
Outcomes are judged at the far end (the web server's log of requests, by path),
on the wire (GENEVE captured between the GWLB and the connectors, read for the
endpoint each packet carries), and in the connectors' session logs and metrics.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import allure
from scapy.layers.inet import IP, TCP, UDP
from scapy.utils import rdpcap

from lab.api import LabHandle
from lab.backends.base import ExecResult
from lab.events import Mark
from lab.wire.geneve import endpoint_id, eni_of, inner_of
from suites.fixtures.allure_hooks import attach_pcap
from suites.fixtures.each_node import run_in_each
from suites.fixtures.lab import wait_targets_healthy
from suites.fixtures.windows import dns_answer_window, path_window
from suites.functional.connector.gwlb_helpers import metrics

# Tier: from the sublocation_lab fixture (netns and docker).
WEB = "198.18.10.10"
SIDES = {"workload1": "loc-a", "workload-b": "loc-b"}
ENDPOINTS = {"loc-a": endpoint_id("vpce-0a0a0a0a0a0a0a0a"),
             "loc-b": endpoint_id("vpce-0b0b0b0b0b0b0b0b")}
CONNECTORS = ("cc1", "cc2")
CONNECTOR_ADDRESSES = ("10.10.3.31", "10.10.3.32")  # Direct: SNAT to a service address
ZIA_EDGE = "198.19.1.1"


def _curl(url: str, local_port: int | None = None) -> tuple[str, ...]:
    port = ("--local-port", str(local_port)) if local_port is not None else ()
    return ("curl", "-s", "-m", "3", *port, url)


def _get(lab: LabHandle, node: str, url: str, *, local_port: int | None = None) -> ExecResult:
    return lab.exec(node, *_curl(url, local_port), check=False, timeout=15)


def _at_once(lab: LabHandle, calls: dict[str, tuple[str, int | None]]) -> dict[str, ExecResult]:
    """Each node's GET, all started together."""
    return run_in_each(lab, {node: _curl(url, port) for node, (url, port) in calls.items()},
                       check=False, timeout=15)


def _web_paths(lab: LabHandle, mark: Mark) -> list[str]:
    return [e["path"] for e in lab.events("web", "http.request", after=mark)]


def _flows(lab: LabHandle, mark: Mark, sport: int) -> list[dict[str, object]]:
    return [e for node in CONNECTORS
            for e in lab.events(node, "flow.new", after=mark)
            if e.get("sport") == sport and e.get("dst") == WEB]


def _carried_by_endpoint(pcap: Path, sport: int, dport: int) -> dict[int, int]:
    """GENEVE packets from the GWLB to the connectors whose inner TCP segment has
    these ports, counted by the endpoint ID their header carries."""
    carried: dict[int, int] = {}
    for packet in rdpcap(str(pcap)):
        if UDP not in packet or packet[UDP].dport != 6081 or packet[IP].src != "10.10.3.5":
            continue
        datagram = bytes(packet[UDP].payload)
        inner = IP(inner_of(datagram) or b"")
        if TCP in inner and inner[TCP].sport == sport and inner[TCP].dport == dport:
            eni = eni_of(datagram) or 0
            carried[eni] = carried.get(eni, 0) + 1
    return carried


@allure.feature("sublocations")
def test_each_vpc_reaches_the_internet_through_its_own_endpoint(
        sublocation_lab: LabHandle) -> None:
    """Positive controls: both VPCs' traffic is carried and answered back into the VPC
    that sent it, although both workloads have one address."""
    lab = sublocation_lab
    mark = lab.mark()
    a = _get(lab, "workload1", f"http://{WEB}/control-a")
    b = _get(lab, "workload-b", f"http://{WEB}:8080/control-b")
    assert a.ok, a
    assert b.ok, b
    assert '"path": "/control-a"' in a.stdout  # each answer reached the VPC that asked
    assert '"path": "/control-b"' in b.stdout
    assert '"seen_source": "198.19.1.1"' in b.stdout  # 8080: the default ZIA rule
    assert set(_web_paths(lab, mark)) == {"/control-a", "/control-b"}


@allure.feature("sublocations")
def test_one_address_in_two_locations_at_once_gets_each_locations_rule(
        sublocation_lab: LabHandle, pcap_dir: Path) -> None:
    """Both workloads open the same TCP 5-tuple to web:80 at the same time. loc-a's is
    Direct (the web server gets it), loc-b's is dropped by the rule that names loc-b:
    its request never reaches the web server, and loc-a's flow is not disturbed.
    This is the check on flows keyed by location; a connector that ignored the
    endpoint would make both flows Direct and this outcome a race (the session-log
    and DNS tests below catch that fault: suites/mutants/catalogue.py)."""
    lab = sublocation_lab
    port = 41000
    pcap = pcap_dir / "gwlb-eth-svc-sublocations.pcap"
    mark = lab.mark()
    with lab.capture("gwlb", "eth-svc", pcap):
        got = _at_once(lab, {"workload1": (f"http://{WEB}/same-a", port),
                             "workload-b": (f"http://{WEB}/same-b", port)})
        path_window("loc-b's retried SYNs reaching the web server").wait()
    attach_pcap(pcap, "GWLB to connectors (GENEVE)")
    # On the wire first: both sides' SYNs reached a connector, each with its endpoint.
    carried = _carried_by_endpoint(pcap, port, 80)
    assert carried.get(ENDPOINTS["loc-a"], 0) >= 1, carried
    assert carried.get(ENDPOINTS["loc-b"], 0) >= 1, carried
    # The far end: loc-a's request arrived, answered; loc-b's never did.
    assert got["workload1"].ok, got["workload1"]
    assert '"path": "/same-a"' in got["workload1"].stdout
    assert not got["workload-b"].ok, got["workload-b"]
    assert _web_paths(lab, mark) == ["/same-a"]


@allure.feature("sublocations")
def test_the_same_5_tuple_from_both_locations_is_carried_for_each(
        sublocation_lab: LabHandle, pcap_dir: Path) -> None:
    """Both workloads open the SAME TCP 5-tuple (10.10.1.11:41020 to web:8081, Direct
    for every location by rule 4) at once, and the web server holds each request a
    second, so both connections are open together in the one connector the GWLB
    hashes that 5-tuple to. Each side must get its own answer (the echoed path names
    it), the web server must see two connections (two source ports of the connector's
    service address: SNAT kept them apart), and the session log must name both
    locations. The kernel's connection tracking knows 5-tuples only: without a
    conntrack zone and a TUN per location, loc-b's SYN would land on loc-a's
    connection and one side would get no answer (docs/decisions.md)."""
    lab = sublocation_lab
    port = 41020
    pcap = pcap_dir / "gwlb-eth-svc-same-5-tuple.pcap"
    mark = lab.mark()
    with lab.capture("gwlb", "eth-svc", pcap):
        got = _at_once(lab, {"workload1": (f"http://{WEB}:8081/both-a?hold=1", port),
                             "workload-b": (f"http://{WEB}:8081/both-b?hold=1", port)})
    attach_pcap(pcap, "GWLB to connectors (GENEVE)")
    carried = _carried_by_endpoint(pcap, port, 8081)  # ingress: both sides reached cc
    assert carried.get(ENDPOINTS["loc-a"], 0) >= 1, carried
    assert carried.get(ENDPOINTS["loc-b"], 0) >= 1, carried
    assert got["workload1"].ok, got["workload1"]
    assert got["workload-b"].ok, got["workload-b"]
    assert '"path": "/both-a?hold=1"' in got["workload1"].stdout  # each its own answer
    assert '"path": "/both-b?hold=1"' in got["workload-b"].stdout
    seen = [e for e in lab.events("web", "http.request", after=mark) if e["dport"] == 8081]
    assert sorted(e["path"] for e in seen) == ["/both-a?hold=1", "/both-b?hold=1"]
    assert {e["src"] for e in seen} <= set(CONNECTOR_ADDRESSES), seen  # Direct: SNAT
    assert len({(e["src"], e["sport"]) for e in seen}) == 2, seen  # two connections
    flows = [f for f in _flows(lab, mark, port) if f.get("dport") == 8081]
    assert sorted((f["location"], f["method"], f["rule"]) for f in flows) == [
        ("loc-a", "DIRECT", "web-8081-everyone"), ("loc-b", "DIRECT", "web-8081-everyone")]


@allure.feature("sublocations")
def test_the_session_log_names_each_flows_location(sublocation_lab: LabHandle) -> None:
    """One flow.new per side, naming its location, with its own rule's verdict."""
    lab = sublocation_lab
    mark = lab.mark()
    got = _at_once(lab, {"workload1": (f"http://{WEB}/log-a", 41010),
                         "workload-b": (f"http://{WEB}/log-b", 41011)})
    assert got["workload1"].ok, got["workload1"]
    seen = {}
    for side, sport in (("loc-a", 41010), ("loc-b", 41011)):
        flows = _flows(lab, mark, sport)
        assert len(flows) == 1, flows
        seen[side] = (flows[0]["location"], flows[0]["method"], flows[0]["rule"])
    assert seen == {"loc-a": ("loc-a", "DIRECT", "web-direct"),
                    "loc-b": ("loc-b", "DROP", "web-drop-loc-b")}


@allure.feature("sublocations")
def test_licences_count_the_same_address_once_per_location(sublocation_lab: LabHandle) -> None:
    """Both workloads complete a TCP handshake (web:8080, allowed from both locations
    by ZIA or by name): the two hosts at 10.10.1.11 are two workloads, one per location."""
    lab = sublocation_lab
    mark = lab.mark()
    got = _at_once(lab, {"workload1": (f"http://{WEB}:8080/lic-a", None),
                         "workload-b": (f"http://{WEB}:8080/lic-b", None)})
    assert all(r.ok for r in got.values()), got
    assert sorted(_web_paths(lab, mark)) == ["/lic-a", "/lic-b"]
    counted = {name: 0.0 for name in ("loc_a", "loc_b", "vpc_lab")}
    for node in CONNECTORS:
        values = metrics(lab, node)
        for name in counted:
            counted[name] += values.get(f"workloads_location_{name}", 0.0)
    assert counted["loc_a"] >= 1, counted
    assert counted["loc_b"] >= 1, counted
    assert counted["vpc_lab"] == 0, counted  # no flow came from an unmapped endpoint


def _seen_source(result: ExecResult) -> str:
    assert result.ok, result
    return str(json.loads(result.stdout)["seen_source"])


@allure.feature("sublocations")
def test_a_locations_names_survive_a_connector_restart_and_stay_its_own(
        sublocation_lab: LabHandle) -> None:
    """loc-a resolves www.web.example; both connectors restart; loc-a's web:8080 flow is
    still Direct by name (rule 3) without asking again, and loc-b's still goes by the
    default ZIA rule: the restart brought back loc-a's names, and only to loc-a. (The
    store alone is checked in process, test_sublocation_state.py: here the binding
    log's replay gives the names back too.) Runs before the test below, which teaches
    loc-b the name."""
    lab = sublocation_lab
    url = f"http://{WEB}:8080/"
    answer = lab.exec("workload1", "dig", "+short", "+time=3", "www.web.example", "@198.18.53.53")
    assert answer.stdout.split() == [WEB]
    assert _seen_source(_get(lab, "workload1", url + "learned-a")) in CONNECTOR_ADDRESSES
    for node in CONNECTORS:
        lab.restart_service(node, "connector")
    wait_targets_healthy(lab, "gwlb")
    mark = lab.mark()
    assert _seen_source(_get(lab, "workload1", url + "restarted-a")) in CONNECTOR_ADDRESSES
    assert _seen_source(_get(lab, "workload-b", url + "restarted-b")) == ZIA_EDGE
    asked = [e for e in lab.events("dns", "dns.query", after=mark)
             if e.get("qname", "").rstrip(".") == "www.web.example"]
    assert asked == []  # nobody asked again: the names came back with the restart


@allure.feature("sublocations")
def test_a_name_learned_in_one_location_steers_only_that_locations_flows(
        sublocation_lab: LabHandle) -> None:
    """Rule 3 sends web:8080 Direct when the flow's destination is an address its own
    location learned for www.web.example; otherwise the default ZIA rule carries it
    (the web server sees the ZIA edge 198.19.1.1). loc-a resolves the name; loc-b's
    flow to the same address still goes by ZIA until loc-b resolves it too."""
    lab = sublocation_lab
    url = f"http://{WEB}:8080/"
    # loc-b has not resolved the name: ZIA (the control for what follows)
    assert _seen_source(_get(lab, "workload-b", url + "before")) == ZIA_EDGE
    answer = lab.exec("workload1", "dig", "+short", "+time=3", "www.web.example", "@198.18.53.53")
    assert answer.stdout.split() == [WEB]
    # loc-a's flow: Direct by name (positive control: the learned name steers loc-a)
    assert _seen_source(_get(lab, "workload1", url + "named-a")) in CONNECTOR_ADDRESSES
    # loc-b's flow to the same address, the same moment: not steered by loc-a's answer
    assert _seen_source(_get(lab, "workload-b", url + "named-b")) == ZIA_EDGE
    answer = lab.exec("workload-b", "dig", "+short", "+time=3", "www.web.example",
                      "@198.18.53.53")
    assert answer.stdout.split() == [WEB]
    assert _seen_source(_get(lab, "workload-b", url + "after-b")) in CONNECTOR_ADDRESSES


def _dig(lab: LabHandle, node: str, name: str) -> ExecResult:
    return lab.exec(node, "dig", "+short", "+time=2", "+tries=1", name, "@198.18.53.53",
                    check=False, timeout=15)


@allure.feature("sublocations")
def test_dns_rules_and_pools_are_each_locations_own(sublocation_lab: LabHandle) -> None:
    """DNS rules carry `locations` too (spec §6.1), and the pool is the first matching
    REDIR_ZPA rule's (§6.6 item 7): www.web2.example is blocked for loc-b only (a
    silent drop: no answer, and the resolver never asked); app.corp.example is
    answered from pool-a (10.254.64.0/24) in loc-a and pool-b (10.254.65.0/24) in
    loc-b. Both workloads ask at once; the DNS log names each query's location."""
    lab = sublocation_lab
    mark = lab.mark()
    with ThreadPoolExecutor(2) as pool:
        web2 = dict(zip(SIDES, pool.map(lambda n: _dig(lab, n, "www.web2.example"), SIDES),
                        strict=True))
        app = dict(zip(SIDES, pool.map(lambda n: _dig(lab, n, "app.corp.example"), SIDES),
                       strict=True))
    dns_answer_window("loc-b's blocked query reaching the resolver").wait()
    # loc-a first (the positive control): answered, and the resolver was asked once
    assert web2["workload1"].stdout.split() == ["198.18.10.20"], web2["workload1"]
    asked = [e for e in lab.events("dns", "dns.query", after=mark)
             if e.get("qname", "").rstrip(".") == "www.web2.example"]
    assert len(asked) == 1, asked
    assert "198.18.10.20" not in web2["workload-b"].stdout, web2["workload-b"]
    assert "timed out" in web2["workload-b"].stdout + web2["workload-b"].stderr
    pools = {"workload1": "10.254.64.", "workload-b": "10.254.65."}
    for node, prefix in pools.items():
        addresses = app[node].stdout.split()
        assert len(addresses) == 1, app[node]
        assert addresses[0].startswith(prefix), (node, addresses)
    logged = {(e["qname"].rstrip("."), e["location"]): e["rule"]
              for node in CONNECTORS for e in lab.events(node, "dns.query", after=mark)}
    assert logged == {("www.web2.example", "loc-a"): "Default Connector DNS Rule",
                      ("www.web2.example", "loc-b"): "block-web2-loc-b",
                      ("app.corp.example", "loc-a"): "app-pool-a",
                      ("app.corp.example", "loc-b"): "app-pool-b"}


@allure.feature("sublocations")
def test_a_routed_source_is_judged_and_logged_by_its_ranges_location(
        routed_sublocation_lab: LabHandle) -> None:
    """Routed traffic (the Azure ILB's) has no GWLB endpoint: workload2's source
    10.10.1.12 is in loc-r by runtime.routed_locations
    (`lab/topologies/connectors/azure-subloc-cc*.yaml`), where rule 1 drops web:80;
    workload1 (in no range: the connectors' own location, vpc-lab) is Direct by rule 2.
    Judged at the web server, and in the session log, which shows loc-r's flow reached
    a connector and was dropped there by loc-r's rule."""
    lab = routed_sublocation_lab
    mark = lab.mark()
    own = _get(lab, "workload1", f"http://{WEB}/routed-own")
    sub = _get(lab, "workload2", f"http://{WEB}/routed-loc-r")
    assert own.ok, own  # positive control: the own location's rule 2
    assert '"path": "/routed-own"' in own.stdout
    assert not sub.ok, sub
    assert _web_paths(lab, mark) == ["/routed-own"]
    flows = [e for node in CONNECTORS for e in lab.events(node, "flow.new", after=mark)
             if e.get("src") == "10.10.1.12" and e.get("dst") == WEB and e.get("dport") == 80]
    assert flows, "workload2's flow never reached a connector"
    assert {(f["location"], f["method"], f["rule"]) for f in flows} == {
        ("loc-r", "DROP", "web-drop-loc-r")}
