"""A VPN or ExpressRoute gateway's learned prefixes join its VNet's `VirtualNetwork` tag
(Azure's service tags documentation): the importer takes them from `--gateway-prefix`,
refuses a gateway whose prefixes it was not given, and what a learned prefix opens is
what the rules say of it. The example is the seed's Azure design (azure-recommended),
whose VNet has a GatewaySubnet; the gateway export is written here as
`az network vnet-gateway list` writes it."""

from __future__ import annotations

import json
import shutil
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.attack.expect import plan
from lab.imports import ExportError, import_export
from lab.lint.roles import connector_roles
from lab.schema import load_topology
from suites.functional.cloud.test_imported_clouds import OPEN

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[3] / "lab/imports/examples/azure-recommended"
HUB = ("/subscriptions/00000000-0000-4000-8000-0000000000cc/resourceGroups/rg-cc-hub/"
       "providers/Microsoft.Network/virtualNetworks/vnet-cc-hub")
GATEWAY = [{"name": "vgw-cc-hub", "type": "Microsoft.Network/virtualNetworkGateways",
            "id": HUB.replace("virtualNetworks/vnet-cc-hub", "virtualNetworkGateways/vgw-cc-hub"),
            "gatewayType": "Vpn", "vpnType": "RouteBased",
            "ipConfigurations": [{"name": "default",
                                  "subnet": {"id": f"{HUB}/subnets/GatewaySubnet"}}]}]


def export(tmp_path: Path) -> Path:
    folder = tmp_path / "azure"
    shutil.copytree(EXAMPLE, folder)
    (folder / "vnet-gateways.json").write_text(json.dumps(GATEWAY))
    return folder


def imported(tmp_path: Path, *learned: str) -> set[tuple[str, str]]:
    """The (attack, interface role) pairs the rules let through, the gateway learning
    `learned` prefixes."""
    result = import_export("azure", [export(tmp_path)], name="gw", files_dir="gw-lab",
                           command="test", gateway_prefixes=tuple(
                               ("vnet-cc-hub", IPv4Network(p)) for p in learned))
    for relative, text in {"gw.yaml": result.topology, **result.files}.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    topo = load_topology(tmp_path / "gw.yaml")
    return {(c.attack.id, c.target.role)
            for c in plan(topo, connector_roles(topo, tmp_path)).cells if c.expected}


def test_a_gateway_whose_prefixes_are_not_given_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ExportError) as caught:
        import_export("azure", [export(tmp_path)], name="gw", files_dir="gw-lab",
                      command="test")
    text = str(caught.value)
    assert "VNet vnet-cc-hub has a VPN or ExpressRoute gateway" in text
    assert "vnet-gateways.json" in text
    assert "--gateway-prefix vnet-cc-hub=PREFIX" in text


def test_an_on_premises_prefix_lets_no_internet_attack_in(tmp_path: Path) -> None:
    assert imported(tmp_path, "192.168.0.0/16", "172.20.0.0/14") == set()


def test_a_learned_default_route_opens_what_a_default_udr_opens(tmp_path: Path) -> None:
    """Forced tunnelling advertises 0.0.0.0/0 over BGP: VirtualNetwork becomes
    everything, the seed's `VirtualNetwork` rules admit the internet, exactly as the
    0.0.0.0/0 user-defined route of azure-udr-internet does on the connectors' subnets."""
    assert imported(tmp_path, "0.0.0.0/0") == OPEN["azure-udr-internet"]


def test_a_prefix_for_a_vnet_not_in_the_export_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExportError) as caught:
        import_export("azure", [export(tmp_path)], name="gw", files_dir="gw-lab",
                      command="test",
                      gateway_prefixes=(("vnet-elsewhere", IPv4Network("10.9.0.0/16")),))
    assert "--gateway-prefix: (file): no VNet vnet-elsewhere in the export" in str(caught.value)
    assert "the VNets: vnet-cc-hub" in str(caught.value)
