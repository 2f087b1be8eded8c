"""connector/core is pure: no I/O imports, and strict mypy passes on it."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import connector.core

pytestmark = pytest.mark.unit

CORE = Path(connector.core.__file__).parent
BANNED = ("socket", "subprocess", "time", "asyncio", "scapy", "pyroute2", "docker",
          "dns.query", "dns.resolver", "random", "os", "threading")
MODULES = sorted(CORE.glob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_core_module_imports_no_io(path: Path) -> None:
    bad = {name for name in imported(path)
           if any(name == b or name.startswith(b + ".") for b in BANNED)}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_core_imports_only_core_and_stdlib_values() -> None:
    outside = {name for path in MODULES for name in imported(path)
               if name.startswith(("connector.", "lab")) and not name.startswith("connector.core")}
    assert not outside


@pytest.mark.skipif(shutil.which("mypy") is None and not Path(sys.executable).with_name(
    "mypy").exists(), reason="mypy is not installed (pip install -e .[dev])")
def test_strict_mypy_passes_on_core() -> None:
    mypy = shutil.which("mypy") or str(Path(sys.executable).with_name("mypy"))
    done = subprocess.run([mypy, "--strict", str(CORE)], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
