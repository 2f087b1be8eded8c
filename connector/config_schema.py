"""The connector config file's structure, as pydantic models (shape only).

Field names follow the vendor API (`forward_method`, `src_ip_groups`,
`zpa_ip_group`...). Values are kept as written (strings for addresses that may be
ranges or names); `connector.config_build` turns them into core values and
checks limits and cross-references. Every section parses alone so one bad rule
does not hide the problems of the next.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from connector.core.model import DnsAction, FailureBehavior, Method

_HOST_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def _host_name(value: str) -> str:
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    if len(value) > 254 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"'{value}' is neither an IPv4 address nor a host name")
    return value


HostName = Annotated[str, AfterValidator(_host_name)]  # an IPv4 address is a host name too


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RawRoutedLocation(Strict):
    location: str = Field(min_length=1)
    sources: list[IPv4Network] = Field(min_length=1)


class RawIdentity(Strict):
    name: str = Field(min_length=1, max_length=31)
    group: str = Field(min_length=1)
    location: str = Field(min_length=1)


class RawInterface(Strict):
    name: str = Field(min_length=1, max_length=15)
    address: IPv4Interface


class RawInterfaces(Strict):
    service: RawInterface
    management: RawInterface


class RawServiceEntry(Strict):
    protocol: Literal["TCP", "UDP", "ICMP", "ANY"]
    dest_ports: list[int | str] = []


class RawAppSegment(Strict):
    domains: list[str] = Field(min_length=1)
    servers: list[IPv4Address] = []
    app_connector_group: str = ""


class RawZiaGateway(Strict):
    primary: IPv4Address | None = None
    secondary: IPv4Address | None = None
    fail_closed: bool = True


class RawDnsGateway(Strict):
    primary: IPv4Address
    secondary: IPv4Address | None = None
    failure_behavior: FailureBehavior = FailureBehavior.FAIL_RET_ERR


State = Literal["ENABLED", "DISABLED"]


class RawForwardingRule(Strict):
    order: int = Field(ge=1)
    name: str = Field(min_length=1)
    forward_method: Method  # the choices are the enum's: one list, the core's
    state: State = "ENABLED"
    locations: list[str] = []
    ec_groups: list[str] = []
    src_ips: list[str] = []
    src_ip_groups: list[str] = []
    nw_services: list[str] = []
    dest_addresses: list[str] = []
    dest_ip_groups: list[str] = []
    zpa_application_segments: list[str] = []
    zpa_all_app_segments: bool = False
    proxy_gateway: str | None = None


class RawDnsRule(Strict):
    order: int = Field(ge=1)
    name: str = Field(min_length=1)
    action: DnsAction
    state: State = "ENABLED"
    locations: list[str] = []
    ec_groups: list[str] = []
    src_ips: list[str] = []
    src_ip_groups: list[str] = []
    dest_addresses: list[str] = []
    dest_ip_groups: list[str] = []
    zpa_ip_group: str | None = None
    dns_gateway: str | None = None


class RawDefaultDnsRule(Strict):
    action: DnsAction = DnsAction.ALLOW
    zpa_ip_group: str | None = None
    dns_gateway: str | None = None


class RawRuntime(Strict):
    """Service settings the core does not see (the service reads them)."""

    upstream_dns: list[IPv4Address] = []
    # The vendor's global DNS VIPs (spec §6.4/6.5): queries to them go to upstream_dns.
    global_vips: list[IPv4Address] = [IPv4Address("185.46.212.88"), IPv4Address("185.46.212.89")]
    dns_ttl: int = Field(default=60, ge=1, le=86400)
    state_dir: str | None = None
    # DNS listener ACL (spec §9.4); empty = the networks of source_ip_groups.
    dns_acl: list[IPv4Network] = []
    dns_exempt: list[IPv4Network] = []  # health-probe sources and cluster peers
    # Data plane (spec §3, §4.1, §5.4). GENEVE is accepted only from these networks
    # (the load balancer's); empty turns the GENEVE endpoint off (routed mode only).
    geneve_sources: list[IPv4Network] = []
    # Sub-locations (spec §5.1 `locations`: "locations or sub-locations"): the GWLB
    # endpoint whose ID a packet's GENEVE option carries (`vpce-` and hex) -> the
    # location it stands for, declared in `locations`. Others: the connector's own.
    geneve_locations: dict[str, str] = {}
    # GENEVE Direct UDP flows carried in the kernel after their first packet (a tc
    # program on the service interface, docs/decisions.md); off: user space carries all.
    geneve_fast_path: bool = False
    # Routed Direct UDP carried by a tc program on the service interface after the
    # nftables rules decided and SNATed its connection (docs/decisions.md); off: the
    # rules carry every packet. Not with geneve_fast_path (one program per interface).
    routed_fast_path: bool = False
    # Repeated plain questions of dns_exempt sources answered by the routed tc program
    # from what user space answered them, each logged by user space after (decisions.md).
    # Not with geneve_fast_path nor dns_flood_limit.
    dns_fast_path: bool = False
    # Sub-locations of routed traffic (ILB next hop), which has no endpoint: by source
    # range, as ZIA defines sub-locations. Others: the connector's own location.
    routed_locations: list[RawRoutedLocation] = []
    # Azure Gateway Load Balancer (spec §4.2, V1/V2): VXLAN is accepted only from these
    # networks (the AzureLoadBalancer address); empty turns the VXLAN bridge off. The
    # tunnel interfaces are the vendor's user-data keys VXLAN_INTERNAL/EXTERNAL_PORT/VNI.
    vxlan_sources: list[IPv4Network] = []
    vxlan_internal_port: int = Field(default=10800, ge=1, le=65535)
    vxlan_internal_vni: int = Field(default=800, ge=0, lt=1 << 24)
    vxlan_external_port: int = Field(default=10801, ge=1, le=65535)
    vxlan_external_vni: int = Field(default=801, ge=0, lt=1 << 24)
    health_port: int = Field(default=50000, ge=80, le=65535)
    # Who may ask the health port (spec §2.5, §3.5, check H2); anyone else is dropped and
    # counted. Empty = the load balancer: geneve_sources with GENEVE, else Azure's
    # probe address 168.63.129.16 (the AzureLoadBalancer tag, §3.3).
    probe_sources: list[IPv4Network] = []
    # A new flow from a public source (not RFC 1918, CGNAT or a workload network) arriving
    # on the service interface is dropped and counted (§2.5); true accepts it (a mode
    # that serves the internet on purpose, such as inbound DNAT behind a public LB).
    accept_public_sources: bool = False
    metrics_port: int = Field(default=9100, ge=1, le=65535)
    zia_keepalive_s: float = Field(default=1.0, gt=0, le=60)
    zia_dead_after_s: float = Field(default=3.5, gt=0, le=600)
    # ZIA tunnel transport (spec §5.4): UDP with TLS as its fallback (auto), or one only.
    zia_transport: Literal["auto", "udp", "tls"] = "auto"
    # sshd on the management address (spec §2.5); empty sources = the management subnet.
    management_sshd: bool = True
    ssh_sources: list[IPv4Network] = []
    # ZPA brokers (spec §4.1 ECZPA): TLS on 443, tried in order; empty = ZPA flows are
    # dropped and counted (no path), as with no app segments.
    zpa_brokers: list[IPv4Address] = []
    # How often the brokers are pinged while one answers (spec §3.5 health); while none
    # does, every second (or this, if shorter). A broker that stops taking connections is
    # seen down within this plus the dial's 3 s.
    zpa_probe_s: float = Field(default=5.0, gt=0, le=3600)
    # The ZPA cloud to enroll with from the management address (policy fetch, log and
    # licence upload every cloud_upload_s): an address, or a name resolved through
    # management_dns (and checked against its TLS certificate); empty = this file alone.
    cloud: HostName | None = None
    # Control plane over the management interface (spec §1.1): the resolvers for the
    # connector's own names, and the NTP servers it watches its clock against.
    management_dns: list[IPv4Address] = []
    ntp_servers: list[HostName] = []
    ntp_poll_s: float = Field(default=64.0, ge=1, le=86400)
    # DNS queries a second the kernel lets through from one source to the listener, before
    # the listener's own guard (spec §9.4); 0 = no kernel limit. A flood is dropped there.
    dns_flood_limit: int = Field(default=0, ge=0, le=1_000_000)
    cloud_upload_s: float = Field(default=5.0, gt=0, le=3600)


class RawInboundMapping(Strict):
    """One public-LB rule the connector carries in (TCP, the public LB's protocol)."""

    frontend: IPv4Address  # the public LB's frontend, kept as destination (floating IP)
    port: int = Field(ge=1, le=65535)
    to: IPv4Address  # the workload
    to_port: int = Field(ge=1, le=65535)


class RawInboundNat(Strict):
    """Public-LB inbound DNAT mode (spec §4.2): DNAT to the workload, SNAT to the ILB
    frontend so that the workload's replies come back through the ILB."""

    snat_to: IPv4Address  # the ILB frontend
    mappings: list[RawInboundMapping] = Field(min_length=1)


TOP_KEYS = (
    "connector", "interfaces", "runtime", "locations", "source_ip_groups", "dest_ip_groups",
    "network_services", "app_segments", "ip_pools", "zia_gateways", "dns_gateways",
    "forwarding_rules", "dns_rules", "default_dns_rule", "inbound_nat",
)

# Section name -> (model of one entry, "list" | "map" | "one").
SECTIONS: dict[str, tuple[type[BaseModel] | None, str]] = {
    "connector": (RawIdentity, "one"),
    "interfaces": (RawInterfaces, "one"),
    "runtime": (RawRuntime, "one"),
    "forwarding_rules": (RawForwardingRule, "list"),
    "dns_rules": (RawDnsRule, "list"),
    "default_dns_rule": (RawDefaultDnsRule, "one"),
    "app_segments": (RawAppSegment, "map"),
    "zia_gateways": (RawZiaGateway, "map"),
    "dns_gateways": (RawDnsGateway, "map"),
    "inbound_nat": (RawInboundNat, "one"),
}

IpPoolValue = IPv4Network
