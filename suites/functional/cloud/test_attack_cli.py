"""`cclab attack` and `cclab diff` as a user runs them: on shipped topologies, the files
written, the exit codes, what a change opens, and bad input.

`insecure` is documented to open the connectors to the internet (SSH on management,
everything on the service interface); `aws-no-natgw` is the seed's design, where
nothing gets through. Which rows those are is set by hand here, from the topologies'
rules (docs/topologies.md), not read from the tool. The pull-request gate: two
imported examples (the seed's AWS rules, then the vendor template's open ones) attacked
and diffed, what opens being the rows read by hand from the export's rules
(`OPEN` of test_imported_clouds.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import allure
import pytest

from lab.attack.expect import plan
from lab.backends.netns_links import list_namespaces
from lab.lint.roles import connector_roles
from lab.schema import load_topology
from suites.functional.cloud.test_imported_clouds import OPEN
from suites.functional.lab.cli_helpers import cclab
from suites.golden.lab.test_import_golden import write_example

pytestmark = pytest.mark.netns

# insecure: SSH from anywhere on management, everything from anywhere on the service
# interface; anti-spoofing drops the spoofed workload, the internet gateway maps no
# private destination
OPEN_IN_INSECURE = {f"{a} {cc}/eth-svc" for cc in ("cc1", "cc2")
                    for a in ("ssh-service", "dns-resolver", "dns-reflection", "health-port",
                              "service-https", "geneve-injection", "spoofed-public",
                              "licence-inflation", "ack-probe", "dns-fragments")} | \
    {f"{a} {cc}/eth-mgmt" for cc in ("cc1", "cc2") for a in ("ssh-management", "ack-probe")}


@pytest.fixture(scope="module")
def matrices(lab_capable: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name in ("insecure", "aws-no-natgw"):
        folder = tmp_path_factory.mktemp(name)
        run = cclab("attack", name, "-o", str(folder), timeout=300)
        allure.attach(run.stdout + run.stderr, f"cclab attack {name}",
                      allure.attachment_type.TEXT)
        assert run.returncode == (1 if name == "insecure" else 0), run.stderr
        assert "attacks blocked" in run.stdout
        assert not [ns for ns in list_namespaces() if ns.startswith(f"cclab.attack-{name}.")]
        out[name] = folder
    return out


def _rows(folder: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads((folder / "matrix.json").read_text())["rows"]
    return rows


def test_the_insecure_rules_let_the_documented_attacks_through(matrices: dict[str, Path]
                                                               ) -> None:
    rows = _rows(matrices["insecure"])
    assert {r["key"] for r in rows if r["observed"]} == OPEN_IN_INSECURE
    assert all(r["agree"] and r["sent"] for r in rows), [r for r in rows if not r["agree"]]
    assert (matrices["insecure"] / "junit.xml").read_text().count("<failure") == \
        len(OPEN_IN_INSECURE)
    assert "| SSH to the management interface (tcp 22) | cc1/eth-mgmt (203.0.113.21) | " \
           "gets through |" in (matrices["insecure"] / "matrix.md").read_text()


def test_the_seeds_design_blocks_every_attack(matrices: dict[str, Path]) -> None:
    rows = _rows(matrices["aws-no-natgw"])
    assert len(rows) == len(_rows(matrices["insecure"]))
    assert [r["key"] for r in rows if r["observed"] or not r["agree"] or not r["sent"]] == []


def test_diff_names_what_the_insecure_rules_open(matrices: dict[str, Path]) -> None:
    secure = str(matrices["aws-no-natgw"] / "matrix.json")
    insecure = str(matrices["insecure"] / "matrix.json")
    opens = cclab("diff", secure, insecure)
    assert opens.returncode == 1, opens.stderr
    lines = [ln for ln in opens.stdout.splitlines() if ln.strip().startswith("OPENS")]
    assert len(lines) == len(OPEN_IN_INSECURE)
    assert any("SSH to the management interface: cc1/eth-mgmt" in ln for ln in lines)
    closes = cclab("diff", insecure, secure)
    assert closes.returncode == 0, closes.stdout
    assert f"0 opened, {len(OPEN_IN_INSECURE)} closed" in closes.stdout


def test_diff_gates_a_change_to_an_imported_clouds_rules(
        lab_capable: None, tmp_path_factory: pytest.TempPathFactory) -> None:
    """From the seed's AWS rules to the vendor template's open ones, as a pull request
    would change them: `cclab diff` exits 1 and names exactly the rows the open rules
    admit; the other way round nothing opens."""
    matrices, keys = {}, {}
    for case in ("aws-recommended", "aws-vendor-open"):
        folder = tmp_path_factory.mktemp(case)
        path = write_example(case, folder)
        run = cclab("attack", str(path), "-o", str(folder / "attack"), timeout=300)
        assert run.returncode == (0 if case == "aws-recommended" else 1), run.stderr
        matrices[case] = str(folder / "attack" / "matrix.json")
        topo = load_topology(path)
        keys[case] = {c.key for c in plan(topo, connector_roles(topo, folder)).cells
                      if (c.attack.id, c.target.role) in OPEN[case]}
    assert keys["aws-recommended"] == set()
    assert keys["aws-vendor-open"], "the open rules must admit something"
    opens = cclab("diff", matrices["aws-recommended"], matrices["aws-vendor-open"])
    assert opens.returncode == 1, opens.stderr
    rows = {r["key"]: r for r in json.loads(Path(matrices["aws-vendor-open"]).read_text())
            ["rows"]}
    opened = [ln for ln in opens.stdout.splitlines() if ln.strip().startswith("OPENS")]
    assert len(opened) == len(keys["aws-vendor-open"])
    for key in keys["aws-vendor-open"]:
        title = f"{rows[key]['title']}: {key.split(' ')[1]}"
        assert any(title in ln for ln in opened), f"{title} not named as opened"
    back = cclab("diff", matrices["aws-vendor-open"], matrices["aws-recommended"])
    assert back.returncode == 0, back.stdout
    assert f"0 opened, {len(keys['aws-vendor-open'])} closed" in back.stdout


def test_bad_input_exits_2_naming_it(tmp_path: Path) -> None:
    nothing = cclab("attack", "minimal", "-o", str(tmp_path))
    assert nothing.returncode == 2
    assert "nothing to attack" in nothing.stderr
    assert "minimal.yaml" in nothing.stderr
    (tmp_path / "broken.json").write_text("{}")
    broken = cclab("diff", str(tmp_path / "broken.json"), str(tmp_path / "broken.json"))
    assert broken.returncode == 2
    assert "not a matrix" in broken.stderr
