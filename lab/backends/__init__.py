"""Backends carry out a plan: `netns` (namespaces, veth, bridges) and, later, `docker`."""

from __future__ import annotations

from lab.backends.base import Backend, ExecResult
from lab.errors import LabError


def get_backend(name: str, instance: str) -> Backend:
    """The backend called `name`, bound to lab `instance`."""
    if name == "netns":
        from lab.backends.netns import NetnsBackend

        return NetnsBackend(instance)
    raise LabError(f"unknown backend '{name}'\n    hint: available backends: netns")


__all__ = ["Backend", "ExecResult", "get_backend"]
