"""`connector check-config` and `show-ruleset`: exit codes and what they print."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.cli import main
from lab.catalog import TOPOLOGY_DIR

pytestmark = pytest.mark.unit

MINIMAL = TOPOLOGY_DIR / "connectors" / "minimal-cc1.yaml"


def test_check_config_accepts_the_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(MINIMAL)]) == 0
    assert "ok: connector cc1" in capsys.readouterr().out


def test_check_config_lists_every_problem_and_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    text = (MINIMAL.read_text().replace("forward_method: DIRECT", "forward_method: NAT", 1)
            .replace("location: vpc-lab", "location: elsewhere"))
    bad.write_text(text)
    identity_line = text.splitlines().index(
        next(line for line in text.splitlines() if line.startswith("connector:"))) + 1
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("2 problems in connector config")
    assert f"{bad}:{identity_line}: connector.location" in err
    assert "forwarding_rules[0].forward_method" in err


def test_show_ruleset_prints_the_table_run_would_load(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show-ruleset", str(MINIMAL)]) == 0
    out = capsys.readouterr().out
    assert "snat ip to 10.10.3.31" in out
    assert 'comment "40 workloads-direct DIRECT"' in out
