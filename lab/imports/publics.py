"""Public addresses of an imported account, moved into the lab's ranges.

The lab is sealed: it sends only to addresses of its own plan. An account's
private prefixes are kept as they are (the lab builds them), and so is
0.0.0.0/0. Public addresses are not the lab's, so they are renumbered:

- an interface's public address (an Elastic IP, a NIC's public IP) becomes
  one of 203.0.113.0/24 (TEST-NET-3, the lab's public addresses, which the
  internet gateway maps 1:1): the NAT gateway's 203.0.113.5, the others from
  203.0.113.21 on;
- a public prefix in a rule becomes a block of 198.19.128.0/17 (the upper half
  of the lab's internet, where no lab host lives): a /24 or longer keeps its
  length, a shorter one becomes a /24. A /32 that is one of the account's own
  public addresses becomes that address's new one.

Kept as they are: private space (RFC 1918, 100.64.0.0/10), the lab's own
documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
198.18.0.0/15), and prefixes of /8 or shorter: those stand for "much of the
internet", hold the lab's attacker exactly when the original holds an address
like it, and the lab never sends to them. The table of every change goes into
the topology's header. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network

from lab.imports.cloud import AclSpec, GroupSpec, LabCloud, NicSpec, RuleSpec

KEPT = tuple(IPv4Network(p) for p in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.2.0/24",
    "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15"))
PUBLIC_POOL = IPv4Network("203.0.113.0/24")
NAT_ADDRESS = IPv4Address("203.0.113.5")
FIRST_EIP = IPv4Address("203.0.113.21")
RULE_POOL = IPv4Network("198.19.128.0/17")


def kept(net: IPv4Network) -> bool:
    return net.prefixlen <= 8 or any(net.subnet_of(k) for k in KEPT)


@dataclass
class PublicMap:
    """The renumbering of one import, and the table of it."""

    addresses: dict[IPv4Address, IPv4Address] = field(default_factory=dict)
    prefixes: dict[IPv4Network, IPv4Network] = field(default_factory=dict)
    uses: dict[str, str] = field(default_factory=dict)  # original -> where it was used
    _next_eip: IPv4Address = FIRST_EIP
    _next_block: int = int(RULE_POOL.network_address)

    def address(self, original: IPv4Address, use: str, *, nat: bool = False) -> IPv4Address:
        if original in PUBLIC_POOL:
            return original
        if original not in self.addresses:
            if nat:
                self.addresses[original] = NAT_ADDRESS
            else:
                while self._next_eip == NAT_ADDRESS or self._next_eip in self.addresses.values():
                    self._next_eip += 1
                self.addresses[original] = self._next_eip
                self._next_eip += 1
            self.uses[str(original)] = use
        return self.addresses[original]

    def prefix(self, text: str, use: str) -> str:
        try:
            net = IPv4Network(text)
        except ValueError:
            return text  # a tag or a group: not an address
        if kept(net):
            return text
        if net.prefixlen == 32 and net.network_address in self.addresses:
            return f"{self.addresses[net.network_address]}/32"
        if net not in self.prefixes:
            length = max(net.prefixlen, 24)
            size = 2 ** (32 - length)
            start = -(-self._next_block // size) * size
            self.prefixes[net] = IPv4Network(f"{IPv4Address(start)}/{length}")
            self._next_block = start + size
            if self._next_block > int(RULE_POOL.broadcast_address) + 1:
                raise ValueError("more public prefixes than the lab's range holds")
            self.uses.setdefault(str(net), use)
        mapped = self.prefixes[net]
        return str(mapped) if mapped.prefixlen < 32 else f"{mapped.network_address}/32"

    def table(self) -> list[str]:
        rows = [(str(k), str(v)) for k, v in self.addresses.items()]
        rows += [(str(k), str(v)) for k, v in self.prefixes.items()]
        return [f"{old:>18} -> {new:<18} {self.uses.get(old, '')}" for old, new in rows]


def map_publics(cloud: LabCloud) -> tuple[LabCloud, PublicMap]:
    """`cloud` with its public addresses in the lab's ranges, and the table of changes."""
    table = PublicMap()
    nat = cloud.nat
    if nat is not None:
        nat = replace(nat, public=table.address(nat.public, "NAT gateway", nat=True))
    connectors = tuple(replace(c, management=_nic(c.management, table, f"{c.name} management"),
                               service=_nic(c.service, table, f"{c.name} service"))
                       for c in cloud.connectors)
    groups = tuple(_group(g, table) for g in cloud.groups)
    acls = tuple(_acl(a, table) for a in cloud.acls)
    tags = tuple((name, tuple(table.prefix(v, f"tag {name}") for v in values), comment)
                 for name, values, comment in cloud.tags)
    return replace(cloud, nat=nat, connectors=connectors, groups=groups, acls=acls,
                   tags=tags), table


def _nic(nic: NicSpec, table: PublicMap, use: str) -> NicSpec:
    if nic.public is None:
        return nic
    return replace(nic, public=table.address(nic.public, use))


def _group(group: GroupSpec, table: PublicMap) -> GroupSpec:
    def rules(items: tuple[RuleSpec, ...]) -> tuple[RuleSpec, ...]:
        use = f"group {group.name}"
        return tuple(replace(r, peers=tuple(table.prefix(p, use) for p in r.peers),
                             local=tuple(table.prefix(p, use) for p in r.local)) for r in items)

    return replace(group, inbound=rules(group.inbound), outbound=rules(group.outbound))


def _acl(acl: AclSpec, table: PublicMap) -> AclSpec:
    use = f"network ACL {acl.name}"
    return replace(acl, inbound=tuple(replace(e, cidr=table.prefix(e.cidr, use))
                                      for e in acl.inbound),
                   outbound=tuple(replace(e, cidr=table.prefix(e.cidr, use))
                                  for e in acl.outbound))
