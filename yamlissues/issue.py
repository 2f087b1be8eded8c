"""One problem found in an input file: where it is, what is wrong, how to fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem at `path` (`nodes.cc1.interfaces[0]`) of `file`, on `line` when known."""

    file: str
    path: str
    message: str
    hint: str = ""
    line: int | None = None

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.path}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text
