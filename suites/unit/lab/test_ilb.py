"""The ILB's bucket map: stable ownership, only an unhealthy backend's buckets move."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from lab.nodes.ilb import BUCKETS, bucket_owners, render_ilb

pytestmark = pytest.mark.unit

A, B, C = IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2"), IPv4Address("10.0.0.3")


def test_all_healthy_share_the_buckets_evenly() -> None:
    owners = bucket_owners([A, B], [A, B])
    assert owners.count(A) == owners.count(B) == BUCKETS // 2


def test_only_the_unhealthy_backends_buckets_move() -> None:
    before = bucket_owners([A, B, C], [A, B, C])
    after = bucket_owners([A, B, C], [A, C])
    moved = [b for b in range(BUCKETS) if before[b] != after[b]]
    assert moved
    assert all(before[b] == B for b in moved)
    assert B not in after


def test_no_healthy_backend_drops_and_counts() -> None:
    ruleset = render_ilb([A, B], [])
    assert "counter name no_backend drop" in ruleset
    assert "jhash" not in ruleset


def test_client_ip_proto_affinity_hashes_neither_port() -> None:
    """GCP's session affinity CLIENT_IP_PROTO (spec §3.4): source, destination and
    protocol choose the backend, for flows routed through it and to its own address."""
    ruleset = render_ilb([A, B], [A, B], IPv4Address("10.0.4.10"), "client-ip-proto")
    hashes = [line for line in ruleset.splitlines() if "jhash" in line]
    assert len(hashes) == 2
    assert all("jhash ip saddr . ip daddr . meta l4proto mod" in h for h in hashes)
    assert not [h for h in hashes if "sport" in h or "dport" in h]
    azure = render_ilb([A, B], [A, B])
    assert "jhash ip saddr . ip daddr . meta l4proto . th sport . th dport mod" in azure
