"""Run the real `cclab` command line, as a user would."""

from __future__ import annotations

import subprocess
import sys

from lab.backends.netns_links import list_namespaces


def cclab(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def lab_namespaces(instance: str) -> list[str]:
    return [ns for ns in list_namespaces() if ns.startswith(f"cclab.{instance}.")]
