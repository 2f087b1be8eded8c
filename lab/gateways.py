"""Cloud gateways as nftables rulesets generated from the topology (pure).

Internet gateway: 1:1 NAT between each endpoint's public address (EIP / Azure
public IP) and its private address; unsolicited inbound to an unmapped address
is dropped; private sources without a public address cannot leave; with
`anti_spoofing`, packets arriving from the internet with an RFC 1918 or
VPC-local source are dropped before NAT (the seed's claim, as a switch); with
`drop_provider_ranges`, so are sources in the provider's own `provider_ranges`
(GCP's health-check and Cloud DNS forwarder ranges: whether Google's edge drops
them is not documented, so the lab has it both ways, docs/decisions.md).

NAT gateway: SNAT (masquerade) for the VPC's outbound flows; anything that is
not a reply to one of them is dropped.

Egress-only internet gateway (AWS, IPv6 only): no translation (the VPC's IPv6
addresses are public); IPv6 from the inside to anywhere passes, and from the
outside only what belongs to a flow the inside opened; every unsolicited
inbound packet is counted (`unsolicited`). It forwards no IPv4.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address

from lab.model import Gateway, Topology

RFC1918 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def public_map(topo: Topology) -> list[tuple[IPv4Address, IPv4Address]]:
    """(public, private) for every endpoint that has a public address, in topology order."""
    return [(i.public, i.address.ip) for n in topo.nodes for i in n.interfaces if i.public]


def render_gateway(topo: Topology, gateway: Gateway) -> str:
    if gateway.kind == "egress-only":
        lines = _egress_only(gateway)
    else:
        lines = _internet(topo, gateway) if gateway.kind == "internet" else _nat(gateway)
    return "\n".join(lines) + "\n"


def _egress_only(gw: Gateway) -> Iterator[str]:
    yield "table inet cclab_eigw {"
    yield "  counter outbound { }"
    yield "  counter unsolicited { }"
    yield "  counter not_ipv6 { }"
    yield "  chain forward {"
    yield "    type filter hook forward priority 0; policy accept;"
    yield "    meta nfproto ipv4 counter name not_ipv6 drop"
    yield "    ct state established,related accept"
    yield f'    iifname "{gw.inside}" oifname "{gw.outside}" counter name outbound accept'
    yield f'    iifname "{gw.outside}" counter name unsolicited drop'
    yield "  }"
    yield "}"


def _set(name: str, prefixes: list[str]) -> Iterator[str]:
    elements = ", ".join(prefixes)
    yield f"  set {name} {{ type ipv4_addr; flags interval; elements = {{ {elements} }} }}"


def _internet(topo: Topology, gw: Gateway) -> Iterator[str]:
    pairs = public_map(topo)
    outside = f'"{gw.outside}"'
    yield "table ip cclab_igw {"
    yield from _set("vpc", [str(p) for p in gw.vpc])
    yield from _set("rfc1918", list(RFC1918))
    if pairs:
        to_private = ", ".join(f"{pub} : {priv}" for pub, priv in pairs)
        to_public = ", ".join(f"{priv} : {pub}" for pub, priv in pairs)
        yield f"  map to_private {{ type ipv4_addr : ipv4_addr; elements = {{ {to_private} }} }}"
        yield f"  map to_public {{ type ipv4_addr : ipv4_addr; elements = {{ {to_public} }} }}"
    yield "  counter spoofed_private { }"
    yield "  counter spoofed_vpc { }"
    if gw.provider_ranges:
        yield "  counter spoofed_provider { }"
    yield "  counter unsolicited { }"
    yield "  counter no_public_address { }"
    yield "  chain antispoof {"
    yield "    type filter hook prerouting priority -300; policy accept;"
    if gw.anti_spoofing:
        yield f"    iifname {outside} ip saddr @vpc counter name spoofed_vpc drop"
        yield f"    iifname {outside} ip saddr @rfc1918 counter name spoofed_private drop"
    else:
        yield "    # anti_spoofing: false -- spoofed private and VPC sources are let in"
    provider = ", ".join(str(p) for p in gw.provider_ranges)
    if provider and gw.drop_provider_ranges:
        yield f"    iifname {outside} ip saddr {{ {provider} }} counter name spoofed_provider drop"
    elif provider:
        yield f"    # drop_provider_ranges: false -- sources in {provider} are let in"
    yield "  }"
    yield "  chain prerouting {"
    yield "    type nat hook prerouting priority dstnat; policy accept;"
    if pairs:
        yield f"    iifname {outside} dnat to ip daddr map @to_private"
    yield "  }"
    yield "  chain postrouting {"
    yield "    type nat hook postrouting priority srcnat; policy accept;"
    if pairs:
        yield f"    oifname {outside} ip saddr != @vpc accept"
        yield f"    oifname {outside} snat to ip saddr map @to_public"
    yield "  }"
    yield "  chain forward {"
    yield "    type filter hook forward priority 0; policy accept;"
    yield "    ct state established,related accept"
    yield f"    iifname {outside} ct status dnat accept"
    yield f"    iifname {outside} counter name unsolicited drop"
    if pairs:
        privates = ", ".join(str(priv) for _, priv in pairs)
        yield f"    oifname {outside} ip saddr @vpc ip saddr != {{ {privates} }} " \
              "counter name no_public_address drop"
    else:
        yield f"    oifname {outside} ip saddr @vpc counter name no_public_address drop"
    yield "  }"
    yield "}"


def _nat(gw: Gateway) -> Iterator[str]:
    outside = f'"{gw.outside}"'
    yield "table ip cclab_natgw {"
    yield from _set("vpc", [str(p) for p in gw.vpc])
    yield "  counter unsolicited { }"
    yield "  chain postrouting {"
    yield "    type nat hook postrouting priority srcnat; policy accept;"
    yield f"    oifname {outside} ip saddr @vpc ip daddr != @vpc masquerade"
    yield "  }"
    for hook in ("forward", "input"):
        yield f"  chain {hook} {{"
        yield f"    type filter hook {hook} priority 0; policy accept;"
        yield "    ct state established,related accept"
        yield "    ip saddr @vpc accept"
        yield "    counter name unsolicited drop"
        yield "  }"
    yield "}"


