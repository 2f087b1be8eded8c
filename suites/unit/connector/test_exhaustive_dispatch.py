"""A new member of a dispatch enum fails the type check, naming every place to handle it.

Every place that acts on a forwarding method, a DNS action, a DNS outcome or a
DNS gateway's failure behaviour matches on the enum and ends in
`typing.assert_never`. Here a copy of the connector gets one more member in
each of those enums, and mypy (`make typecheck`'s checker, with the project's
configuration) must reject the copy at exactly those places: a member someone
forgot to handle can never be dropped silently. PLACES counts dispatch places,
not members: it changes when a `match ... assert_never` is added or removed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
ENUMS = ("Method", "DnsAction", "DnsOutcome", "FailureBehavior")
# (file, enum) -> how many dispatch places there must handle a new member
PLACES = Counter({
    ("connector/core/steering.py", "Method"): 1,
    ("connector/service/dns_service.py", "Method"): 1,
    ("connector/io/nft_render.py", "Method"): 2,
    ("connector/core/dns_policy.py", "DnsAction"): 1,
    ("connector/service/dns_service.py", "DnsOutcome"): 1,
    ("connector/core/dns_policy.py", "FailureBehavior"): 1,
})


def _copy_with_new_members(tmp: Path) -> None:
    for package in ("connector", "yamlissues"):
        shutil.copytree(ROOT / package, tmp / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    model = tmp / "connector" / "core" / "model.py"
    text = model.read_text()
    for enum in ENUMS:
        start = text.index(f"class {enum}(Enum):")
        end = text.index("\n\n\n", start)  # the class ends where two blank lines begin
        text = text[:end] + '\n    TELEPORT = "TELEPORT"' + text[end:]
    model.write_text(text)


def test_a_new_member_fails_the_type_check_at_each_dispatch(tmp_path: Path) -> None:
    _copy_with_new_members(tmp_path)
    done = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / ".mc"),
                           "connector"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 1, done.stdout
    found: Counter[tuple[str, str]] = Counter()
    for line in done.stdout.splitlines():
        hit = re.match(r"([\w/]+\.py):\d+: error: .*assert_never.*\[(\w+)\.TELEPORT\]", line)
        if hit:
            found[(hit.group(1), hit.group(2))] += 1
    assert found == PLACES, done.stdout
