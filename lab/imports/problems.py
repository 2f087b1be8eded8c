"""Problems found in a cloud export: every one at once, each with its file, JSON path and hint.

An importer never stops at the first problem and never drops what it does not
understand: it says so here. `warn` is for what the lab does not model but
can run without (an IPv6 rule, a tag it cannot resolve when the user allowed
that); `--allow-unsupported` turns the unsupported problems into warnings,
which the topology lists in its header.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.errors import LabError
from yamlissues import Issue


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value was read: the file and its JSON path (`SecurityGroups[2].GroupId`)."""

    file: str
    path: str

    def at(self, more: str | int) -> Origin:
        if isinstance(more, int):
            return Origin(self.file, f"{self.path}[{more}]")
        return Origin(self.file, f"{self.path}.{more}" if self.path else more)

    def text(self) -> str:
        return f"{self.file}: {self.path}" if self.path else self.file


@dataclass
class Problems:
    """Collects problems (the import fails, exit 2) and warnings (listed in the output)."""

    allow_unsupported: bool = False
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def error(self, where: Origin, message: str, hint: str = "") -> None:
        self.errors.append(Issue(where.file, where.path or "(file)", message, hint))

    def unsupported(self, where: Origin, message: str, hint: str = "") -> None:
        """Something real exports hold that the lab does not model: an error, or with
        --allow-unsupported a warning (what the lab then does is in the message)."""
        if self.allow_unsupported:
            self.warnings.append(Issue(where.file, where.path or "(file)", message, hint))
        else:
            self.errors.append(Issue(where.file, where.path or "(file)", message,
                                     hint + ("; " if hint else "") +
                                     "or pass --allow-unsupported to go on without it"))

    def warn(self, where: Origin, message: str, hint: str = "") -> None:
        self.warnings.append(Issue(where.file, where.path or "(file)", message, hint))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ExportError(self.errors)


class ExportError(LabError):
    """A cloud export has problems; every one of them is listed."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = tuple(sorted(issues, key=lambda i: i.file))  # by file, then as found
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the export"
        return "\n".join([head, *(i.render() for i in self.issues)])
