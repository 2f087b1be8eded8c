"""Every relative link in README.md and docs/*.md resolves: the file exists inside the
repository and, for an `#anchor` into a Markdown file, so does the heading (GitHub's slugs)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^ {0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# [text](target) and ![alt](target), an optional "title" after the target.
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose(text: str) -> str:
    """The text without fenced code blocks, code spans and HTML comments (line numbers kept)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            kept.append("")
            continue
        kept.append("" if fenced else line)
    blank = "\n".join(kept)
    for pattern in (COMMENT, CODE_SPAN):
        blank = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), blank)
    return blank


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower case, punctuation except '-' and
    '_' removed, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a Markdown file, repeats numbered as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path.read_text()).splitlines():
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every link in the file's prose."""
    text = prose(path.read_text())
    found = []
    for pattern in (INLINE, REFERENCE):
        for match in pattern.finditer(text):
            found.append((text.count("\n", 0, match.start()) + 1, match.group(1)))
    return sorted(found)


def problem(source: Path, target: str, root: Path = ROOT) -> str | None:
    """Why a link from `source` does not resolve in the repository at `root`, or None if it
    does (or is not relative)."""
    if not target or SCHEME.match(target) or target.startswith("//"):
        return None
    where, _, anchor = target.partition("#")
    where = unquote(where.partition("?")[0])
    file = (source.parent / where).resolve() if where else source.resolve()
    if not file.is_relative_to(root):
        return f"{file} is outside the repository (a reader's clone has no such file)"
    shown = file.relative_to(root)
    if not file.exists():
        return f"no file {shown}"
    if anchor and file.suffix == ".md" and unquote(anchor).lower() not in anchors(file):
        return f"no heading with the anchor #{anchor} in {shown}"
    return None


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = [f"{doc.relative_to(ROOT)}:{line}: ({target}) {why}"
              for line, target in links(doc) if (why := problem(doc, target))]
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize(("heading", "anchor"), [
    ("The containerized lab (docker backend)", "the-containerized-lab-docker-backend"),
    ("What limits the connector's figures", "what-limits-the-connectors-figures"),
    ("GENEVE data plane — `connector/core/steering.py`, `connector/service/dataplane.py`",
     "geneve-data-plane--connectorcoresteeringpy-connectorservicedataplanepy"),
    ("Names and wildcards (spec §5.1, §6.4, F8)", "names-and-wildcards-spec-51-64-f8"),
    ("Synthetic IP pools (spec §6.6 [Q] points)", "synthetic-ip-pools-spec-66-q-points"),
    ("snake_case and Übergröße", "snake_case-and-übergröße"),
])
def test_anchors_follow_githubs_slug_rules(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_the_checker_finds_dead_links_missing_headings_and_skips_code(tmp_path: Path) -> None:
    repo = tmp_path.resolve() / "repo"
    (repo / "docs").mkdir(parents=True)
    (tmp_path / "beside.md").write_text("# Outside\n")
    (repo / "there.md").write_text("# Present\n\n## Twice\n\n## Twice\n")
    doc = repo / "docs" / "doc.md"
    doc.write_text("# Top\n\n[ok](../there.md#present) [again](../there.md#twice-1) "
                   "[self](#top)\n[gone](missing.md) [bad](../there.md#absent)\n"
                   "![pic](img/none.png) [web](https://example.com/x)\n"
                   "[out](../../beside.md)\n"
                   "`[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n"
                   "<!-- [comment](nowhere.md) -->\n"
                   "[ref]: also-missing.txt\n")
    found = {target: problem(doc, target, repo) for _line, target in links(doc)}
    assert found == {
        "../there.md#present": None, "../there.md#twice-1": None, "#top": None,
        "https://example.com/x": None,
        "missing.md": "no file docs/missing.md",
        "../there.md#absent": "no heading with the anchor #absent in there.md",
        "img/none.png": "no file docs/img/none.png",
        "../../beside.md": f"{tmp_path.resolve() / 'beside.md'} is outside the repository "
                           "(a reader's clone has no such file)",
        "also-missing.txt": "no file docs/also-missing.txt",
    }
