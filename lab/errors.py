"""The lab's exceptions: one root, subclassed by what failed."""

from __future__ import annotations

from yamlissues import Issue


class LabError(Exception):
    """Root of every error raised by the lab package."""


class TopologyError(LabError):
    """A topology file has problems; every one of them is listed (`yamlissues.Issue`)."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in topology"
        return "\n".join([head, *(i.render() for i in self.issues)])


class BackendError(LabError):
    """A backend could not carry out a step."""

    def __init__(self, message: str, *, backend: str, node: str | None = None) -> None:
        self.backend = backend
        self.node = node
        where = f"[{backend}{'/' + node if node else ''}] "
        super().__init__(where + message)


class StaleLabError(LabError):
    """A lab of the same name still has resources; refuse to build over it."""

    def __init__(self, instance: str, leftovers: list[str]) -> None:
        self.instance = instance
        self.leftovers = tuple(leftovers)
        shown = ", ".join(leftovers[:5]) + (" ..." if len(leftovers) > 5 else "")
        super().__init__(
            f"lab '{instance}' already exists ({shown}).\n"
            f"    hint: run `cclab down --name {instance}` or `cclab up ... --clean`"
        )


class NotRunningError(LabError):
    """The named lab or node is not running."""
