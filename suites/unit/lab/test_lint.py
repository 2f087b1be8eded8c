"""`cclab lint` (lab.lint): each check fires on a small topology made to break it, and
stays quiet on the same topology with the rule fixed."""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest

from lab.catalog import TOPOLOGY_DIR
from lab.cli import main
from lab.lint import Finding, lint
from lab.lint.scope import inside, outside
from lab.model import Topology
from lab.schema import load_topology, parse_topology

pytestmark = pytest.mark.unit

SSH_FROM_MGMT = {"proto": "tcp", "ports": 22, "from": ["10.0.2.0/24"]}
ALL_FROM_VPC = {"proto": "all", "from": ["10.0.0.0/16"]}
MGMT_OUT = [{"proto": p, "ports": n, "to": ["0.0.0.0/0"]}
            for p, n in (("udp", 53), ("tcp", 53), ("tcp", 443), ("udp", 443), ("udp", 123))]


def topology(*, mgmt_in: list[Any] | None = None, svc_in: list[Any] | None = None,
             mgmt_out: list[Any] | None = None, public: bool = True, svc_kind: str = "sg",
             tags: dict[str, Any] | None = None, udr: dict[str, Any] | None = None,
             mgmt_groups: str = "[mgmt]", acl: dict[str, Any] | None = None) -> Topology:
    """One connector (cc1: eth-mgmt, eth-svc) in a VPC behind an internet gateway, an
    attacker beyond it; the rules as given (default: the seed's recommended ones)."""
    groups = {
        "mgmt": {"inbound": [SSH_FROM_MGMT] if mgmt_in is None else mgmt_in,
                 "outbound": MGMT_OUT if mgmt_out is None else mgmt_out},
        "svc": {"kind": svc_kind, "inbound": [ALL_FROM_VPC] if svc_in is None else svc_in,
                "outbound": [{"proto": "all", "to": ["0.0.0.0/0"], "priority": 100}
                             if svc_kind == "nsg" else {"proto": "all", "to": ["0.0.0.0/0"]}]},
    }
    pub = (lambda a: f", public: {a}") if public else (lambda a: "")
    fabric_routes = [{"to": "default", "via": "10.0.250.2"}] + ([udr] if udr else [])
    text = f"""
name: t
tags: {json.dumps(tags or {})}
security_groups: {json.dumps(groups)}
network_acls: {json.dumps({"acl-mgmt": acl} if acl else {})}
links:
  - name: mgmt
    subnet: 10.0.2.0/24
    network_acl: "{'acl-mgmt' if acl else ''}"
    endpoints:
      - {{node: cc1, ifname: eth-mgmt, address: 10.0.2.21{pub('203.0.113.21')},
         security_groups: {mgmt_groups}}}
      - {{node: fabric, ifname: eth-mgmt, address: 10.0.2.1}}
  - name: service
    subnet: 10.0.3.0/24
    endpoints:
      - {{node: cc1, ifname: eth-svc, address: 10.0.3.31{pub('203.0.113.31')},
         security_groups: [svc]}}
      - {{node: fabric, ifname: eth-svc, address: 10.0.3.1}}
  - name: attach
    subnet: 10.0.250.0/24
    endpoints:
      - {{node: fabric, ifname: eth-igw, address: 10.0.250.1}}
      - {{node: igw, ifname: eth-vpc, address: 10.0.250.2}}
  - name: internet
    subnet: 198.18.0.0/15
    endpoints:
      - {{node: igw, ifname: eth-inet, address: 198.18.0.1}}
      - {{node: attacker, ifname: eth0, address: 198.18.99.99}}
nodes:
  fabric: {{role: router, routes: {json.dumps(fabric_routes)}}}
  cc1:
    role: connector
    routes: [{{to: default, via: 10.0.3.1}}, {{to: default, via: 10.0.2.1, from: 10.0.2.21/32}}]
    services: [{{kind: connector, config: connectors/aws-cc1.yaml}}]
  igw:
    role: gateway
    routes: [{{to: 10.0.0.0/16, via: 10.0.250.1}}]
    gateway: {{kind: internet, inside: eth-vpc, outside: eth-inet, vpc: [10.0.0.0/16]}}
  attacker: {{routes: [{{to: 203.0.113.0/24, via: 198.18.0.1}}]}}
"""
    return parse_topology(text, source=TOPOLOGY_DIR / "t.yaml")


def found(topo: Topology, check: str, **options: Any) -> list[Finding]:
    return [f for f in lint(topo, **options) if f.check.id == check]


def where(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.severity, f.path) for f in findings]


def test_the_recommended_rules_give_no_finding() -> None:
    assert lint(topology()) == ()


# -- management interface -------------------------------------------------------------------

def test_ssh_open_to_the_internet_on_a_public_management_interface_is_an_error() -> None:
    topo = topology(mgmt_in=[SSH_FROM_MGMT, {"proto": "tcp", "ports": 22, "from": ["0.0.0.0/0"]}])
    (finding,) = found(topo, "mgmt-internet")
    assert where([finding]) == [("error", "security_groups.mgmt.inbound[1]")]
    assert "tcp 22 to cc1/eth-mgmt (203.0.113.21)" in finding.message
    assert "198.18.99.99" in finding.message


def test_any_listener_port_a_rule_opens_on_management_is_an_error() -> None:
    topo = topology(mgmt_in=[SSH_FROM_MGMT, {"proto": "tcp", "ports": 9100, "from": ["0.0.0.0/0"]}])
    (finding,) = found(topo, "mgmt-internet")
    assert "tcp 9100" in finding.message
    assert "tcp 22 " not in finding.message


def test_management_open_wide_without_a_public_address_is_a_warning_not_an_error() -> None:
    topo = topology(mgmt_in=[{"proto": "tcp", "ports": 22, "from": ["0.0.0.0/0"]}], public=False)
    assert found(topo, "mgmt-internet") == []
    (finding,) = found(topo, "mgmt-open-wide")
    assert where([finding]) == [("warning", "security_groups.mgmt.inbound[0]")]


def test_an_unfiltered_public_management_interface_is_named_by_its_link() -> None:
    (finding,) = found(topology(mgmt_groups="[]"), "mgmt-internet")
    assert where([finding]) == [("error", "links[0]")]
    assert "no security group filters cc1/eth-mgmt" in finding.message


def test_a_network_acl_that_stops_the_internet_leaves_a_warning_on_the_open_rule() -> None:
    """The internet question is walked through the subnet's ACL (lab.reach), the rule
    question is not: the open group rule is still worth a warning."""
    acl = {"inbound": [{"rule": 100, "proto": "all", "cidr": "10.0.0.0/16", "action": "allow"}],
           "outbound": [{"rule": 100, "proto": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}
    open_ssh = [{"proto": "tcp", "ports": 22, "from": ["0.0.0.0/0"]}]
    assert where(found(topology(mgmt_in=open_ssh), "mgmt-internet")) == [
        ("error", "security_groups.mgmt.inbound[0]")]
    topo = topology(mgmt_in=open_ssh, acl=acl)
    assert found(topo, "mgmt-internet") == []
    assert where(found(topo, "mgmt-open-wide")) == [
        ("warning", "security_groups.mgmt.inbound[0]")]


def test_a_rule_keeps_only_its_worst_finding() -> None:
    topo = topology(mgmt_in=[{"proto": "tcp", "ports": 22, "from": ["0.0.0.0/0"]}])
    assert [f.check.id for f in lint(topo)] == ["mgmt-internet"]


def test_ssh_from_the_whole_vpc_is_beyond_the_management_range() -> None:
    topo = topology(mgmt_in=[{"proto": "tcp", "ports": 22, "from": ["10.0.0.0/16"]}])
    (finding,) = found(topo, "mgmt-beyond-range")
    assert where([finding]) == [("info", "security_groups.mgmt.inbound[0]")]
    assert "10.0.0.1" in finding.message  # a VPC address outside 10.0.2.0/24
    assert found(topo, "mgmt-beyond-range", management=[IPv4Network("10.0.0.0/16")]) == []


def test_a_deny_before_the_allow_keeps_the_range_check_quiet() -> None:
    """NSG order is judged by lab.reach: the allow never decides for the wide sources."""
    topo = topology(mgmt_in=[
        {"priority": 200, "proto": "tcp", "ports": 22, "from": ["0.0.0.0/0"]},
        {"priority": 100, "proto": "tcp", "ports": 22, "from": ["0.0.0.0/1", "128.0.0.0/1"],
         "action": "deny"}])
    topo = _as_nsg(topo, "mgmt")
    assert [f.check.id for f in lint(topo) if f.check.id.startswith("mgmt-")
            and f.check.id != "mgmt-egress-missing"] == []


def _as_nsg(topo: Topology, group: str) -> Topology:
    from dataclasses import replace

    groups = tuple(replace(g, kind="nsg") if g.name == group else g
                   for g in topo.security_groups)
    return replace(topo, security_groups=groups)


# -- service interface ----------------------------------------------------------------------

def test_service_open_to_the_internet_names_every_rule_that_admits() -> None:
    topo = topology(svc_in=[ALL_FROM_VPC, {"proto": "tcp", "ports": 443, "from": ["0.0.0.0/0"]},
                            {"proto": "all", "from": ["0.0.0.0/0"]}])
    assert where(found(topo, "service-internet")) == [
        ("error", "security_groups.svc.inbound[1]"), ("error", "security_groups.svc.inbound[2]")]


def test_service_quiet_when_only_the_vpc_is_admitted() -> None:
    topo = topology(svc_in=[ALL_FROM_VPC,
                            {"proto": "tcp", "ports": 443, "from": ["172.16.0.0/12"]}])
    assert found(topo, "service-internet") == found(topo, "service-non-local") == []


def test_service_non_local_without_a_public_address_is_a_warning() -> None:
    topo = topology(svc_in=[{"proto": "tcp", "ports": 443, "from": ["0.0.0.0/0"]}], public=False)
    assert found(topo, "service-internet") == []
    assert where(found(topo, "service-non-local")) == [
        ("warning", "security_groups.svc.inbound[0]")]


def test_dns_open_to_the_internet_is_its_own_error() -> None:
    topo = topology(svc_in=[ALL_FROM_VPC, {"proto": "udp", "ports": 53, "from": ["0.0.0.0/0"]}])
    (finding,) = found(topo, "dns-internet")
    assert where([finding]) == [("error", "security_groups.svc.inbound[1]")]
    assert "udp 53" in finding.message
    assert "tcp 53" not in finding.message


def test_dns_quiet_when_the_open_rule_is_https_only() -> None:
    topo = topology(svc_in=[ALL_FROM_VPC, {"proto": "tcp", "ports": 443, "from": ["0.0.0.0/0"]}])
    assert found(topo, "dns-internet") == []
    assert found(topo, "service-internet") != []


# -- Azure ----------------------------------------------------------------------------------

AZURE_TAGS = {"VirtualNetwork": {"virtual_network": ["10.0.0.0/16"]},
              "AzureLoadBalancer": ["198.51.100.16/32"], "Internet": ["0.0.0.0/1", "128.0.0.0/1"]}
DENY_ALL = {"priority": 4096, "proto": "all", "from": ["0.0.0.0/0"], "action": "deny"}
VNET_ALL = {"priority": 4000, "proto": "all", "from": ["VirtualNetwork"]}


def test_a_deny_all_before_azures_default_probe_rule_drops_the_probe() -> None:
    topo = topology(svc_kind="nsg", tags=AZURE_TAGS, svc_in=[VNET_ALL, DENY_ALL])
    (finding,) = found(topo, "azure-probe-missing")
    assert where([finding]) == [("error", "security_groups.svc.inbound[1]")]
    assert "tcp 50000 from 198.51.100.16" in finding.message


def test_the_probe_rule_before_the_deny_keeps_the_probe_check_quiet() -> None:
    probe = {"priority": 100, "proto": "tcp", "ports": 50000, "from": ["AzureLoadBalancer"]}
    topo = topology(svc_kind="nsg", tags=AZURE_TAGS, svc_in=[probe, VNET_ALL, DENY_ALL])
    assert found(topo, "azure-probe-missing") == []
    assert found(topology(svc_kind="nsg", tags=AZURE_TAGS, svc_in=[VNET_ALL]),
                 "azure-probe-missing") == []  # Azure's AllowAzureLoadBalancerInBound


def test_the_probe_check_is_for_azure_only() -> None:
    topo = topology(svc_in=[{"proto": "tcp", "ports": 443, "from": ["10.0.0.0/16"]}])
    assert found(topo, "azure-probe-missing") == []


def _udr(to: str) -> dict[str, str]:
    return {"to": to, "via": "10.0.250.2", "from": "10.0.3.0/24", "udr": "rt-svc/internet"}


def test_a_default_udr_on_the_connectors_subnet_widens_virtualnetwork() -> None:
    topo = topology(svc_kind="nsg", tags=AZURE_TAGS, svc_in=[VNET_ALL], udr=_udr("default"))
    (finding,) = found(topo, "virtualnetwork-widened")
    assert where([finding]) == [("error", "nodes.fabric.routes[1]")]
    assert finding.related == ("security_groups.svc.inbound[0]",
                               "security_groups.svc (default rule AllowVnetInBound)")
    assert "route 'rt-svc/internet' 0.0.0.0/0" in finding.message


def test_a_udr_to_a_private_prefix_is_info_and_no_udr_is_quiet() -> None:
    topo = topology(svc_kind="nsg", tags=AZURE_TAGS, svc_in=[VNET_ALL], udr=_udr("10.99.0.0/24"))
    assert where(found(topo, "virtualnetwork-widened")) == [("info", "nodes.fabric.routes[1]")]
    assert found(topology(svc_kind="nsg", tags=AZURE_TAGS, svc_in=[VNET_ALL]),
                 "virtualnetwork-widened") == []


# -- management egress ----------------------------------------------------------------------

def test_management_egress_lacking_ntp_dns_and_dtls_is_found_by_severity() -> None:
    topo = topology(mgmt_out=[{"proto": "tcp", "ports": 443, "to": ["0.0.0.0/0"]}])
    findings = found(topo, "mgmt-egress-missing")
    assert [(f.severity, f.message.split(" (")[0]) for f in findings] == [
        ("error", "no rule lets out udp 123"), ("warning", "no rule lets out udp 53"),
        ("info", "no rule lets out tcp 53"), ("info", "no rule lets out udp 443")]
    assert {f.path for f in findings} == {"security_groups.mgmt.outbound"}


def test_management_egress_without_tls_is_an_error() -> None:
    topo = topology(mgmt_out=[r for r in MGMT_OUT if r["ports"] != 443 or r["proto"] != "tcp"])
    assert [f.severity for f in found(topo, "mgmt-egress-missing")] == ["error"]


# -- helpers and the command ----------------------------------------------------------------

def test_outside_and_inside_pick_a_witness_address() -> None:
    rfc = [IPv4Network("10.0.0.0/8")]
    assert outside(IPv4Network("10.1.0.0/16"), rfc) is None
    assert str(outside(IPv4Network("0.0.0.0/0"), rfc)) == "0.0.0.1"
    assert str(inside(IPv4Network("10.0.0.0/16"), rfc, [IPv4Network("10.0.0.0/24")])) == \
        "10.0.1.1"
    assert inside(IPv4Network("10.0.2.0/24"), rfc, [IPv4Network("10.0.0.0/16")]) is None


def _write(tmp_path: Path, topo_text: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(topo_text)
    return path


def test_cli_exit_codes_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(TOPOLOGY_DIR / "aws-no-natgw.yaml")]) == 0
    assert "0 errors" in capsys.readouterr().out
    assert main(["lint", "--json", str(TOPOLOGY_DIR / "insecure.yaml")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["error"] == len(report["findings"]) > 0
    first = report["findings"][0]
    assert (first["check"], first["path"], first["line"]) == (
        "mgmt-internet", "security_groups.cc-mgmt.inbound[0]", 15)
    assert first["file"].endswith("lab/topologies/insecure.yaml")


def test_cli_bad_input_exits_2_naming_file_path_and_hint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "name: t\nlinks: []\nnodes: {a: {role: nobody}}\n")
    assert main(["lint", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: nodes.a.role" in err
    assert "hint:" in err
    assert main(["lint", "no-such-topology"]) == 2


def test_roles_come_from_the_connectors_config_and_override_the_names() -> None:
    from lab.lint.roles import connector_roles

    topo = topology(mgmt_in=[{"proto": "tcp", "ports": 22, "from": ["0.0.0.0/0"]}])
    assert connector_roles(topo, TOPOLOGY_DIR) == {"cc1": ("eth-mgmt", "eth-svc")}
    swapped = {"cc1": ("eth-svc", "eth-mgmt")}
    assert [f.check.id for f in lint(topo, swapped) if f.severity == "error"] == [
        "service-internet"]


def test_cli_management_range_quiets_the_range_check(capsys: pytest.CaptureFixture[str]) -> None:
    azure = str(TOPOLOGY_DIR / "azure-no-natgw.yaml")
    assert main(["lint", azure]) == 0
    assert "2 info" in capsys.readouterr().out
    assert main(["lint", "--management-range", "10.10.0.0/16", azure]) == 0
    assert "0 errors, 0 warnings, 0 info" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["lint", "--management-range", "10.10.0.0/33", azure])
    assert exited.value.code == 2


def test_ipv6_bypass_is_the_workloads_ipv6_default_to_a_gateway() -> None:
    """Read from the routes alone: the bypass variant's one added route, nothing in the
    secure variant (its ::/0 to the EIGW serves the management subnet, whose 0.0.0.0/0
    goes to the NAT gateway, no connector)."""
    bypass = load_topology(TOPOLOGY_DIR / "aws-natgw-ipv6-bypass.yaml")
    secure = load_topology(TOPOLOGY_DIR / "aws-natgw-ipv6.yaml")
    (finding,) = found(bypass, "ipv6-bypass")
    assert (finding.severity, finding.path) == ("error", "nodes.fabric.routes[5]")
    assert "link 'workloads'" in finding.message
    assert "(eigw)" in finding.message
    assert found(secure, "ipv6-bypass") == []
