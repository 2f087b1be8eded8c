"""Importers: each example export -> the exact topology (and connector configs); each bad
export -> the exact listing of its problems, every one at once with file and JSON path."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.imports import ExportError, import_export
from lab.schema import parse_topology
from suites.golden.golden import check_golden

pytestmark = pytest.mark.golden

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = Path("lab/imports/examples")
HERE = Path(__file__).parent / "imports"
BAD = Path("suites/golden/lab/imports/bad")

# name: (provider, paths under EXAMPLES, options)
CASES: dict[str, tuple[str, list[str], dict[str, object]]] = {
    "aws-recommended": ("aws", ["aws-recommended/aws_configs"], {}),
    "aws-vendor-open": ("aws", [f"aws-vendor-open/{f}.json" for f in (
        "vpcs", "subnets", "route-tables", "security-groups", "network-interfaces",
        "addresses", "vpc-endpoints", "internet-gateways")], {}),
    "azure-recommended": ("azure", ["azure-recommended"], {}),
    # the same VNet, with a 0.0.0.0/0 route to Internet on the connectors' subnets
    "azure-udr-internet": ("azure", [*(f"azure-recommended/{f}.json" for f in (
        "vnets", "nsgs", "nics", "public-ips", "load-balancers")),
        "azure-udr-internet/route-tables.json"], {}),
    # the seed's AWS design as a plan before apply: ids and some addresses unknown, modules
    "terraform-recommended": ("terraform", ["terraform-recommended/plan.json"], {}),
    # the seed's Azure design as a plan before apply: ids, public and some private
    # addresses unknown, three modules deep
    "terraform-azure-recommended": ("terraform", ["terraform-azure-recommended/plan.json"], {}),
}
BAD_CASES: dict[str, tuple[str, list[str], dict[str, object]]] = {
    "aws-many-problems": ("aws", ["aws-many-problems"], {}),
    "azure-many-problems": ("azure", ["azure-many-problems"], {}),
    "terraform-many-problems": ("terraform", ["terraform-many-problems"], {}),
    "terraform-azure-many-problems": ("terraform", ["terraform-azure-many-problems"], {}),
}


def write_example(case: str, folder: Path) -> Path:
    """The example `case` imported as `folder/<case>.yaml` and its files, as `cclab import`
    writes them; the topology's path."""
    provider, paths, options = CASES[case]
    result = import_export(provider, [ROOT / EXAMPLES / p for p in paths], name=case,
                           files_dir=f"{case}-lab", command="test", **options)  # type: ignore[arg-type]
    for relative, text in {f"{case}.yaml": result.topology, **result.files}.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    return folder / f"{case}.yaml"


def run_import(provider: str, paths: list[Path], name: str, options: dict[str, object]
               ) -> str:
    result = import_export(provider, paths, name=name, files_dir=f"{name}-lab",
                           command=f"cclab import {provider} " + " ".join(map(str, paths)),
                           **options)  # type: ignore[arg-type]
    return result.rendered()


@pytest.mark.parametrize("case", sorted(CASES))
def test_example_export_gives_the_topology(request: pytest.FixtureRequest,
                                           monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    monkeypatch.chdir(ROOT)  # paths in the output are the ones given, relative
    provider, paths, options = CASES[case]
    text = run_import(provider, [EXAMPLES / p for p in paths], case, options)
    check_golden(request, text, HERE / f"{case}.yaml")


@pytest.mark.parametrize("case", sorted(CASES))
def test_imported_topology_validates(case: str, tmp_path: Path) -> None:
    path = write_example(case, tmp_path)
    topo = parse_topology(path.read_text(), source=path)
    assert topo.name == case


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_export_lists_every_problem(request: pytest.FixtureRequest,
                                        monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    monkeypatch.chdir(ROOT)
    provider, paths, options = BAD_CASES[case]
    with pytest.raises(ExportError) as caught:
        run_import(provider, [BAD / p for p in paths], case, options)
    check_golden(request, str(caught.value) + "\n", HERE / f"{case}.log")
