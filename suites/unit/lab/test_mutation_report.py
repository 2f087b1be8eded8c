"""reports/mutation/core.md: mutant identity, scores, and the verdict of each survivor."""

from __future__ import annotations

from pathlib import Path

import pytest

from suites.mutants.__main__ import merged
from suites.mutants.mutmut_report import (
    Survivor,
    changed_lines,
    figures,
    function_of,
    line_of,
    load_equivalents,
    markdown,
    status_of,
)

pytestmark = pytest.mark.unit

DIFF = """     x = 1
-    if a < b:
+    if a <= b:
         return x"""


def test_identity_is_the_function_and_the_changed_lines() -> None:
    assert changed_lines(DIFF) == ("if a < b:", "if a <= b:")
    assert function_of("connector.core.rrl.xǁResponseRateLimiterǁcheck__mutmut_3") == \
        "ResponseRateLimiter.check"
    assert function_of("connector.core.memo.x_remember__mutmut_1") == "remember"


def test_line_is_found_inside_the_named_method() -> None:
    source = "def f():\n    if a < b:\n        pass\n\nclass C:\n    def f(self):\n" \
             "        if a < b:\n            pass\n"
    assert line_of(source, "f", "if a < b:") == 2
    assert line_of(source, "C.f", "if a < b:") == 7
    assert line_of(source, "g", "if a < b:") == 0


def test_statuses_and_score_count_timeouts_as_detected() -> None:
    assert [status_of(c) for c in (1, 3, 0, 33, -24, None, 99)] == [
        "killed", "killed", "survived", "no tests", "timeout", "not checked", "suspicious"]
    data = figures({"m.a": {"x": 1, "y": 0, "z": 24, "w": 33}})
    assert (data["total"], data["killed"], data["timeout"], data["score"]) == (4, 1, 1, 50.0)


def test_survivors_without_an_entry_are_unexplained(tmp_path: Path) -> None:
    path = tmp_path / "equivalent.toml"
    path.write_text('[deferred]\n"m.b" = "later"\n\n[[mutant]]\nmodule = "m.a"\n'
                    'function = "f"\nbefore = "if a < b:"\nafter = "if a <= b:"\n'
                    'reason = "a never equals b"\n')
    known, deferred = load_equivalents(path)
    assert known == {("m.a", "f", "if a < b:", "if a <= b:"): ("equivalent", "a never equals b")}
    found = [Survivor("m.a", "f", 2, "if a < b:", "if a <= b:", "survived", DIFF, "equivalent",
                      "a never equals b", "m.a.x_f__mutmut_1"),
             Survivor("m.b", "g", 9, "x = 1", "x = 2", "survived", DIFF, "UNEXPLAINED", "",
                      "m.b.x_g__mutmut_1")]
    data = {**figures({"m.a": {"m.a.x_f__mutmut_1": 0}, "m.b": {"m.b.x_g__mutmut_1": 0}}),
            "detected": 0, "mutmut": "3"}
    text = markdown(data, found, deferred, [])
    assert "equivalent: a never equals b" in text
    assert "**UNEXPLAINED** (deferred: later)" in text
    assert "1 of the 2 not killed explained as equivalent, 0 accepted" in text


def test_an_accepted_mutant_is_listed_as_such_and_a_bad_verdict_is_refused(
        tmp_path: Path) -> None:
    """`verdict = "accepted"`: not equivalent, listed with its reason, never counted as
    equivalent; any other verdict is a mistake in the file."""
    path = tmp_path / "equivalent.toml"
    entry = ('[[mutant]]\nmodule = "m.a"\nfunction = "f"\nbefore = "x = \'a\'"\n'
             'after = "x = \'XXaXX\'"\nreason = "wording only"\nverdict = "{}"\n')
    path.write_text(entry.format("accepted"))
    known, _ = load_equivalents(path)
    assert known == {("m.a", "f", "x = 'a'", "x = 'XXaXX'"): ("accepted", "wording only")}
    found = [Survivor("m.a", "f", 2, "x = 'a'", "x = 'XXaXX'", "survived", DIFF, "accepted",
                      "wording only", "m.a.x_f__mutmut_1")]
    data = {**figures({"m.a": {"m.a.x_f__mutmut_1": 0}}), "detected": 0, "mutmut": "3"}
    text = markdown(data, found, {}, [])
    assert "accepted: wording only" in text
    assert "0 of the 1 not killed explained as equivalent, 1 accepted" in text
    path.write_text(entry.format("fine"))
    with pytest.raises(ValueError, match="verdict 'fine'"):
        load_equivalents(path)


def test_a_subset_run_updates_its_rows_and_keeps_the_others() -> None:
    """`make mutants FAULTS=x` replaces x's row of the last full report, never the report."""
    last = [{"id": "a", "verdict": "killed"}, {"id": "b", "verdict": "stale"},
            {"id": "gone", "verdict": "killed"}]
    rows = merged(last, [{"id": "b", "verdict": "killed"}, {"id": "c", "verdict": "killed"}],
                  ["c", "a", "b"])
    assert rows == [{"id": "c", "verdict": "killed"}, {"id": "a", "verdict": "killed"},
                    {"id": "b", "verdict": "killed"}]
