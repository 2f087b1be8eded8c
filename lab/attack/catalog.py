"""The attacks `cclab attack` replays, as data, and the targets each one is aimed at.

Every attack starts on the internet (the lab's `attacker`, beyond the internet
gateway) and aims at the connectors' public addresses, by interface role; a
cloud whose connectors have none (a NAT gateway design) is attacked at the NAT
gateway's public address instead. What the matrix asks is the cloud's question,
"does the internet's packet get to the connector?", so it is seen where the
answer is (`lab.attack.expect` sets the mode per target):

- `arrival`: the packet reaches the connector's interface (a capture there); what
  the connector then does with it is its own policy, not the cloud's;
- `victim`: for a spoofed victim's source, the reflection reaches the victim (unless
  the attack says it is seen on `arrival`: a spoofed source aimed at the connector);
- `answer`: at a NAT gateway (nothing behind it to watch), a reply reaches the
  attacker.
Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address

from lab.lint.checks import health_port
from lab.lint.scope import scope_of
from lab.model import Topology

ANY_ROLE = "any"  # a NAT gateway's address stands for both roles
CLOUD_DNS_TAG = "CloudDnsForwarders"  # GCP: where Cloud DNS forwarding comes from


@dataclass(frozen=True, slots=True)
class Attack:
    id: str
    title: str
    proto: str  # tcp | udp
    port: int  # 0: the load balancer's health-probe port
    roles: tuple[str, ...]  # the connector interfaces aimed at: management, service
    payload: str  # syn | ack | udp | dns | dns-fragments | geneve (lab.traffic.attack_probe)
    spoof: str = ""  # '' (the attacker's own) | victim | workload | unused-public | rfc1918
    #                  | cloud-dns (an address of the `CloudDnsForwarders` tag no node holds)
    seen: str = ""  # '' (where the spoof says: lab.attack.expect.mode_of) | arrival
    to: str = "public"  # public | private: the target's private address, handed to the
    #                     internet gateway as if it routed there
    why: str = ""

    @property
    def answerable(self) -> bool:
        """The attacker waits for the reply: its own source, sent by its routes, whole."""
        return not self.spoof and self.to == "public" and self.payload != "dns-fragments"


ATTACKS = (
    Attack("ssh-management", "SSH to the management interface", "tcp", 22, ("management",),
           "syn", why="seed: the management interface's listeners are a target"),
    Attack("ssh-service", "SSH to the service interface", "tcp", 22, ("service",), "syn",
           why="spec §2.5: the service interface takes no unsolicited traffic"),
    Attack("dns-resolver", "DNS query (an open resolver)", "udp", 53,
           ("service", "management"), "dns",
           why="seed: the connector's DNS used from the internet"),
    Attack("dns-reflection", "DNS reflected at a victim (spoofed source)", "udp", 53,
           ("service",), "dns", spoof="victim",
           why="seed: reflection and amplification at a victim"),
    Attack("health-port", "the health-probe port", "tcp", 0, ("service",), "syn",
           why="spec §2.5: only the load balancer's probes"),
    Attack("service-https", "TCP 443 to the service interface", "tcp", 443, ("service",),
           "syn", why="spec §2.5: the service interface takes no unsolicited traffic"),
    Attack("geneve-injection", "GENEVE into the data plane", "udp", 6081, ("service",),
           "geneve", why="spec §2.5: GENEVE only from the GWLB"),
    Attack("spoofed-workload", "a workload's address spoofed from the internet", "tcp", 443,
           ("service",), "syn", spoof="workload",
           why="seed: spoofed workloads reach ZIA and ZPA and inflate licences"),
    Attack("spoofed-rfc1918", "a private (RFC 1918) source outside the VPC, spoofed", "tcp",
           443, ("service",), "syn", spoof="rfc1918",
           why="seed: AWS and Azure drop spoofed private sources from the internet"),
    Attack("spoofed-public", "TCP 443 from a spoofed public source", "tcp", 443,
           ("service",), "syn", spoof="victim", seen="arrival",
           why="seed: anti-spoofing cannot catch spoofed internet address space"),
    Attack("licence-inflation", "UDP from an unused public address (a new 'user')", "udp",
           443, ("service",), "udp", spoof="unused-public",
           why="seed: spoofed addresses counted towards the ZIA and ZPA workload licences"),
    Attack("ack-probe", "an unsolicited TCP ACK (a reply to nothing)", "tcp", 22,
           ("management", "service"), "ack",
           why="stateful rules judge an ACK of no known flow as a new flow"),
    Attack("dns-fragments", "a DNS query in IP fragments", "udp", 53,
           ("service", "management"), "dns-fragments",
           why="later fragments carry no port: the datagram must be judged whole"),
    Attack("dns-cloud-dns-forged", "DNS from a forged Cloud DNS forwarder source (GCP)",
           "udp", 53, ("service",), "dns", spoof="cloud-dns", seen="arrival",
           why="spec §2.4, §4.3: the vendor's rule admits 35.199.192.0/19 to DNS; can the "
               "internet forge it? (where the topology has that tag)"),
    Attack("private-destination", "internet traffic for a connector's private address",
           "tcp", 443, ("service",), "syn", to="private",
           why="seed: some attacks are unfeasible due to regular routing"),
)


@dataclass(frozen=True, slots=True)
class Target:
    """A public address an attack is aimed at, and the interface behind it."""

    node: str
    iface: str
    role: str
    address: IPv4Address  # public
    private: IPv4Address | None = None  # None for a NAT gateway (its inside is not one host)

    def text(self) -> str:
        return f"{self.node}/{self.iface} ({self.address})"


def targets(topo: Topology, roles: Mapping[str, tuple[str, str]] | None = None
            ) -> list[Target]:
    """The connectors' public addresses by role; without any, the NAT gateway's (whose
    inside is what a packet for it would reach)."""
    found = [Target(p.node.name, p.iface.name, p.role, p.iface.public, p.iface.address.ip)
             for p in scope_of(topo, roles).ports if p.iface.public is not None]
    if found:
        return found
    return [Target(n.name, i.name, ANY_ROLE, i.public)
            for n in topo.nodes if n.gateway is not None and n.gateway.kind == "nat"
            for i in n.interfaces if i.public is not None]


def aimed(attack: Attack, target: Target) -> bool:
    return target.role == ANY_ROLE or target.role in attack.roles


def port_of(attack: Attack, topo: Topology) -> int:
    return attack.port or health_port(topo)
