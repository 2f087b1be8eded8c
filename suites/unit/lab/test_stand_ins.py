"""A docker lab's stand-in slice: its size, the links packed in it, the first free one,
and the compose model and node shares of a lab that has one. Expected values are worked
out by hand from the minimal topology's links (four /24s and 198.18.0.0/16)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

from lab.catalog import TOPOLOGY_DIR
from lab.compose import ComposePaths, node_shares, render_compose
from lab.container_layout import STAND_IN_SPACE
from lab.schema import load_topology
from lab.stand_ins import free_slice, pack, slice_prefix

pytestmark = pytest.mark.unit

N = IPv4Network
MINIMAL = {"workloads": N("10.10.1.0/24"), "mgmt": N("10.10.2.0/24"),
           "service": N("10.10.3.0/24"), "edge": N("10.10.254.0/24"),
           "internet": N("198.18.0.0/16")}
SLICE = N("100.68.0.0/15")


def test_the_slice_is_the_smallest_block_that_holds_every_link() -> None:
    assert slice_prefix(MINIMAL.values()) == 15  # 65536 + 4 * 256 addresses: past a /16
    assert slice_prefix([N("10.0.0.0/24"), N("10.0.1.0/24")]) == 23
    assert slice_prefix([N("10.0.0.0/24")]) == 24
    assert slice_prefix([N("10.0.0.0/24"), N("10.0.1.0/25")]) == 23


def test_links_beyond_the_stand_in_space_are_refused() -> None:
    with pytest.raises(ValueError, match="more than"):
        slice_prefix([N("10.0.0.0/9")])
    with pytest.raises(ValueError, match="without links"):
        slice_prefix([])


def test_each_link_gets_a_block_of_its_own_size_the_largest_first() -> None:
    given = pack(MINIMAL, SLICE)
    assert given == {"internet": N("100.68.0.0/16"), "workloads": N("100.69.0.0/24"),
                     "mgmt": N("100.69.1.0/24"), "service": N("100.69.2.0/24"),
                     "edge": N("100.69.3.0/24")}
    assert list(given) == list(MINIMAL)  # in the topology's order, for the compose file


def test_links_that_overlap_each_other_get_blocks_apart() -> None:
    """Two isolated sites with one subnet (docker refuses them as they are)."""
    given = pack({"dc-a": N("192.0.2.0/24"), "dc-b": N("192.0.2.0/24")}, N("100.64.0.0/23"))
    assert given == {"dc-a": N("100.64.0.0/24"), "dc-b": N("100.64.1.0/24")}


def test_links_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        pack(MINIMAL, N("100.64.0.0/16"))


def test_the_first_block_no_slice_or_network_overlaps_is_free() -> None:
    taken = [N("100.64.0.0/15"), N("100.66.5.0/24"), N("172.17.0.0/16"), N("10.10.1.0/24")]
    assert free_slice(15, taken) == N("100.68.0.0/15")
    assert free_slice(24, taken) == N("100.66.0.0/24")
    assert free_slice(15, []) == N("100.64.0.0/15")


def test_a_full_space_has_no_free_slice() -> None:
    assert free_slice(15, [STAND_IN_SPACE]) is None
    taken = list(STAND_IN_SPACE.subnets(new_prefix=12))[:3]
    assert free_slice(12, taken) == N("100.112.0.0/12")
    assert free_slice(11, taken) is None


PATHS = ComposePaths("/topo", "minimal.yaml", "/run/cclab/x", stand_in=SLICE)


def test_a_lab_with_a_slice_has_every_network_in_it() -> None:
    model = render_compose(load_topology(TOPOLOGY_DIR / "minimal.yaml"), "x", PATHS)
    ipam = {name: net["ipam"]["config"][0] for name, net in model["networks"].items()}
    assert {name: N(c["subnet"]) for name, c in ipam.items()} == pack(MINIMAL, SLICE)
    # the host's side: the highest free address of 198.18.0.0/16, at its offset
    assert ipam["internet"]["gateway"] == "100.68.255.254"
    assert ipam["service"]["gateway"] == "100.69.2.254"
    services = model["services"]
    assert services["cc1"]["networks"]["service"]["ipv4_address"] == "100.69.2.31"
    assert services["web"]["networks"]["internet"]["ipv4_address"] == "100.68.10.10"


def test_two_slices_give_two_labs_of_one_topology_disjoint_networks() -> None:
    topo = load_topology(TOPOLOGY_DIR / "minimal.yaml")
    other = ComposePaths("/topo", "minimal.yaml", "/run/cclab/y", stand_in=N("100.70.0.0/15"))
    subnets = [N(net["ipam"]["config"][0]["subnet"])
               for paths, name in ((PATHS, "x"), (other, "y"))
               for net in render_compose(topo, name, paths)["networks"].values()]
    assert not [(a, b) for i, a in enumerate(subnets) for b in subnets[i + 1:] if a.overlaps(b)]


def test_a_node_s_share_says_where_docker_attaches_it_in_the_slice() -> None:
    topo = load_topology(TOPOLOGY_DIR / "minimal.yaml")
    shares = {s.node: s for s in node_shares(topo, "x", "d", SLICE)}
    assert shares["cc1"].attached == {"eth-mgmt": IPv4Interface("100.69.1.21/24"),
                                      "eth-svc": IPv4Interface("100.69.2.31/24")}
    assert shares["inet"].attached["eth-inet"].ip == IPv4Address("100.68.0.1")
    assert shares["inet"].attached["eth-inet"].network.prefixlen == 16
