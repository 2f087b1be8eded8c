"""The fake GWLB's endpoints (sub-locations, issue 18): IDs as AWS writes them, stamped
into GENEVE option 0x0108/1 and read back from a returned header. Pure."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from connector.config import load_config
from connector.io import geneve as connector_geneve
from lab.catalog import TOPOLOGY_DIR
from lab.nodes.gwlb import Endpoint, parse_endpoints
from lab.wire.geneve import ENI_ID, endpoint_id, eni_of, geneve_header

pytestmark = pytest.mark.unit


def test_an_endpoint_id_is_the_64_bit_value_of_its_hex() -> None:
    assert endpoint_id("vpce-0a0a0a0a0a0a0a0a") == 0x0A0A0A0A0A0A0A0A
    assert endpoint_id("vpce-0ffffffffffffffff") == 2**64 - 1  # AWS prints 17 digits
    for bad in ("eni-0a", "vpce-xyz", "vpce-10000000000000000"):
        with pytest.raises(ValueError, match="vpce|invalid literal"):
            endpoint_id(bad)


def test_the_endpoint_stamped_is_the_one_the_connector_reads_and_the_lab_reads_back() -> None:
    eni = endpoint_id("vpce-0b0b0b0b0b0b0b0b")
    datagram = geneve_header(4, 7, eni=eni) + bytes(20)
    parsed = connector_geneve.parse(datagram)
    assert isinstance(parsed, connector_geneve.GenevePacket)
    assert parsed.options.eni_id == eni
    assert eni_of(datagram) == eni
    assert eni_of(geneve_header(4, 7) + bytes(20)) == ENI_ID  # the default, as before
    assert eni_of(b"\x00" * 8) is None


def test_endpoints_option_names_interface_id_and_return_router() -> None:
    assert parse_endpoints("eth-svc:vpce-0a:10.10.3.1, eth-b:vpce-0b:10.10.7.1") == [
        Endpoint("eth-svc", "vpce-0a", IPv4Address("10.10.3.1")),
        Endpoint("eth-b", "vpce-0b", IPv4Address("10.10.7.1"))]
    assert parse_endpoints("") == []
    with pytest.raises(ValueError, match="not a GWLB endpoint ID"):
        parse_endpoints("eth-svc:eni-0a:10.10.3.1")


def test_the_sublocation_connectors_map_both_endpoints() -> None:
    """The lab's two endpoints (gwlb-sublocations.yaml) are the connectors' two locations."""
    for name in ("gwlb-subloc-cc1", "gwlb-subloc-cc2"):
        config = load_config(Path(TOPOLOGY_DIR / "connectors" / f"{name}.yaml"))
        assert config.dataplane.geneve_locations == (
            (0x0A0A0A0A0A0A0A0A, "loc-a"), (0x0B0B0B0B0B0B0B0B, "loc-b"))
    plain = load_config(Path(TOPOLOGY_DIR / "connectors" / "gwlb-cc1.yaml"))
    assert plain.dataplane.geneve_locations == ()
