"""The connector's exceptions: one root, subclassed by what failed.

Decisions (drop, block, fail-close) are values returned by `connector.core`, never
exceptions; these errors are for bad input (`ConfigError`) and for the host refusing
what the service asked of it (`ServiceError`).
"""

from __future__ import annotations

from collections.abc import Iterable

from yamlissues import Issue


class ConnectorError(Exception):
    """Root of every error raised by the connector package."""


class ConfigError(ConnectorError):
    """A connector config has problems (local fault); every one of them is listed.

    Each is a `yamlissues.Issue`, the type the lab's topology loader reports with too.
    """

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in connector config"
        return "\n".join([head, *(i.render() for i in self.issues)])


class ServiceError(ConnectorError):
    """The host refused a step of the service (nft, sysctl, event file)."""

    def __init__(self, message: str, *, step: str, detail: str = "") -> None:
        self.step = step
        self.detail = detail.strip()
        text = f"[{step}] {message}"
        super().__init__(f"{text}: {self.detail}" if self.detail else text)
