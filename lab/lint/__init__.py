"""`cclab lint`: static findings on a topology's cloud rules, no lab needed.

    findings = lint(load_topology(path))                   # values, most severe first
    print(render_text(locate(findings, path), str(path)))

Pure apart from `locate`, which reads the topology's files again to say where
each rule is written. Every reachability question is asked of `lab.reach`, so
what lint says and what the fabric enforces cannot drift apart (docs/lint.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from ipaddress import IPv4Network

from lab.lint.checks import CHECKS
from lab.lint.checks_catalog import ALL
from lab.lint.finding import Finding
from lab.lint.report import locate, render_json, render_text
from lab.lint.scope import scope_of
from lab.model import Topology

__all__ = ["Finding", "lint", "locate", "render_json", "render_text"]

# Checks that judge the same rule at different strengths: a rule keeps its worst finding.
FAMILIES = {"mgmt-internet": "management", "mgmt-open-wide": "management",
            "mgmt-beyond-range": "management", "service-internet": "service",
            "service-non-local": "service"}


def lint(topo: Topology, roles: Mapping[str, tuple[str, str]] | None = None,
         management: Sequence[IPv4Network] = ()) -> tuple[Finding, ...]:
    """Every check on `topo`: `roles` names each connector's (management, service)
    interfaces; `management` is the management range (default: their subnets)."""
    scope = scope_of(topo, roles, management)
    found = [f for check in CHECKS for f in check(scope)]
    worst: dict[tuple[str, str], int] = {}
    for f in found:
        family = FAMILIES.get(f.check.id)
        if family:
            key = (family, f.path)
            worst[key] = min(worst.get(key, f.rank), f.rank)
    kept = [f for f in found if f.check.id not in FAMILIES
            or worst[(FAMILIES[f.check.id], f.path)] == f.rank]
    order = [c.id for c in ALL]
    return tuple(sorted(kept, key=lambda f: (f.rank, order.index(f.check.id), f.path)))
