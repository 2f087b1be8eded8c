"""What a report says about the machine and the code it ran on."""

from __future__ import annotations

import platform
import shutil
import subprocess

from lab.backends import BACKENDS
from lab.catalog import shipped_topologies


def environment() -> dict[str, str]:
    return {
        "kernel": platform.release(),
        "python": platform.python_version(),
        "backends": ", ".join(BACKENDS),
        "docker engine": _out(["docker", "version", "-f", "{{.Server.Version}}"]) or "not running",
        "topologies": ", ".join(shipped_topologies()),
        "commit": _out(["git", "rev-parse", "--short", "HEAD"]) or "unknown",
        "connector": "cclab reference connector " + _version(),
    }


def environment_properties() -> str:
    return "".join(f"{k.replace(' ', '.')}={v}\n" for k, v in environment().items())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cclab")
    except PackageNotFoundError:
        return "unknown"


def _out(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return ""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    return done.stdout.strip() if done.returncode == 0 else ""
