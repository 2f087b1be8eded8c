"""What a lab process imports when it starts: each import is CPU spent at every start of
every lab (some fifteen node processes and two or three connectors a lab, a few hundred
labs a `make test`). Checked by module name in a fresh interpreter, never by time.

- The threaded fake nodes do not import asyncio (0.05 s); the asyncio ones have
  `lab.nodes.async_node`.
- The Azure gateway LB does not import the ZIA gateway, and with it dnspython (0.06 s).

Nothing is imported late on a packet's path instead: an import there stalls the process
while packets queue (docs/decisions.md).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

THREADED_NODES = ("azure_gwlb", "azure_plb", "dns_native", "gwlb", "gwlb_control",
                  "health_probe", "ilb", "ntp_server", "web", "zia_gateway", "zpa_cloud")
KEPT_OUT = [*((f"lab.nodes.{node}", "asyncio") for node in THREADED_NODES),
            ("lab.nodes.azure_gwlb", "dns")]


def imported_after(module: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after importing `module`."""
    out = subprocess.run([sys.executable, "-c", f"import sys, {module}\n"
                          "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return set(out.split())


@pytest.mark.parametrize(("module", "package"), KEPT_OUT,
                         ids=[f"{m}-no-{p}" for m, p in KEPT_OUT])
def test_a_process_start_does_not_import_what_it_does_not_use(module: str,
                                                              package: str) -> None:
    seen = imported_after(module)
    assert module.split(".")[0] in seen, f"{module} was not imported at all"
    assert package not in seen, f"importing {module} imports {package}"


def test_the_asyncio_nodes_still_have_their_loop_and_the_check_sees_an_import() -> None:
    """The check's own proof: a module known to import the package is caught."""
    assert "asyncio" in imported_after("lab.nodes.async_node")
    assert "dns" in imported_after("lab.nodes.zia_gateway")
