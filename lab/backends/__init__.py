"""Backends carry out a plan: `netns` (namespaces, veth, bridges) and `docker` (containers)."""

from __future__ import annotations

from lab.backends.base import Backend, ExecResult
from lab.errors import LabError

BACKENDS = ("netns", "docker")


def get_backend(name: str, instance: str) -> Backend:
    """The backend called `name`, bound to lab `instance`."""
    if name == "netns":
        from lab.backends.netns import NetnsBackend

        return NetnsBackend(instance)
    if name == "docker":
        from lab.backends.docker import DockerBackend

        return DockerBackend(instance)
    raise LabError(f"unknown backend '{name}'\n    hint: available backends: {', '.join(BACKENDS)}")


def backend_of(instance: str) -> Backend:
    """The backend a running lab was brought up with (from its journal; netns if none)."""
    from lab.names import LabNames
    from lab.state import LabState

    state = LabState.load(LabNames(instance).run_dir)
    return get_backend(state.backend if state else "netns", instance)


__all__ = ["BACKENDS", "Backend", "ExecResult", "backend_of", "get_backend"]
