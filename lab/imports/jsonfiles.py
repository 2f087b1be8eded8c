"""Reading export files: JSON documents, each kept with its name; a folder read whole."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.imports.problems import Origin, Problems


@dataclass(frozen=True, slots=True)
class Document:
    """One JSON file: its name as the user gave it (for messages) and what it holds."""

    name: str
    data: Any

    @property
    def origin(self) -> Origin:
        return Origin(self.name, "")


def read_documents(paths: list[Path], problems: Problems) -> list[Document]:
    """Every JSON file named, folders walked in name order (Batfish's `aws_configs/`
    layout: one folder per account or region, one file per describe call)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.json") if p.is_file())
        else:
            files.append(path)
    documents = []
    for file in files:
        document = read_document(file, problems)
        if document is not None:
            documents.append(document)
    if not files:
        problems.error(Origin(", ".join(map(str, paths)) or "(none)", ""), "no export files",
                       "name JSON files or a folder holding them")
    return documents


def read_document(file: Path, problems: Problems) -> Document | None:
    try:
        text = file.read_text()
    except OSError as exc:
        problems.error(Origin(str(file), ""), f"cannot read: {exc.strerror}",
                       "give the path of a JSON export")
        return None
    try:
        return Document(str(file), json.loads(text))
    except json.JSONDecodeError as exc:
        problems.error(Origin(str(file), f"(line {exc.lineno}, column {exc.colno})"),
                       f"not valid JSON: {exc.msg}",
                       "export with the cloud's CLI and `--output json`")
        return None


def get(obj: Any, key: str, where: Origin, problems: Problems, kind: type | tuple[type, ...],
        *, required: bool = True, default: Any = None) -> Any:
    """`obj[key]` checked for type; a missing or mistyped value is a problem."""
    if not isinstance(obj, dict) or key not in obj or obj[key] is None:
        if required:
            problems.error(where.at(key), "missing", f"an export of this kind has `{key}`")
        return default
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        problems.error(where.at(key), f"must be {_article(names)}, not {json.dumps(value)[:40]}",
                       "as the provider's CLI writes it (--output json)")
        return default
    return value


def items(obj: Any, key: str, where: Origin, problems: Problems,
          *, required: bool = False) -> list[tuple[Origin, Any]]:
    """The elements of the list `obj[key]`, each with its origin."""
    value = get(obj, key, where, problems, list, required=required, default=[])
    return [(where.at(key).at(i), item) for i, item in enumerate(value)]


_NAMES = {"str": "string", "int": "integer", "dict": "object", "list": "list",
          "bool": "boolean", "float": "number"}


def _article(names: str) -> str:
    text = " or ".join(_NAMES.get(n, n) for n in names.split(" or "))
    return ("an " if text[0] in "aeiou" else "a ") + text
