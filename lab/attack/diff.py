"""Two attack matrices side by side: what a change opens and what it closes. Pure.

Rows are matched by attack and target interface (`ssh-management cc1/eth-mgmt`), not
by address: a change may renumber the public addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.attack.matrix import Matrix, Row

EXIT_NOTHING_OPENS = 0
EXIT_OPENS = 1


@dataclass(frozen=True, slots=True)
class Change:
    key: str
    before: Row | None
    after: Row | None

    @property
    def title(self) -> str:
        row = self.after or self.before
        assert row is not None
        return f"{row.title}: {row.target}"


@dataclass(frozen=True, slots=True)
class Diff:
    before: str
    after: str
    opened: tuple[Change, ...]
    closed: tuple[Change, ...]
    same: int

    def exit_code(self) -> int:
        return EXIT_OPENS if self.opened else EXIT_NOTHING_OPENS


def compare(before: Matrix, after: Matrix) -> Diff:
    """An attack opens when it gets through after and did not before (or is new and gets
    through); it closes the other way round."""
    old = {r.key: r for r in before.rows}
    new = {r.key: r for r in after.rows}
    opened, closed, same = [], [], 0
    for key in [*old, *(k for k in new if k not in old)]:
        was = old.get(key)
        now = new.get(key)
        through_before = was is not None and was.observed
        through_after = now is not None and now.observed
        if through_after and not through_before:
            opened.append(Change(key, was, now))
        elif through_before and not through_after:
            closed.append(Change(key, was, now))
        else:
            same += 1
    return Diff(before.topology, after.topology, tuple(opened), tuple(closed), same)


def render(diff: Diff) -> str:
    lines = [f"cclab diff {diff.before} -> {diff.after}: {len(diff.opened)} opened, "
             f"{len(diff.closed)} closed, {diff.same} unchanged"]
    for change in diff.opened:
        rule = change.after.rule if change.after else ""
        lines.append(f"  OPENS   {change.title}  (now allowed by {rule})")
    for change in diff.closed:
        rule = change.after.rule if change.after else "the target is gone"
        lines.append(f"  closes  {change.title}  (now stopped by {rule})")
    return "\n".join(lines) + "\n"
