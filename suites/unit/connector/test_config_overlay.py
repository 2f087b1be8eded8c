"""The cloud's policy laid over a connector config file: what it may set, and checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import load_config
from connector.config_overlay import overlay_cloud_policy
from connector.errors import ConfigError
from lab.catalog import TOPOLOGY_DIR

pytestmark = pytest.mark.unit
CONFIG = TOPOLOGY_DIR / "connectors" / "aws-cc1.yaml"
APP_C = {"domains": ["app-c.corp.example"], "servers": ["192.0.2.20"],
         "app_connector_group": "acg-3"}


def test_cloud_sections_replace_the_files_and_the_rest_stays() -> None:
    merged = overlay_cloud_policy(CONFIG.read_text(), {
        "app_segments": {"app-c": APP_C}, "ip_pools": {"default": "10.254.64.0/19"},
        "runtime": {"zpa_brokers": ["198.19.2.9"]}}, CONFIG)
    assert sorted(merged.policy.app_segments) == ["app-c"]
    assert str(merged.policy.ip_pools["default"]) == "10.254.64.0/19"
    assert [str(b) for b in merged.dataplane.zpa_brokers] == ["198.19.2.9"]
    assert merged.identity.name == "cc1"
    own = load_config(CONFIG).policy.forwarding_rules  # the file's rules, untouched
    assert len(own) >= 2
    assert merged.policy.forwarding_rules == own


def test_the_cloud_may_not_set_other_sections() -> None:
    with pytest.raises(ConfigError) as caught:
        overlay_cloud_policy(CONFIG.read_text(), {"forwarding_rules": [],
                                                  "runtime": {"dns_acl": ["0.0.0.0/0"]}}, CONFIG)
    paths = [i.path for i in caught.value.issues]
    assert paths == ["cloud.forwarding_rules", "cloud.runtime.dns_acl"]


def test_a_cloud_policy_that_does_not_validate_is_a_config_error_naming_the_cloud() -> None:
    with pytest.raises(ConfigError) as caught:
        overlay_cloud_policy(CONFIG.read_text(), {"ip_pools": {"default": "not-a-net"}},
                             Path("cc1.yaml"))
    assert all(i.file == "cc1.yaml + cloud policy" for i in caught.value.issues)
    assert any(i.path.startswith("ip_pools") for i in caught.value.issues)
