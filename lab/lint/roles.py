"""Which interface of each connector is its management one: as its config file says
(`interfaces.management.name`, `interfaces.service.name`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from lab.model import Topology


def connector_roles(topo: Topology, base: Path) -> dict[str, tuple[str, str]]:
    """node -> (management, service) interface names, for each connector whose config (a
    path relative to `base`, the topology's folder) names them; the others are left out
    (`lab.lint.scope` then goes by the interface's name)."""
    roles = {}
    for node in topo.nodes:
        for service in node.services:
            if service.kind != "connector":
                continue
            try:
                data = yaml.safe_load((base / service.option("config")).read_text())
                names = data["interfaces"]
                roles[node.name] = (str(names["management"]["name"]),
                                    str(names["service"]["name"]))
            except (OSError, yaml.YAMLError, KeyError, TypeError):
                continue
    return roles
