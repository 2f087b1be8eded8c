"""`cclab lint`: the exact text for every shipped cloud topology (those built from
lab/topologies/cloud/), every imported example and the cases under lint/cases/ (a
shipped topology changed to break one rule); the negative controls, and only they,
have error findings (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.catalog import TOPOLOGY_DIR, shipped_topologies
from lab.cli import main
from lab.extends import read_document
from suites.golden.golden import check_golden
from suites.golden.lab.test_import_golden import CASES, write_example

pytestmark = pytest.mark.golden

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent / "lint"
CLOUD = [name for name in shipped_topologies()
         if any(Path(f).parent.name == "cloud" for f in read_document(
             (TOPOLOGY_DIR / f"{name}.yaml").read_text(), TOPOLOGY_DIR / f"{name}.yaml").files)]
CASES_DIR = Path("suites/golden/lab/lint/cases")
LINT_CASES = sorted(p.stem for p in (ROOT / CASES_DIR).glob("*.yaml"))
WITH_ERRORS = {"insecure", "azure-insecure", "gcp-vendor-defaults", "aws-vendor-open", "azure-udr",
               "azure-udr-internet", "aws-natgw-ipv6-bypass", "azure-natgw-ipv6-bypass"}


def run_lint(path: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["lint", path])
    return code, capsys.readouterr().out


def test_every_composed_cloud_topology_is_linted() -> None:
    assert {"aws-natgw", "aws-no-natgw", "azure-no-natgw", "insecure",
            "azure-insecure"} <= set(CLOUD)
    assert "minimal" not in CLOUD


@pytest.mark.parametrize("name", CLOUD)
def test_shipped_cloud_topology_lint(request: pytest.FixtureRequest,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str], name: str) -> None:
    monkeypatch.chdir(ROOT)  # paths in the output are the ones given, relative
    code, text = run_lint(f"lab/topologies/{name}.yaml", capsys)
    check_golden(request, text, HERE / f"{name}.txt")
    assert code == (1 if name in WITH_ERRORS else 0), text


@pytest.mark.parametrize("case", sorted(CASES))
def test_imported_example_lint(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str], tmp_path: Path,
                               case: str) -> None:
    write_example(case, tmp_path)
    monkeypatch.chdir(tmp_path)
    code, text = run_lint(f"{case}.yaml", capsys)
    check_golden(request, text, HERE / "imports" / f"{case}.txt")
    assert code == (1 if case in WITH_ERRORS else 0), text


@pytest.mark.parametrize("case", LINT_CASES)
def test_lint_case(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str], case: str) -> None:
    monkeypatch.chdir(ROOT)
    code, text = run_lint(str(CASES_DIR / f"{case}.yaml"), capsys)
    check_golden(request, text, HERE / "cases" / f"{case}.txt")
    assert code == (1 if case in WITH_ERRORS else 0), text
