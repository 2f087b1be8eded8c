"""Topology YAML -> validated `Topology`, with every problem collected at once.

Structure is checked by pydantic, piece by piece (each link and node alone), so a
mistake in one node does not hide the mistakes in another; semantic checks then
run over every piece that parsed. All problems end in one `TopologyError`, each
naming the file, the path inside it, its line, and a hint (netlab's
`log.error(...)` + `exit_on_error()` idea).
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from lab.errors import TopologyError
from lab.extends import Document, read_document
from lab.model import Gateway, Interface, Network, Node, Route, Service, Topology
from lab.schema_sg import (
    Names,
    RawComputedTag,
    RawNetworkAcl,
    RawSecurityGroup,
    build_acl,
    build_computed,
    build_group,
)
from lab.semantics import Paths, check_topology
from yamlissues import Issue

Role = Literal["host", "router", "connector", "gateway", "server"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RawEndpoint(_Strict):
    node: str
    ifname: str
    address: IPv4Address | IPv4Interface
    public: IPv4Address | None = None
    security_groups: list[str] = []
    address6: IPv6Address | IPv6Interface | None = None  # on a link with `subnet6`


class RawLink(_Strict):
    name: str
    subnet: IPv4Network
    subnet6: IPv6Network | None = None  # dual stack: the link's IPv6 prefix
    endpoints: list[RawEndpoint] = Field(min_length=1)
    # A private network nothing in the lab routes to (a ZPA app's data centre): it may
    # reuse another isolated link's subnet, as two customers' sites do.
    isolated: bool = False
    network_acl: str = ""
    security_groups: list[str] = []


class RawRoute(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    to: Literal["default"] | IPv4Network | IPv6Network  # ::/0 is IPv6's default
    via: IPv4Address | IPv6Address
    source: IPv4Network | IPv6Network | None = Field(default=None, alias="from")
    udr: str = ""


class RawService(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    kind: str


class RawGateway(_Strict):
    # egress-only: AWS's egress-only internet gateway, IPv6 out and its replies back
    kind: Literal["internet", "nat", "egress-only"]
    inside: str
    outside: str
    vpc: list[IPv4Network | IPv6Network] = Field(min_length=1)
    anti_spoofing: bool = True
    provider_ranges: list[IPv4Network] = []
    drop_provider_ranges: bool = False


class RawNode(_Strict):
    role: Role = "host"
    routes: list[RawRoute] = []
    sysctls: dict[str, str | int] = {}
    nftables: str = ""
    services: list[RawService] = []
    gateway: RawGateway | None = None
    network_tags: list[str] = []


class _TagList(RootModel[list[IPv4Network | IPv6Network] | RawComputedTag]):
    pass


class RawHeader(_Strict):
    name: str
    description: str = ""
    dns: list[IPv4Address] = []


_TOP_KEYS = ("name", "description", "dns", "tags", "security_groups", "network_acls", "links",
             "nodes")


def load_topology(path: str | Path) -> Topology:
    """Read and validate a topology file; raise `TopologyError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TopologyError([Issue(str(path), "(file)", f"cannot read: {exc.strerror}",
                                   "give the path of a topology YAML file")]) from exc
    return parse_topology(text, source=path)


def parse_topology(text: str, *, source: Path) -> Topology:
    """`text`, the topology file `source`, with the files it `extends:` (lab.extends)."""
    doc = read_document(text, source)
    issues = list(doc.issues)
    paths = Paths()
    data = None if issues else _read_yaml(doc, issues)
    topology = _build(data, issues, paths) if isinstance(data, dict) else None
    if topology is not None and not issues:
        # Cross-reference checks only on a structurally sound file: a node that
        # failed to parse would otherwise echo as a dozen misleading problems.
        issues += check_topology(topology, paths, source.parent)
    if issues or topology is None:
        raise TopologyError(sorted((doc.locate(i) for i in issues), key=doc.order))
    return replace(topology, source=source)


def _read_yaml(doc: Document, issues: list[Issue]) -> Any:
    data = doc.data()
    if not isinstance(data, dict):
        issues.append(Issue("", "(root)", "a topology must be a mapping",
                            f"start with keys such as {', '.join(_TOP_KEYS)}"))
    return data


def _build(data: dict[str, Any], issues: list[Issue], paths: Paths) -> Topology | None:
    for key in data:
        if key not in _TOP_KEYS:
            issues.append(Issue("", str(key), "unknown key",
                                f"top-level keys are: {', '.join(_TOP_KEYS)}"))
    header = _parse(RawHeader, {k: data[k] for k in ("name", "description", "dns") if k in data},
                    "", issues)
    links = _parse_list(RawLink, data.get("links"), "links", issues)
    nodes = _parse_map(RawNode, data.get("nodes"), "nodes", issues)
    tags = _parse_map(_TagList, data.get("tags") or {}, "tags", issues)
    groups = _parse_map(RawSecurityGroup, data.get("security_groups") or {}, "security_groups",
                        issues)
    acls = _parse_map(RawNetworkAcl, data.get("network_acls") or {}, "network_acls", issues)
    declared = set(data["nodes"]) if isinstance(data.get("nodes"), dict) else set()
    if header is None:
        return None
    topo = _assemble(header, links, nodes, declared, issues, paths)
    static = {n: list(t.root) for n, t in tags.items() if isinstance(t.root, list)}
    computed = tuple(build_computed(n, t.root) for n, t in tags.items()
                     if isinstance(t.root, RawComputedTag))
    names = Names(static, frozenset(c.name for c in computed), frozenset(groups))
    built = tuple(build_group(n, g, names, issues) for n, g in groups.items())
    return replace(topo, security_groups=built, computed_tags=computed,
                   tags=tuple((n, tuple(p)) for n, p in static.items()),
                   network_acls=tuple(build_acl(n, a, issues) for n, a in acls.items()))


def _assemble(header: RawHeader, links: dict[int, RawLink], nodes: dict[str, RawNode],
              declared: set[str], issues: list[Issue], paths: Paths) -> Topology:
    interfaces: dict[str, list[Interface]] = {name: [] for name in nodes}
    for i, link in sorted(links.items()):
        paths.links.setdefault(link.name, i)
        for j, ep in enumerate(link.endpoints):
            where = f"links[{i}].endpoints[{j}]"
            paths.endpoints.setdefault((ep.node, ep.ifname), []).append(where)
            if ep.node in declared and ep.node not in nodes:
                continue  # its own parse problem is reported already
            if ep.node not in nodes:
                issues.append(Issue("", f"links[{i}].endpoints[{j}].node",
                                    f"unknown node '{ep.node}' in link '{link.name}'",
                                    _unknown_node_hint(ep.node, declared)))
                continue
            interfaces[ep.node].append(_interface(link, ep))
    networks = tuple(Network(link.name, link.subnet, link.isolated, link.network_acl,
                             tuple(link.security_groups), link.subnet6)
                     for _, link in sorted(links.items()))
    built = tuple(_node(name, raw, interfaces[name]) for name, raw in nodes.items())
    return Topology(header.name, header.description.strip(), networks, built, tuple(header.dns))


def _unknown_node_hint(name: str, declared: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(declared), n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"define it under nodes:, or use one of: {', '.join(sorted(declared)) or '(none)'}"


def _interface(link: RawLink, ep: RawEndpoint) -> Interface:
    if isinstance(ep.address, IPv4Interface):
        address = ep.address
    else:
        address = IPv4Interface(f"{ep.address}/{link.subnet.prefixlen}")
    address6 = ep.address6
    if address6 is not None and not isinstance(address6, IPv6Interface):
        # without the link's subnet6 (a semantic check reports it): a host route
        prefix = link.subnet6.prefixlen if link.subnet6 is not None else 128
        address6 = IPv6Interface(f"{address6}/{prefix}")
    return Interface(ep.ifname, link.name, address, ep.public, tuple(ep.security_groups),
                     address6)


def _node(name: str, raw: RawNode, interfaces: list[Interface]) -> Node:
    routes = tuple(
        Route(IPv4Network("0.0.0.0/0") if r.to == "default" else r.to, r.via, r.source, r.udr)
        for r in raw.routes
    )
    services = tuple(
        Service(s.kind, tuple((k, str(v)) for k, v in (s.model_extra or {}).items()))
        for s in raw.services
    )
    sysctls = tuple((k, str(v)) for k, v in raw.sysctls.items())
    gateway = None
    if raw.gateway is not None:
        g = raw.gateway
        gateway = Gateway(g.kind, g.inside, g.outside, tuple(g.vpc), g.anti_spoofing,
                          tuple(g.provider_ranges), g.drop_provider_ranges)
    return Node(name, raw.role, tuple(interfaces), routes, sysctls, raw.nftables, services,
                gateway, tuple(raw.network_tags))


def _parse(model: type[Any], value: Any, path: str, issues: list[Issue]) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        issues.extend(_issues_from(exc, path))
        return None


def _parse_list(model: type[Any], value: Any, path: str, issues: list[Issue]) -> dict[int, Any]:
    if not isinstance(value, list):
        issues.append(Issue("", path, "must be a list", f"write `{path}:` followed by - items"))
        return {}
    parsed = {i: _parse(model, item, f"{path}[{i}]", issues) for i, item in enumerate(value)}
    return {i: p for i, p in parsed.items() if p is not None}


def _parse_map(model: type[Any], value: Any, path: str, issues: list[Issue]) -> dict[str, Any]:
    if not isinstance(value, dict):
        issues.append(Issue("", path, "must be a mapping of name to settings",
                            f"write `{path}:` followed by `name:` entries"))
        return {}
    parsed = {str(k): _parse(model, v or {}, f"{path}.{k}", issues) for k, v in value.items()}
    return {k: p for k, p in parsed.items() if p is not None}


def _issues_from(exc: ValidationError, base: str) -> list[Issue]:
    out = []
    for err in exc.errors():
        path = base
        for part in err["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif not path:
                path = str(part)
            elif str(part) not in _UNION_BRANCHES and "[" not in str(part):
                path += f".{'from' if part == 'source' else part}"
        out.append(Issue("", path, err["msg"].lower(), _hint(err)))
    return _dedupe(out)


_UNION_BRANCHES = ("IPv4Address", "IPv4Interface", "IPv4Network", "IPv6Address",
                   "IPv6Interface", "IPv6Network", "RawComputedTag", "str", "int")


def _hint(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "remove it, or check its spelling"
    if kind == "missing":
        return "this field is required"
    if kind.startswith("ip_v6") or "ipv6" in str(err["msg"]).lower():
        return "write an IPv6 address (fd00:10:1::11) or prefix (fd00:10:1::/64)"
    if kind.startswith("ip_") or "ipv4" in str(err["msg"]).lower():
        return "write an IPv4 address (10.10.1.11) or prefix (10.10.1.0/24)"
    if kind == "literal_error":
        return f"allowed: {err.get('ctx', {}).get('expected', '')}"
    return ""


_V4_HINT, _V6_HINT = _hint({"type": "ip_v4_address", "msg": ""}), \
    _hint({"type": "ip_v6_address", "msg": ""})
_EITHER = Issue("", "", "input is not a valid IPv4 or IPv6 address or prefix",
                "write an IPv4 (10.10.1.11, 10.10.1.0/24) or IPv6 (fd00:10:1::11, "
                "fd00:10:1::/64) address or prefix")


def _dedupe(issues: list[Issue]) -> list[Issue]:
    """pydantic reports each union branch; keep one issue per path (a field that takes
    either family says so, not only the first branch's family)."""
    seen: dict[str, Issue] = {}
    for issue in issues:
        first = seen.setdefault(issue.path, issue)
        if {first.hint, issue.hint} == {_V4_HINT, _V6_HINT}:
            seen[issue.path] = replace(_EITHER, path=issue.path)
    return list(seen.values())
