"""The fake ZPA cloud's decisions: who may enroll, and that uploads need the token."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.catalog import TOPOLOGY_DIR
from lab.events import EventWriter, read_events
from lab.nodes.zpa_cloud import Cloud, load_policies

pytestmark = pytest.mark.unit


@pytest.fixture
def cloud(tmp_path: Path) -> tuple[Cloud, Path]:
    events = tmp_path / "cloud.jsonl"
    policies = load_policies(TOPOLOGY_DIR / "cloud" / "zpa-policy.yaml")
    return Cloud(policies, EventWriter(events, "zpa-cloud")), events


def test_a_known_group_enrolls_and_gets_its_policy_and_a_token(cloud) -> None:  # type: ignore[no-untyped-def]
    service, events = cloud
    status, answer = service.enroll({"connector": "cc1", "group": "ccg-1"}, "203.0.113.21")
    assert status == 200
    assert sorted(answer["policy"]["app_segments"]) == ["app-a", "app-b", "app-c"]
    assert service.holder(f"Bearer {answer['token']}") == "cc1"
    assert [e["src"] for e in read_events(events, "cloud.enrolled")] == ["203.0.113.21"]


def test_an_unknown_group_is_refused_and_a_wrong_token_holds_nothing(cloud) -> None:  # type: ignore[no-untyped-def]
    service, events = cloud
    status, _ = service.enroll({"connector": "x", "group": "nobody"}, "198.18.99.99")
    assert status == 403
    assert service.holder("Bearer 00") is None
    assert service.holder(None) is None
    assert read_events(events, "cloud.rejected")[0]["reason"] == "unknown group 'nobody'"


def test_policy_file_without_groups_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("ccg-1: {}\n")
    with pytest.raises(ValueError, match="groups"):
        load_policies(bad)
