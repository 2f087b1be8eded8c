"""`connector`: run the service, or check a config without running anything.

    connector run --config FILE [--events FILE] [--state DIR] [--trust DIR]
                  [--cluster-log FILE]
    connector check-config FILE
    connector show-ruleset FILE     (the nftables table `run` would load)

Exit codes: 0 ok, 2 bad config (every problem listed), 1 the host refused a step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from connector.config import ConnectorConfig, load_config
from connector.errors import ConfigError, ServiceError


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    try:
        return int(args.handler(config, args) or 0)
    except ServiceError as exc:
        print(f"connector: {exc}", file=sys.stderr)
        return 1


def _run(config: ConnectorConfig, args: argparse.Namespace) -> None:
    from connector.service.run import RunFiles, serve

    default = f"/var/lib/cclab-connector/{config.identity.name}"
    state = args.state or Path(config.state_dir or default)
    serve(config, args.events, RunFiles(state, args.trust, args.cluster_log))


def _check(config: ConnectorConfig, args: argparse.Namespace) -> None:
    policy = config.policy
    print(f"{args.config}: ok: connector {config.identity.name} "
          f"(group {config.identity.ec_group}, location {config.identity.location}), "
          f"{len(policy.forwarding_rules)} forwarding rules, {len(policy.dns_rules)} DNS rules, "
          f"{len(policy.app_segments)} app segments, {len(policy.ip_pools)} IP pools")


def _show(config: ConnectorConfig, args: argparse.Namespace) -> None:
    from connector.io.nft_render import render_ruleset

    print(render_ruleset(config), end="")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="connector", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(required=True, dest="command")
    run = sub.add_parser("run", help="run the connector service")
    run.add_argument("--config", required=True, type=Path)
    run.add_argument("--events", type=Path, help="JSON-lines event file")
    run.add_argument("--state", type=Path, help="directory of the persistent bindings")
    run.add_argument("--trust", type=Path,
                     help="folder of the certificates (*.pem) of the ZPA brokers to trust")
    run.add_argument("--cluster-log", type=Path,
                     help="binding log shared with the connectors behind the same load balancer")
    run.set_defaults(handler=_run)
    for name, handler, text in (("check-config", _check, "validate a config and exit"),
                                ("show-ruleset", _show, "print the nftables table")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("config", type=Path)
        cmd.set_defaults(handler=handler)
    return parser
