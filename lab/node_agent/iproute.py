"""iproute2's `ip` as the node agent's netlink: queries as JSON, changes in batches.

A node agent runs in every container of a docker lab; importing pyroute2 cost each
one 0.16 s of CPU, more than everything else it does. `ip -batch` makes a node's
changes in one process, stops at the first that fails and says which line: the
error names that step. Pure rendering (`line_of`) apart from running (`Ip`).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from typing import Any

from lab.errors import BackendError
from lab.steps import AddAddress, AddRoute, AddRule, LinkUp

TIMEOUT_S = 30.0
Batched = AddAddress | LinkUp | AddRoute | AddRule
_FAILED_LINE = re.compile(r"Command failed -:(\d+)")


@dataclass(frozen=True, slots=True)
class IpLine:
    """One `ip -batch` line; `family` is "-6" for what `ip` cannot tell from the line
    itself (a rule from all), else ""."""

    family: str
    text: str


def line_of(step: Batched) -> IpLine:
    match step:
        case AddAddress():
            nodad = " nodad" if step.address.version == 6 else ""
            return IpLine("", f"addr add {step.address} dev {step.ifname}{nodad}")
        case LinkUp():
            return IpLine("", f"link set dev {step.ifname} up")
        case AddRoute():
            to = "default" if step.to.prefixlen == 0 and step.to.version == 4 else str(step.to)
            return IpLine("", f"route add {to} via {step.via} table {step.table}")
        case AddRule():
            return IpLine("-6" if step.family == 6 else "", _rule_text(step))


def _rule_text(step: AddRule) -> str:
    source = str(step.source) if step.source is not None else "all"
    text = f"rule add from {source} lookup {step.table} priority {step.priority}"
    if step.suppress_prefixlength is not None:
        text += f" suppress_prefixlength {step.suppress_prefixlength}"
    return text


class Ip:
    """`ip` in the agent's own namespace (or the named one, `netns`); failures are
    `BackendError`s naming `node`."""

    def __init__(self, node: str, netns: str | None = None) -> None:
        self.node = node
        self._ip = ["ip", "-n", netns] if netns else ["ip"]

    def query(self, *args: str) -> list[dict[str, Any]]:
        done = self._run([*self._ip, "-j", *args], what=" ".join(args))
        return json.loads(done.stdout or "[]")  # type: ignore[no-any-return]

    def change(self, *args: str, what: str) -> None:
        self._run([*self._ip, *args], what=what)

    def batch(self, steps: list[tuple[Batched, IpLine]]) -> None:
        """Run the lines (one family) in one `ip -batch`; the first failure names its step."""
        if not steps:
            return
        family = [steps[0][1].family] if steps[0][1].family else []
        text = "".join(f"{line.text}\n" for _, line in steps)
        done = subprocess.run([*self._ip, *family, "-batch", "-"], input=text, capture_output=True,
                              text=True, check=False, timeout=TIMEOUT_S)
        if done.returncode != 0:
            raise BackendError(_batch_failure(steps, done.stderr), backend="docker",
                               node=self.node)

    def _run(self, argv: list[str], *, what: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=TIMEOUT_S)
        if done.returncode != 0:
            raise BackendError(f"{what}: {done.stderr.strip() or 'ip failed'}",
                               backend="docker", node=self.node)
        return done


def _batch_failure(steps: list[tuple[Batched, IpLine]], stderr: str) -> str:
    found = _FAILED_LINE.search(stderr)
    reason = _FAILED_LINE.sub("", stderr).strip() or "ip failed"
    if found is None or not 1 <= int(found.group(1)) <= len(steps):
        return f"ip -batch: {reason}"
    step = steps[int(found.group(1)) - 1][0]
    return f"{step.describe()}: {reason}"
