"""`cclab import`: your own cloud's exports as a topology the lab can build and attack.

    cclab import aws aws_configs/ --connector-tag Role=cloud-connector -o my-vpc.yaml
    cclab import azure vnets.json nsgs.json routes.json nics.json pips.json lbs.json \
        -o my-vnet.yaml
    cclab import terraform plan.json -o my-cloud.yaml  # terraform show -json plan.tfplan
"""

from __future__ import annotations

import argparse
import sys
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.imports.names import lab_name

EXIT_FINDINGS = 1  # `cclab lint`: an error finding (bad input: 2, as every command)


def add_commands(sub: Any, command: Any) -> None:
    imp = command(sub, "import", cmd_import, "a cloud's exports -> a topology (and its files)")
    imp.add_argument("provider", choices=["aws", "azure", "terraform"])
    imp.add_argument("paths", nargs="+", type=Path,
                     help="aws: AWS CLI JSON files, or folders in Batfish's aws_configs/ "
                     "layout; azure: `az network ... list` JSON files or folders; "
                     "terraform: `terraform show -json` of a plan or of state (its AWS or its "
                     "Azure resources)")
    imp.add_argument("-o", "--output", type=Path, required=True, help="the topology to write")
    imp.add_argument("--name", help="the lab's name (default: from the output's name)")
    imp.add_argument("--connector-tag", default="Role=cloud-connector", metavar="KEY=VALUE",
                     help="the tag on the connectors' interfaces (default Role=cloud-connector)")
    imp.add_argument("--connector-eni", action="append", default=[], metavar="MGMT,SERVICE",
                     help="AWS: a connector's two interfaces by id (instead of the tag)")
    imp.add_argument("--workload-subnet", default="",
                     help="the workloads' subnet (AWS: its id, Azure: its name), when no "
                     "route table says it")
    imp.add_argument("--gateway-prefix", action="append", default=[], metavar="VNET=PREFIX",
                     help="Azure: a prefix the VNet's VPN or ExpressRoute gateway learns "
                          "(`az network vnet-gateway list-learned-routes`), which joins "
                          "VirtualNetwork; repeat for each")
    imp.add_argument("--allow-unsupported", action="store_true",
                     help="what the lab does not model becomes a warning, listed in the output")
    lint = command(sub, "lint", cmd_lint,
                   "static findings on a topology's cloud rules (no lab needed); exit 1 on "
                   "an error finding, 2 on bad input")
    lint.add_argument("topology", help="a shipped topology name or a YAML path")
    lint.add_argument("--json", action="store_true", help="findings as JSON")
    lint.add_argument("--management-range", action="append", default=[], type=_network,
                      metavar="CIDR", help="where the connectors are managed from (default: "
                      "their management subnets); repeat for more")


def _network(text: str) -> IPv4Network:
    try:
        return IPv4Network(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an IPv4 prefix: {text}") from exc


def cmd_lint(args: argparse.Namespace) -> int:
    from lab.catalog import topology_path
    from lab.lint import lint, locate, render_json, render_text
    from lab.lint.roles import connector_roles
    from lab.schema import load_topology

    try:
        path = topology_path(args.topology)
    except LabError as exc:
        print(f"cclab: {exc}", file=sys.stderr)
        return 2
    topo = load_topology(path)
    findings = locate(lint(topo, connector_roles(topo, path.parent), args.management_range),
                      path)
    render = render_json if args.json else render_text
    sys.stdout.write(render(findings, str(path)))
    return EXIT_FINDINGS if any(f.severity == "error" for f in findings) else 0


def cmd_import(args: argparse.Namespace) -> int:
    from lab.imports import import_export
    from lab.imports.layout import topology_files_dir

    key, _, value = args.connector_tag.partition("=")
    if not value:
        raise LabError("--connector-tag takes KEY=VALUE\n    hint: --connector-tag "
                       "Role=cloud-connector")
    enis = []
    for pair in args.connector_eni:
        mgmt, _, svc = pair.partition(",")
        if not svc:
            raise LabError(f"--connector-eni {pair}: give MGMT_ENI,SERVICE_ENI")
        enis.append((mgmt, svc))
    learned = []
    for pair in args.gateway_prefix:
        vnet, _, prefix = pair.partition("=")
        try:
            learned.append((vnet, IPv4Network(prefix, strict=False)))
        except ValueError:
            raise LabError(f"--gateway-prefix {pair}: give VNET=PREFIX\n    hint: "
                           "--gateway-prefix vnet-hub=192.168.0.0/16") from None
        if not vnet:
            raise LabError(f"--gateway-prefix {pair}: give VNET=PREFIX")
    output: Path = args.output
    name = args.name or lab_name(output.stem, "imported")
    files_dir = topology_files_dir(output)
    command = " ".join(["cclab import", args.provider, *map(str, args.paths)])
    result = import_export(args.provider, list(args.paths), name=name, files_dir=files_dir,
                           command=command, connector_tag=(key, value),
                           connector_enis=tuple(enis), workload_subnet=args.workload_subnet,
                           allow_unsupported=args.allow_unsupported,
                           gateway_prefixes=tuple(learned))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(result.topology)
    for relative, text in result.files.items():
        path = output.parent / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"cclab: wrote {output} and {output.parent / files_dir}/ "
          f"({', '.join(sorted(Path(p).name for p in result.files))})", file=sys.stderr)
    for warning in result.warnings:
        print(f"cclab: warning: {warning}", file=sys.stderr)
    return 0
