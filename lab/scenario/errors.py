"""The scenario package's exceptions: one root (a `LabError`), subclassed by what failed."""

from __future__ import annotations

from lab.errors import LabError
from yamlissues import Issue


class ScenarioError(LabError):
    """Root of every error raised by lab.scenario."""


class ScenarioFileError(ScenarioError):
    """A scenario file has problems; every one of them is listed."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = tuple(issues)
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in scenario"
        super().__init__("\n".join([head, *(i.render() for i in self.issues)]))


class FaultError(ScenarioError):
    """A fault could not be applied or undone."""
