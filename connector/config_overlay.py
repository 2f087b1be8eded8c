"""The cloud's policy laid over the connector's config file (enrollment, spec §4.1).

The fake ZPA cloud answers an enrollment with sections of the config format:
`app_segments`, `ip_pools` and `runtime.zpa_brokers`. Those replace the file's
sections of the same name, and the result is validated exactly as a file is,
so a bad cloud policy is a config error with every problem listed, and the
service keeps the config it had. Any other section is refused: the cloud does
not get to change interfaces, ACLs or forwarding rules here. Pure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from connector.config import ConnectorConfig, parse_config
from connector.errors import ConfigError
from yamlissues import Issue

CLOUD_SECTIONS = ("app_segments", "ip_pools")
CLOUD_RUNTIME_KEYS = ("zpa_brokers",)


def overlay_cloud_policy(text: str, policy: dict[str, Any], source: Path) -> ConnectorConfig:
    """The config in `text` with the cloud's `policy` sections in place of its own."""
    origin = Path(f"{source} + cloud policy")
    refused = [Issue(str(origin), f"cloud.{key}", "not a section the cloud may set",
                     f"the cloud sets {', '.join(CLOUD_SECTIONS)} and runtime.zpa_brokers")
               for key in sorted(set(policy) - {*CLOUD_SECTIONS, "runtime"})]
    runtime = policy.get("runtime") or {}
    if not isinstance(runtime, dict):
        runtime = {}
        refused.append(Issue(str(origin), "cloud.runtime", "not a mapping", "runtime: {...}"))
    refused += [Issue(str(origin), f"cloud.runtime.{key}", "not a setting the cloud may set",
                      "the cloud sets runtime.zpa_brokers only")
                for key in sorted(set(runtime) - set(CLOUD_RUNTIME_KEYS))]
    if refused:
        raise ConfigError(refused)
    data = yaml.safe_load(text) or {}
    for section in CLOUD_SECTIONS:
        if section in policy:
            data[section] = policy[section]
    for key in CLOUD_RUNTIME_KEYS:
        if key in runtime:
            data.setdefault("runtime", {})[key] = runtime[key]
    return parse_config(yaml.safe_dump(data, sort_keys=False), source=origin)
