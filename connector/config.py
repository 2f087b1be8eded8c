"""Connector config YAML -> validated `ConnectorConfig`, every problem listed at once.

Shape is checked section by section by pydantic (config_schema), then values,
limits and cross-references by config_build. Any problem means no config: the
service never runs on a partly loaded policy. `connector check-config FILE`
prints the same list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from connector.config_build import build_policy
from connector.config_locations import routed_locations
from connector.config_schema import (
    SECTIONS,
    TOP_KEYS,
    RawIdentity,
    RawInboundNat,
    RawInterfaces,
    RawRuntime,
)
from connector.core.policy import Identity, Policy
from connector.core.routed_locations import RoutedLocation
from connector.core.rules import PRIVATE_NETWORKS
from connector.errors import ConfigError
from yamlissues import Issue, located, read_mapping

AZURE_PROBE_SOURCE = IPv4Network("168.63.129.16/32")  # spec §3.3: Azure's probes


@dataclass(frozen=True, slots=True)
class InterfaceConfig:
    name: str
    address: IPv4Interface


@dataclass(frozen=True, slots=True)
class DataPlaneConfig:
    """Where the data plane listens and how it watches its ZIA tunnels."""

    geneve_sources: tuple[IPv4Network, ...] = ()
    health_port: int = 50000
    metrics_port: int = 9100
    zia_keepalive_s: float = 1.0
    zia_dead_after_s: float = 3.5
    management_sshd: bool = True
    ssh_sources: tuple[IPv4Network, ...] = ()
    zpa_brokers: tuple[IPv4Address, ...] = ()
    zia_transport: str = "auto"
    cloud: IPv4Address | str | None = None  # an address, or a name to resolve (control plane)
    cloud_upload_s: float = 5.0
    dns_flood_limit: int = 0
    probe_sources: tuple[IPv4Network, ...] = (AZURE_PROBE_SOURCE,)
    accept_public_sources: bool = False
    vxlan_sources: tuple[IPv4Network, ...] = ()
    vxlan_tunnels: tuple[tuple[int, int], tuple[int, int]] = ((10800, 800), (10801, 801))
    geneve_locations: tuple[tuple[int, str], ...] = ()  # GWLB endpoint ID -> sub-location
    routed_locations: tuple[RoutedLocation, ...] = ()  # routed sources' sub-locations
    geneve_fast_path: bool = False  # the kernel carries Direct UDP flows (fast_path.py)
    routed_fast_path: bool = False  # a tc program carries routed Direct UDP (routed_fast_path.py)
    dns_fast_path: bool = False  # the same program answers repeated questions (dns_fast_path.py)
    zpa_probe_s: float = 5.0  # the brokers' ping interval while one answers

    @property
    def geneve(self) -> bool:
        return bool(self.geneve_sources)

    @property
    def vxlan(self) -> bool:
        return bool(self.vxlan_sources)


@dataclass(frozen=True, slots=True)
class ControlPlaneConfig:
    """What the connector asks over its management interface: names and time (§1.1)."""

    dns_servers: tuple[IPv4Address, ...] = ()
    ntp_servers: tuple[IPv4Address | str, ...] = ()
    ntp_poll_s: float = 64.0


@dataclass(frozen=True, slots=True)
class InboundMapping:
    """TCP to `frontend`:`port` (a public LB's frontend, floating IP) goes to `to`:`to_port`."""

    frontend: IPv4Address
    port: int
    to: IPv4Address
    to_port: int


@dataclass(frozen=True, slots=True)
class InboundNat:
    """Public-LB inbound DNAT mode (spec §4.2): the mappings, and the ILB frontend that
    DNATed flows are SNATed to so that the workload's replies come back through the ILB."""

    snat_to: IPv4Address
    mappings: tuple[InboundMapping, ...]

    @property
    def frontends(self) -> tuple[IPv4Address, ...]:
        return tuple(sorted({m.frontend for m in self.mappings}))


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """A loaded config: who the connector is, its interfaces, its policy, its runtime."""

    identity: Identity
    service: InterfaceConfig
    management: InterfaceConfig
    policy: Policy
    upstream_dns: tuple[IPv4Address, ...] = ()
    dns_ttl: int = 60
    state_dir: str | None = None
    global_vips: tuple[IPv4Address, ...] = ()
    dns_acl: tuple[IPv4Network, ...] = ()
    dns_exempt: tuple[IPv4Network, ...] = ()
    dataplane: DataPlaneConfig = DataPlaneConfig()
    source: Path | None = field(default=None, compare=False)
    control: ControlPlaneConfig = ControlPlaneConfig()
    inbound: InboundNat | None = None

    @property
    def trusted_sources(self) -> tuple[IPv4Network, ...] | None:
        """Where new flows on the service interface may come from (None: anywhere)."""
        return None if self.dataplane.accept_public_sources else PRIVATE_NETWORKS


def load_config(path: str | Path) -> ConnectorConfig:
    """Read and validate a config file; raise `ConfigError` listing every problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([Issue(str(path), "(file)", f"cannot read: {exc.strerror}",
                                 "give the path of a connector config YAML file")]) from exc
    return parse_config_bytes(data, source=path)


def parse_config_bytes(data: bytes, *, source: Path) -> ConnectorConfig:
    """`parse_config` for raw file contents: bytes that are not UTF-8 are a config error."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Issue(str(source), "(file)",
                                 f"not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x})",
                                 "save the file as UTF-8")]) from exc
    return parse_config(text, source=source)


def parse_config(text: str, *, source: Path) -> ConnectorConfig:
    issues: list[Issue] = []
    data = read_mapping(text, issues, what="a connector config", keys=TOP_KEYS[:4])
    config = _build(data, issues) if isinstance(data, dict) else None
    if issues or config is None:
        raise ConfigError(located(issues, text, str(source)))
    return replace(config, source=source)


def _build(data: dict[str, Any], issues: list[Issue]) -> ConnectorConfig | None:
    for key in data:
        if key not in TOP_KEYS:
            issues.append(Issue("", str(key), "unknown key",
                                f"top-level keys are: {', '.join(TOP_KEYS)}"))
    raw = {name: _section(name, data.get(name), issues) for name in SECTIONS}
    identity, interfaces = raw["connector"], raw["interfaces"]
    runtime = raw["runtime"] or RawRuntime()
    policy = build_policy(data, raw, issues)
    if isinstance(identity, RawIdentity):
        _check_identity(identity, data, issues)
    if not isinstance(identity, RawIdentity) or not isinstance(interfaces, RawInterfaces):
        return None
    return ConnectorConfig(
        Identity(identity.name, identity.group, identity.location),
        InterfaceConfig(interfaces.service.name, interfaces.service.address),
        InterfaceConfig(interfaces.management.name, interfaces.management.address),
        policy, tuple(runtime.upstream_dns), runtime.dns_ttl, runtime.state_dir,
        tuple(runtime.global_vips), tuple(runtime.dns_acl) or workload_networks(policy),
        tuple(runtime.dns_exempt),
        replace(_dataplane(runtime, interfaces.management.address.network, issues),
                geneve_locations=_geneve_locations(runtime, data, identity.location, issues),
                routed_locations=routed_locations(runtime.routed_locations, data,
                                                  identity.location, issues)),
        control=_control_plane(runtime, issues), inbound=_inbound(raw["inbound_nat"], issues))


def _inbound(raw: RawInboundNat | None, issues: list[Issue]) -> InboundNat | None:
    """The mappings, each (frontend, port) once; a frontend is the public LB's: public."""
    if raw is None:
        return None
    seen: dict[tuple[IPv4Address, int], int] = {}
    for i, m in enumerate(raw.mappings):
        path = f"inbound_nat.mappings[{i}]"
        if any(m.frontend in net for net in PRIVATE_NETWORKS) or m.frontend.is_unspecified:
            issues.append(Issue("", f"{path}.frontend",
                                f"{m.frontend} is not a public address (RFC 1918, CGNAT)",
                                "the frontend is the public load balancer's public IP"))
        first = seen.setdefault((m.frontend, m.port), i)
        if first != i:
            issues.append(Issue("", f"{path}.port",
                                f"{m.frontend} port {m.port} is already mapped by "
                                f"inbound_nat.mappings[{first}]",
                                "map each frontend port once (one workload per port)"))
    return InboundNat(raw.snat_to, tuple(InboundMapping(m.frontend, m.port, m.to, m.to_port)
                                         for m in raw.mappings))


def _dataplane(runtime: RawRuntime, management: IPv4Network,
               issues: list[Issue]) -> DataPlaneConfig:
    port = runtime.health_port
    if port != 80 and port < 1024:
        issues.append(Issue("", "runtime.health_port", f"{port} is not a probe port",
                            "the vendor allows 80 or 1024-65535 (HTTP_PROBE_PORT)"))
    if runtime.geneve_fast_path and not runtime.geneve_sources:
        issues.append(Issue("", "runtime.geneve_fast_path", "set without geneve_sources",
                            "the fast path carries GENEVE flows: add runtime.geneve_sources"))
    if runtime.routed_fast_path and runtime.geneve_fast_path:
        issues.append(Issue("", "runtime.routed_fast_path", "set with geneve_fast_path",
                            "each is a tc program on the service interface's ingress, and "
                            "it takes one: keep the one for the traffic this connector gets"))
    issues += _dns_fast_path_issues(runtime)
    if runtime.zia_dead_after_s <= runtime.zia_keepalive_s:
        issues.append(Issue("", "runtime.zia_dead_after_s",
                            "must be longer than zia_keepalive_s",
                            "a gateway is dead after several missed keepalives, e.g. 3.5 x"))
    return DataPlaneConfig(tuple(runtime.geneve_sources), port, runtime.metrics_port,
                           runtime.zia_keepalive_s, runtime.zia_dead_after_s,
                           runtime.management_sshd, tuple(runtime.ssh_sources) or (management,),
                           tuple(runtime.zpa_brokers), runtime.zia_transport,
                           _host(runtime.cloud) if runtime.cloud else None,
                           runtime.cloud_upload_s, runtime.dns_flood_limit,
                           tuple(runtime.probe_sources or runtime.geneve_sources
                                 or [AZURE_PROBE_SOURCE]),
                           runtime.accept_public_sources, tuple(runtime.vxlan_sources),
                           _vxlan_tunnels(runtime, issues),
                           geneve_fast_path=runtime.geneve_fast_path,
                           routed_fast_path=runtime.routed_fast_path,
                           dns_fast_path=runtime.dns_fast_path,
                           zpa_probe_s=runtime.zpa_probe_s)


def _dns_fast_path_issues(runtime: RawRuntime) -> list[Issue]:
    """The kernel answers before the flood limit and for exempt sources only, on the
    routed program (docs/decisions.md, "DNS answered in the kernel")."""
    if not runtime.dns_fast_path:
        return []
    where = "runtime.dns_fast_path"
    issues: list[Issue] = []
    if runtime.geneve_fast_path:
        issues.append(Issue("", where, "set with geneve_fast_path",
                            "the routed tc program answers DNS, and the service interface "
                            "takes one program: keep the one for the traffic you have"))
    if runtime.dns_flood_limit:
        issues.append(Issue("", where, "set with dns_flood_limit",
                            "the kernel answers before the flood limit would count the "
                            "query: choose one (the limit protects the listener)"))
    if not runtime.dns_exempt:
        issues.append(Issue("", where, "set without dns_exempt",
                            "only sources the guard never limits are answered in the "
                            "kernel: list the resolvers that forward to this connector"))
    return issues


ENDPOINT_ID = re.compile(r"vpce-([0-9a-f]{1,17})")


def _geneve_locations(runtime: RawRuntime, data: dict[str, Any], own: str,
                      issues: list[Issue]) -> tuple[tuple[int, str], ...]:
    """GWLB endpoint IDs (the 64-bit value of GENEVE option 0x0108/1, written as AWS
    shows it: `vpce-` and hex) -> declared locations other than the connector's own."""
    if runtime.geneve_locations and not runtime.geneve_sources:
        issues.append(Issue("", "runtime.geneve_locations", "set without geneve_sources",
                            "sub-locations come from GWLB endpoints: add runtime.geneve_sources"))
    declared = data.get("locations")
    declared = declared if isinstance(declared, list) else []
    mapped: dict[int, tuple[str, str]] = {}
    for endpoint, location in runtime.geneve_locations.items():
        path = f"runtime.geneve_locations.{endpoint}"
        found = ENDPOINT_ID.fullmatch(endpoint)
        value = int(found.group(1), 16) if found else -1
        if not found or value >= 1 << 64:
            issues.append(Issue("", path, f"'{endpoint}' is not a GWLB endpoint ID",
                                "write `vpce-` and at most 17 lower-case hex digits of a "
                                "64-bit value, e.g. vpce-0e1a5b7c9d0f1122"))
            continue
        if location not in declared:
            issues.append(Issue("", path, f"location '{location}' is not declared",
                                "add it to the top-level `locations:` list"))
        elif location == own:
            issues.append(Issue("", path, f"'{location}' is the connector's own location",
                                "unmapped endpoints are already in it: map only "
                                "sub-locations, or remove this entry"))
        if value in mapped:
            issues.append(Issue("", path, f"the same endpoint as {mapped[value][0]}",
                                "map each endpoint once"))
        mapped.setdefault(value, (endpoint, location))
    return tuple(sorted((value, location) for value, (_e, location) in mapped.items()))


def _vxlan_tunnels(runtime: RawRuntime, issues: list[Issue]
                   ) -> tuple[tuple[int, int], tuple[int, int]]:
    internal = (runtime.vxlan_internal_port, runtime.vxlan_internal_vni)
    external = (runtime.vxlan_external_port, runtime.vxlan_external_vni)
    if internal[0] == external[0]:
        issues.append(Issue("", "runtime.vxlan_external_port",
                            f"the same port as the internal tunnel ({internal[0]})",
                            "an Azure GWLB pool has two tunnel interfaces, each its own port "
                            "(the vendor's defaults: 10800 internal, 10801 external)"))
    if internal[1] == external[1]:
        issues.append(Issue("", "runtime.vxlan_external_vni",
                            f"the same VNI as the internal tunnel ({internal[1]})",
                            "each tunnel interface has its own VNI (defaults: 800, 801)"))
    return internal, external


def _control_plane(runtime: RawRuntime, issues: list[Issue]) -> ControlPlaneConfig:
    named = [("runtime.cloud", runtime.cloud)] if runtime.cloud else []
    named += [(f"runtime.ntp_servers[{i}]", s) for i, s in enumerate(runtime.ntp_servers)]
    for path, value in named:
        if isinstance(_host(value), str) and not runtime.management_dns:
            issues.append(Issue("", path, f"'{value}' is a name and no resolver is set",
                                "add runtime.management_dns: [ADDRESS] (asked from the "
                                "management address), or give an address"))
    return ControlPlaneConfig(tuple(runtime.management_dns),
                              tuple(_host(s) for s in runtime.ntp_servers), runtime.ntp_poll_s)


def _host(value: str) -> IPv4Address | str:
    """An address when the text is one, else the name (without a trailing dot)."""
    try:
        return IPv4Address(value)
    except ValueError:
        return value.rstrip(".").lower()


def workload_networks(policy: Policy) -> tuple[IPv4Network, ...]:
    """The networks of the source IP groups: where workloads are (ACL default, licences)."""
    return policy.workload_networks()


def _check_identity(identity: RawIdentity, data: dict[str, Any], issues: list[Issue]) -> None:
    locations = data.get("locations") or []
    if isinstance(locations, list) and identity.location not in locations:
        issues.append(Issue("", "connector.location",
                            f"location '{identity.location}' is not declared",
                            "add it to the top-level `locations:` list"))


def _section(name: str, value: Any, issues: list[Issue]) -> Any:
    model, kind = SECTIONS[name]
    assert model is not None
    if value is None:
        if name in ("connector", "interfaces"):
            issues.append(Issue("", name, "missing section", _REQUIRED_HINTS[name]))
        return None if kind == "one" else {}
    if kind == "one":
        return _parse(model, value, name, issues)
    if kind == "list":
        if not isinstance(value, list):
            issues.append(Issue("", name, "must be a list", f"write `{name}:` then - items"))
            return {}
        return {i: _parse(model, v, f"{name}[{i}]", issues) for i, v in enumerate(value)}
    if not isinstance(value, dict):
        issues.append(Issue("", name, "must be a mapping of name to settings",
                            f"write `{name}:` followed by `name:` entries"))
        return {}
    return {str(k): _parse(model, v or {}, f"{name}.{k}", issues) for k, v in value.items()}


_REQUIRED_HINTS = {
    "connector": "write `connector: {name: cc1, group: ccg-1, location: vpc-lab}`",
    "interfaces": "write `interfaces: {service: {name: eth-svc, address: 10.10.3.31/24}, "
                  "management: {...}}`",
}


def _parse(model: type[BaseModel], value: Any, path: str, issues: list[Issue]) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        issues.extend(_issues_from(exc, path))
        return None


def _issues_from(exc: ValidationError, base: str) -> list[Issue]:
    seen: dict[str, Issue] = {}
    for err in exc.errors():
        path = base
        for part in err["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif "[" not in str(part) and not str(part).startswith(("IPv4", "int", "str")):
                path += f".{part}"
        message = err["msg"].removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        seen.setdefault(path, Issue("", path, message, _hint(err)))
    return list(seen.values())


def _hint(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "remove it, or check its spelling"
    if kind == "missing":
        return "this field is required"
    if kind in ("literal_error", "enum"):
        return f"allowed: {err.get('ctx', {}).get('expected', '')}"
    if "host name" in str(err["msg"]):
        return "an address such as 198.18.53.53, or a name such as ntp.example.net"
    if "ip" in kind or "ipv4" in str(err["msg"]).lower():
        return "write an IPv4 address (10.1.2.3) or prefix (10.1.0.0/16)"
    if kind == "string_too_long":
        return "shorten it"
    return ""
