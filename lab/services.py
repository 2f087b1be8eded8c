"""The kinds of service a topology may start in a node, and the argv that starts each.

Pure: argv carries the tokens `{python}` (the interpreter) and `{run}` (the lab's
run directory), which a backend resolves. The lab never imports the connector;
it starts it as a process like any other service.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.model import Node, Service


@dataclass(frozen=True, slots=True)
class ServiceKind:
    """What a service kind needs and how to start it."""

    name: str
    module: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # options naming files, relative to the topology file
    needs_tun: bool = False  # opens /dev/net/tun (user-space data paths)
    forwards: bool = False  # routes packets on (needs net.ipv4.ip_forward=1)
    tls: bool = False  # speaks the lab's TLS: given the trust folder as --trust


KINDS: dict[str, ServiceKind] = {
    "web": ServiceKind("web", "lab.nodes.web", optional=("port", "udp-echo")),
    "dns-upstream": ServiceKind("dns-upstream", "lab.nodes.dns_upstream", optional=("zone",)),
    "ntp": ServiceKind("ntp", "lab.nodes.ntp_server", optional=("stratum",)),
    "dns-native": ServiceKind("dns-native", "lab.nodes.dns_native",
                              required=("listen", "zone", "records"), files=("records",)),
    "zia-gateway": ServiceKind("zia-gateway", "lab.nodes.zia_gateway", required=("listen",),
                               optional=("block",), needs_tun=True, forwards=True, tls=True),
    "gwlb": ServiceKind("gwlb", "lab.nodes.gwlb", required=("listen", "targets"),
                        optional=("probe-port", "interval", "healthy", "unhealthy", "endpoints",
                                  "deregistration-delay", "target-failover", "fast-path"),
                        needs_tun=True, forwards=True),
    "ilb": ServiceKind("ilb", "lab.nodes.ilb", required=("targets", "probe-source"),
                       optional=("probe-port", "interval", "threshold", "frontend",
                                 "affinity"),
                       forwards=True),
    "azure-plb": ServiceKind("azure-plb", "lab.nodes.azure_plb",
                             required=("frontend", "targets", "ports", "outside"), forwards=True),
    "azure-gwlb": ServiceKind("azure-gwlb", "lab.nodes.azure_gwlb",
                              required=("source", "targets", "frontend", "backend", "outside"),
                              optional=("internal", "external", "probe-port", "interval",
                                        "healthy", "unhealthy"),
                              needs_tun=True, forwards=True),
    "zpa-broker": ServiceKind("zpa-broker", "lab.nodes.zpa_broker", required=("listen",),
                              optional=("name",), tls=True),
    "zpa-cloud": ServiceKind("zpa-cloud", "lab.nodes.zpa_cloud", required=("listen", "policy"),
                             optional=("name",), files=("policy",), tls=True),
    "app-connector": ServiceKind("app-connector", "lab.nodes.app_connector",
                                 required=("broker", "site", "apps"), tls=True),
    "connector": ServiceKind("connector", "connector", required=("config",), files=("config",),
                             needs_tun=True, forwards=True, tls=True),
}
TRUST_DIR = "{run}/pki"  # TLS servers publish their certificates here; clients trust them
# The lab's connectors are one cluster: they share one binding log (spec §6.6 item 1).
CLUSTER_LOG = "{run}/state/binding-log.sqlite3"


def events_path(node: str) -> str:
    return f"{{run}}/events/{node}.jsonl"


def build_argv(node: Node, service: Service) -> tuple[str, ...]:
    """The command line that starts `service` inside `node`."""
    kind = KINDS[service.kind]
    if service.kind == "connector":
        config = _relative_to_topology(service.option("config"))
        return ("{python}", "-m", "connector", "run", "--config", config,
                "--events", events_path(node.name), "--state", f"{{run}}/state/{node.name}",
                "--trust", TRUST_DIR, "--cluster-log", CLUSTER_LOG)
    argv = ["{python}", "-m", kind.module, "--node", node.name, "--events", events_path(node.name)]
    for key, value in service.options:
        argv += [f"--{key}", _relative_to_topology(value) if key in kind.files else value]
    if kind.tls:
        argv += ["--trust", TRUST_DIR]
    return tuple(argv)


def _relative_to_topology(path: str) -> str:
    return path if Path(path).is_absolute() else f"{{topodir}}/{path}"


def resolve_argv(argv: tuple[str, ...] | list[str], *, python: str, run: str,
                 topodir: str) -> list[str]:
    """Replace the tokens a backend knows: `{python}`, `{run}` and `{topodir}`."""
    return [a.replace("{python}", python).replace("{run}", run).replace("{topodir}", topodir)
            for a in argv]

