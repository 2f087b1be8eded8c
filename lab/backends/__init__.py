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
    if state is not None:
        return get_backend(state.backend, instance)
    return get_backend("docker" if instance in engine_instances() else "netns", instance)


def engine_instances() -> set[str]:
    """Labs with containers or networks on the docker engine, journal or not (none when
    docker is absent or not running): what a lab whose teardown failed left there."""
    import shutil

    from lab.backends.docker import engine_instances as listed

    return listed() if shutil.which("docker") else set()


__all__ = ["BACKENDS", "Backend", "ExecResult", "backend_of", "engine_instances", "get_backend"]
