"""The background flows a topology offers a scenario, and where each one is seen.

A profile names, per forwarding method, one kind of flow a workload opens (an HTTP
GET or a DNS query), the node whose log shows it arriving, and the sources it may
arrive from as the connectors' policy says: the ZIA edges for ZIA methods, the
connectors' service addresses (SNAT) for Direct. An arrival from any other source
is a leak: a packet that left by a path the policy forbids. A fail-open method may
also arrive from the connectors while no ZIA edge answers (spec §5.4). Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    kind: Literal["http", "dns", "http-name", "http-held"]  # http-name: a lookup, then HTTP
    # to it; http-held: requests on connections kept open (lab.traffic.held_flows)
    address: str
    port: int
    seen_at: str  # the node whose log shows the flow arriving
    allowed_src: frozenset[str]
    fail_open_src: frozenset[str] = frozenset()  # also allowed, only when failing open
    qname: str = ""

    @property
    def spec(self) -> str:
        """The flow as the in-node probe takes it (lab.traffic.flow_probe)."""
        tail = f":{self.qname}" if self.qname else ""
        return f"{self.name}={self.kind}:{self.address}:{self.port}{tail}"


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    topology: str
    source_node: str  # where the flows start
    methods: tuple[Method, ...]
    zia_edges: frozenset[str]

    def method(self, name: str) -> Method:
        return next(m for m in self.methods if m.name == name)

    @property
    def method_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.methods)


_GWLB_EDGES = frozenset({"198.19.1.1", "198.19.1.2"})
_GWLB_CONNECTORS = frozenset({"10.10.3.31", "10.10.3.32"})

# lab/topologies/gwlb.yaml with connectors/gwlb-cc1.yaml and gwlb-cc2.yaml.
GWLB = Profile(
    name="gwlb", topology="gwlb", source_node="workload1", zia_edges=_GWLB_EDGES,
    methods=(
        # rule web-direct: Direct, SNAT to the carrying connector's service address
        Method("direct", "http", "198.18.10.10", 80, "web", _GWLB_CONNECTORS),
        # the default rule: ZIA gateway `default`, fail-close
        Method("zia", "http", "198.18.10.20", 80, "web2", _GWLB_EDGES),
        # rule zia-open-8080: ZIA gateway `open`, fail-open (Direct while no edge answers)
        Method("zia_open", "http", "198.18.10.20", 8080, "web2", _GWLB_EDGES,
               fail_open_src=_GWLB_CONNECTORS),
        # cc1's DNS listener; it asks the upstream (198.18.53.53) through ZIA DNS control
        Method("dns", "dns", "10.10.3.31", 53, "dns", _GWLB_EDGES, qname="www.web.example"),
        # rule web-direct too, on a few connections kept open: flows that outlive a fault
        Method("held", "http-held", "198.18.10.10", 80, "web", _GWLB_CONNECTORS),
    ),
)

_AWS_EDGES = frozenset({"198.19.1.1", "198.19.1.2"})

# lab/topologies/aws-natgw.yaml (connectors/aws-cc1.yaml, aws-cc2.yaml; cloud/base.yaml).
AWS_NATGW = Profile(
    name="aws-natgw", topology="aws-natgw", source_node="workload1", zia_edges=_AWS_EDGES,
    methods=(
        # Direct, SNAT to the connector, then the NAT gateway's one public address
        Method("direct", "http", "198.18.10.10", 80, "web", frozenset({"203.0.113.5"})),
        Method("zia", "http", "198.18.10.20", 80, "web2", _AWS_EDGES),
        # ZPA: app-a's name (the connectors answer a synthetic address), then HTTP to it;
        # app-a sees its site's app connector (192.0.2.2)
        Method("zpa", "http-name", "198.18.53.53", 80, "app-a", frozenset({"192.0.2.2"}),
               qname="app-a.corp.example"),
    ),
)

PROFILES = {p.name: p for p in (GWLB, AWS_NATGW)}
