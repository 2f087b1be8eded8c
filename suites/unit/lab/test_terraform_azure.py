"""Reading a plan's `azurerm_*` resources: which cloud a plan is (and a plan of both
refused), references followed to the stand-ins the CLI reader's model compares (a NIC's
subnet through a module, a VM's NICs, a rule's NSG by name, a route's next hop to the
load balancer), an address unknown before apply chosen where Azure leaves it free, and
what is not modelled reported as the CLI reader reports it."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest

from lab.imports import ExportError, import_export
from lab.imports.azure_model import Subscription
from lab.imports.problems import Origin, Problems
from lab.imports.terraform_azure import read_azure, snake
from lab.imports.terraform_plan import Plan, provider_of, read_plan
from suites.unit.lab.test_terraform_plan import config, refs

pytestmark = pytest.mark.unit


def resource(module: str, kind: str, name: str, values: dict[str, Any],
             index: int | None = None) -> dict[str, Any]:
    suffix = "" if index is None else f"[{index}]"
    item = {"address": f"{module}.{kind}.{name}{suffix}".lstrip("."), "mode": "managed",
            "type": kind, "name": name, "values": values}
    return item if index is None else {**item, "index": index}


def unknown(address: str, **flags: Any) -> dict[str, Any]:
    return {"address": address, "change": {"after_unknown": {"id": True, **flags}}}


RG = {"resource_group_name": "rg"}
NIC_UNKNOWN = {"ip_configuration": [{"subnet_id": True, "private_ip_address": True}]}


def nic(name: str, index: int, address: str | None) -> dict[str, Any]:
    config_block: dict[str, Any] = {"name": "ipconfig1", "primary": True,
                                    "private_ip_address_allocation": "Dynamic"}
    if address:
        config_block.update(private_ip_address=address, private_ip_address_allocation="Static")
    return resource("module.cc", "azurerm_network_interface", name,
                    {"name": f"{name}-{index}", **RG, "ip_configuration": [config_block],
                     "tags": {"Role": "cloud-connector"}}, index)


# module.net builds the VNet and subnet; module.cc the NICs (their subnet a variable the
# root fills from module.net's output), the VM, the NSG with a standalone rule, the ILB;
# the route table in module.net names the ILB's frontend through module.cc's output.
PLAN: dict[str, Any] = {
    "planned_values": {"root_module": {"child_modules": [
        {"address": "module.net", "resources": [
            resource("module.net", "azurerm_virtual_network", "hub",
                     {"name": "vnet-hub", **RG, "address_space": ["10.20.0.0/16"]}),
            resource("module.net", "azurerm_subnet", "svc",
                     {"name": "snet-svc", **RG, "virtual_network_name": "vnet-hub",
                      "address_prefixes": ["10.20.2.0/24"]}),
            resource("module.net", "azurerm_route_table", "wl",
                     {"name": "rt-wl", **RG}),
        ]},
        {"address": "module.cc", "resources": [
            # the unknown address first: the known ones must still keep theirs
            nic("service", 0, None),
            nic("mgmt", 0, "10.20.2.253"),
            resource("module.cc", "azurerm_linux_virtual_machine", "cc",
                     {"name": "cc-vm-1", **RG}, 0),
            resource("module.cc", "azurerm_network_security_group", "svc",
                     {"name": "nsg-svc", **RG}),
            resource("module.cc", "azurerm_network_security_rule", "probe",
                     {"name": "probe", **RG, "network_security_group_name": "nsg-svc",
                      "priority": 110, "direction": "Inbound", "access": "Allow",
                      "protocol": "Tcp", "source_address_prefix": "AzureLoadBalancer",
                      "source_port_range": "*", "destination_address_prefix": "*",
                      "destination_port_range": "50000"}),
            resource("module.cc", "azurerm_lb", "ilb",
                     {"name": "lb-cc", **RG, "frontend_ip_configuration": [
                         {"name": "fe", "private_ip_address_allocation": "Dynamic"}]}),
        ]}]}},
    "resource_changes": [
        unknown("module.net.azurerm_virtual_network.hub"),
        unknown("module.net.azurerm_subnet.svc"),
        unknown("module.net.azurerm_route_table.wl", route=True),
        unknown("module.cc.azurerm_network_interface.service[0]", **NIC_UNKNOWN),
        unknown("module.cc.azurerm_network_interface.mgmt[0]",
                ip_configuration=[{"subnet_id": True}]),
        unknown("module.cc.azurerm_linux_virtual_machine.cc[0]",
                network_interface_ids=[True, True]),
        unknown("module.cc.azurerm_network_security_group.svc"),
        unknown("module.cc.azurerm_lb.ilb", frontend_ip_configuration=[
            {"subnet_id": True, "private_ip_address": True}]),
    ],
    "configuration": {"root_module": {"module_calls": {
        "net": {"expressions": {"ilb_ip": refs("module.cc.ilb_ip", "module.cc")}, "module": {
            "resources": [
                config("azurerm_route_table", "wl", route=[{
                    "name": {"constant_value": "default"},
                    "address_prefix": {"constant_value": "0.0.0.0/0"},
                    "next_hop_type": {"constant_value": "VirtualAppliance"},
                    "next_hop_in_ip_address": refs("var.ilb_ip")}])],
            "outputs": {"svc_id": {"expression": refs("azurerm_subnet.svc.id",
                                                      "azurerm_subnet.svc")}}}},
        "cc": {"expressions": {"subnet_id": refs("module.net.svc_id", "module.net")},
               "module": {
                   "resources": [
                       config("azurerm_network_interface", "service", ip_configuration=[
                           {"subnet_id": refs("var.subnet_id")}]),
                       config("azurerm_network_interface", "mgmt", ip_configuration=[
                           {"subnet_id": refs("var.subnet_id")}]),
                       config("azurerm_linux_virtual_machine", "cc", network_interface_ids=refs(
                           "azurerm_network_interface.mgmt", "count.index",
                           "azurerm_network_interface.service")),
                       config("azurerm_lb", "ilb", frontend_ip_configuration=[
                           {"subnet_id": refs("var.subnet_id")}])],
                   "outputs": {"ilb_ip": {"expression": refs(
                       "azurerm_lb.ilb.frontend_ip_configuration[0].private_ip_address",
                       "azurerm_lb.ilb.frontend_ip_configuration[0]",
                       "azurerm_lb.ilb.frontend_ip_configuration", "azurerm_lb.ilb")}}}}}}},
}
SUBNET = '(module.net.azurerm_subnet.svc)'


def plan_of(data: dict[str, Any]) -> Plan:
    plan = read_plan(data, Origin("plan.json", ""), Problems(), {})
    assert plan is not None
    return plan


def read(data: dict[str, Any] = PLAN) -> tuple[Subscription, Problems]:
    problems = Problems()
    return read_azure(plan_of(data), problems, ["plan.json"]), problems


def test_a_plan_is_the_cloud_whose_resources_it_holds() -> None:
    assert provider_of(plan_of(PLAN), Problems()) == "azure"
    aws = {"planned_values": {"root_module": {"resources": [
        resource("", "aws_vpc", "main", {"cidr_block": "10.0.0.0/16"})]}}}
    assert provider_of(plan_of(aws), Problems()) == "aws"
    # neither: the AWS reader, which lists what the plan holds instead
    other = {"planned_values": {"root_module": {"resources": [
        resource("", "google_compute_network", "net", {})]}}}
    assert provider_of(plan_of(other), Problems()) == "aws"


def test_a_plan_of_both_clouds_is_one_error_naming_the_first_resource_of_each() -> None:
    both = {"planned_values": {"root_module": {"resources": [
        resource("", "azurerm_resource_group", "rg", {}),
        resource("", "aws_vpc", "main", {"cidr_block": "10.0.0.0/16"}),
        resource("", "aws_subnet", "a", {}),
        resource("", "azurerm_virtual_network", "hub", {})]}}}
    problems = Problems()
    assert provider_of(plan_of(both), problems) == ""
    assert [(i.path, i.message) for i in problems.errors] == [
        ("planned_values.root_module.resources[1]", "the plan holds AWS and Azure resources "
         "(aws_vpc.main, azurerm_resource_group.rg...): the lab builds one cloud at a time")]


def test_a_nics_subnet_is_followed_through_the_module_variable_and_the_others_output() -> None:
    sub, _ = read()
    assert {n.name: n.subnet for n in sub.nics} == {"service-0": SUBNET, "mgmt-0": SUBNET}
    assert [(s.id, s.vnet, s.cidr) for s in sub.subnets] == [
        (SUBNET, "(module.net.azurerm_virtual_network.hub)", IPv4Network("10.20.2.0/24"))]


def test_the_vms_first_interface_is_primary_and_both_are_grouped_by_it() -> None:
    sub, _ = read()
    vm = "(module.cc.azurerm_linux_virtual_machine.cc[0])"
    assert {n.name: (n.vm, n.primary) for n in sub.nics} == {
        "service-0": (vm, False), "mgmt-0": (vm, True)}


def test_a_standalone_rule_joins_its_nsg_named_by_name() -> None:
    sub, _ = read()
    (nsg,) = sub.nsgs
    assert [(r.name, r.priority, r.proto, r.sources, r.ports) for r in nsg.rules] == [
        ("probe", 110, "tcp", ("AzureLoadBalancer",), ("50000",))]


def test_unknown_addresses_are_the_highest_free_known_ones_kept_each_a_warning() -> None:
    sub, problems = read()
    # mgmt keeps its .253 although the load balancer's Dynamic frontend is chosen before
    # it is read, and the service NIC comes before it in the plan
    assert [f.address for f in sub.frontends] == [IPv4Address("10.20.2.252")]
    assert {n.name: n.address for n in sub.nics} == {
        "service-0": IPv4Address("10.20.2.251"), "mgmt-0": IPv4Address("10.20.2.253")}
    assert [w.message for w in problems.warnings] == [
        "module.cc.azurerm_lb.ilb frontend fe: the private IP is unknown until apply; the lab "
        "uses 10.20.2.252",
        "module.cc.azurerm_network_interface.service[0]: the private IP is unknown until "
        "apply; the lab uses 10.20.2.251"]
    assert not problems.errors


def test_a_next_hop_unknown_until_apply_is_the_address_of_the_balancer_it_names() -> None:
    sub, _ = read()
    (table,) = sub.route_tables
    assert [(r.prefix, r.hop, r.hop_ip) for r in table.routes] == [
        (IPv4Network("0.0.0.0/0"), "VirtualAppliance", IPv4Address("10.20.2.252"))]


def test_what_is_not_modelled_is_reported_as_the_cli_reader_reports_it() -> None:
    data = {"planned_values": {"root_module": {"resources": [
        resource("", "azurerm_virtual_network", "hub",
                 {"name": "vnet-hub", "address_space": ["10.20.0.0/16", "fd00::/48"]}),
        resource("", "azurerm_virtual_network_peering", "out",
                 {"name": "out", "virtual_network_name": "vnet-hub",
                  "remote_virtual_network_id": "/subscriptions/x/resourceGroups/y/providers/"
                  "Microsoft.Network/virtualNetworks/elsewhere"}),
        resource("", "azurerm_network_security_group", "nsg", {"name": "nsg", "security_rule": [
            {"name": "asg", "priority": 100, "direction": "Inbound", "access": "Allow",
             "protocol": "Tcp", "source_application_security_group_ids": ["/asg/admins"],
             "destination_address_prefix": "*", "destination_port_range": "22",
             "source_port_range": "*"},
            {"name": "tag", "priority": 110, "direction": "Inbound", "access": "Allow",
             "protocol": "Tcp", "source_address_prefix": "Storage", "source_port_range": "*",
             "destination_address_prefix": "*", "destination_port_range": "443"}]}),
        resource("", "azurerm_nat_gateway", "nat", {"name": "nat"})]}}}
    sub, problems = read(data)
    assert [(i.path, i.message) for i in problems.errors] == [
        ("planned_values.root_module.resources[1].values.remote_virtual_network_id",
         "azurerm_virtual_network_peering.out: the remote virtual network is not in the "
         "plan, so its address space (part of VirtualNetwork) is unknown"),
        ("planned_values.root_module.resources[2].values.security_rule[0]"
         ".source_application_security_group_ids",
         "application security groups are not modelled"),
        ("planned_values.root_module.resources[2].values.security_rule[1]"
         ".source_address_prefix", "the service tag Storage is not modelled")]
    assert [(i.path, i.message) for i in problems.warnings] == [
        ("planned_values.root_module.resources[3]",
         "azurerm_nat_gateway.nat: not needed by the lab: not read"),
        ("planned_values.root_module.resources[0].values.address_space[1]",
         "IPv6 is not modelled: the lab is IPv4; left out")]
    assert sub.vnets[0].prefixes == (IPv4Network("10.20.0.0/16"),)


def test_azurerm_names_the_rest_apis_fields_in_snake_case_but_three() -> None:
    assert snake("sourceAddressPrefixes") == "source_address_prefixes"
    assert snake("destinationPortRange") == "destination_port_range"
    assert snake("nextHopIpAddress") == "next_hop_in_ip_address"
    assert snake("sourceApplicationSecurityGroups") == "source_application_security_group_ids"


EXAMPLE = Path(__file__).resolve().parents[3] / \
    "lab/imports/examples/terraform-azure-recommended/plan.json"


def import_plan(data: dict[str, Any], tmp_path: Path) -> str:
    """`cclab import terraform` of `data`: the problems it lists."""
    with pytest.raises(ExportError) as caught:
        import_export("terraform", [_write(data, tmp_path)], name="t", files_dir="t-lab",
                      command="test")
    return str(caught.value)


def test_a_plan_of_both_clouds_is_read_by_neither(tmp_path: Path) -> None:
    both = {"planned_values": {"root_module": {"resources": [
        resource("", "aws_vpc", "main", {"cidr_block": "10.0.0.0/33"}),
        resource("", "azurerm_virtual_network", "hub", {"address_space": ["bad"]})]}}}
    text = import_plan(both, tmp_path)
    assert text.splitlines()[0] == "1 problem in the export"
    assert "(aws_vpc.main, azurerm_virtual_network.hub...)" in text


def test_a_nat_gateway_on_the_connectors_subnet_is_reported_as_the_cli_reader_does(
        tmp_path: Path) -> None:
    data = json.loads(EXAMPLE.read_text())
    network = data["planned_values"]["root_module"]["child_modules"][1]
    assert network["address"] == "module.network"
    network["resources"].append(resource("module.network", "azurerm_subnet_nat_gateway_association",
                                         "mgmt", {"nat_gateway_id": "/natgw/nat-cc",
                                                  "subnet_id": "/subnets/mgmt"}))
    data["configuration"]["root_module"]["module_calls"]["network"]["module"][
        "resources"].append(config("azurerm_subnet_nat_gateway_association", "mgmt",
                                   subnet_id=refs('azurerm_subnet.this["snet-cc-mgmt"].id',
                                                  'azurerm_subnet.this["snet-cc-mgmt"]',
                                                  "azurerm_subnet.this")))
    del network["resources"][-1]["values"]["subnet_id"]  # unknown until apply
    text = import_plan(data, tmp_path)
    assert text.splitlines()[0] == "1 problem in the export"
    assert "subnet snet-cc-mgmt has a NAT gateway, which the Azure importer does not model " \
        "yet" in text


def test_an_association_with_a_subnet_not_read_is_reported_never_dropped(
        tmp_path: Path) -> None:
    """A subnet inline in its VNet is referenced through the VNet: the association names
    no subnet the lab has, and saying nothing would drop its NSG silently."""
    data = json.loads(EXAMPLE.read_text())
    network = data["planned_values"]["root_module"]["child_modules"][1]
    network["resources"].append(resource(
        "module.network", "azurerm_subnet_network_security_group_association", "inline",
        {"network_security_group_id": "/nsgs/nsg-x", "subnet_id": "/vnets/hub/subnets/gone"}))
    text = import_plan(data, tmp_path)
    assert text.splitlines()[0] == "1 problem in the export"
    assert "azurerm_subnet_network_security_group_association.inline: names a subnet the " \
        "lab did not read (/vnets/hub/subnets/gone)" in text


def test_utility_resources_are_warnings_and_mixed_rule_styles_are_named(
        tmp_path: Path) -> None:
    """random_password (a VM's admin password) is in most real plans: not a problem. An
    NSG with inline and standalone rules (which the provider says conflict) is read whole,
    with a warning on the standalone rule."""
    data = json.loads(EXAMPLE.read_text())
    root = data["planned_values"]["root_module"]
    root.setdefault("resources", []).append(
        resource("", "random_password", "admin", {"length": 24}))
    result = import_export("terraform", [_write(data, tmp_path)], name="t",
                           files_dir="t-lab", command="test")
    assert any("random_password.admin: not a cloud resource" in w for w in result.warnings)
    assert not [w for w in result.warnings if "conflict with standalone rules" in w]
    nsgs = data["planned_values"]["root_module"]["child_modules"][0]["child_modules"][0]
    assert nsgs["address"] == "module.connectors.module.nsg"
    nsgs["resources"].append(resource(
        "module.connectors.module.nsg", "azurerm_network_security_rule", "extra",
        {"name": "extra", "network_security_group_name": "nsg-cc-mgmt", "priority": 300,
         "direction": "Inbound", "access": "Deny", "protocol": "*",
         "source_address_prefix": "*", "source_port_range": "*",
         "destination_address_prefix": "*", "destination_port_range": "*"}))
    mixed = import_export("terraform", [_write(data, tmp_path)], name="t",
                          files_dir="t-lab", command="test")
    assert [w for w in mixed.warnings if "azurerm_network_security_rule.extra: its NSG also "
            "has inline `security_rule` blocks" in w]


def _write(data: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    return path


def test_a_vpn_gateway_needs_its_learned_prefixes_as_the_cli_reader_does(
        tmp_path: Path) -> None:
    """azurerm_virtual_network_gateway in a subnet of the hub: what it learns joins
    VirtualNetwork, so without --gateway-prefix the import stops and says so; with it,
    the import goes through."""
    data = json.loads(EXAMPLE.read_text())
    network = data["planned_values"]["root_module"]["child_modules"][1]
    network["resources"].append(resource("module.network", "azurerm_virtual_network_gateway",
                                         "vpn", {"name": "vgw-hub", "type": "Vpn",
                                                 "ip_configuration": [{"name": "default"}]}))
    data["configuration"]["root_module"]["module_calls"]["network"]["module"][
        "resources"].append(config("azurerm_virtual_network_gateway", "vpn",
                                   ip_configuration=[{"subnet_id": refs(
                                       'azurerm_subnet.this["snet-cc-mgmt"].id',
                                       'azurerm_subnet.this["snet-cc-mgmt"]',
                                       "azurerm_subnet.this")}]))
    data.setdefault("resource_changes", []).append(unknown(  # its subnet: known after apply
        "module.network.azurerm_virtual_network_gateway.vpn",
        ip_configuration=[{"subnet_id": True}]))
    text = import_plan(data, tmp_path)
    assert text.splitlines()[0] == "1 problem in the export"
    assert "has a VPN or ExpressRoute gateway" in text
    vnet = next(line.split("VNet ")[1].split(" ")[0] for line in text.splitlines()
                if "has a VPN" in line)
    result = import_export("terraform", [_write(data, tmp_path)], name="t", files_dir="t-lab",
                           command="test",
                           gateway_prefixes=((vnet, IPv4Network("192.168.0.0/16")),))
    assert "192.168.0.0/16" in result.topology
