"""Names of everything a lab instance owns. Ownership is by name prefix.

A node's namespace is `cclab.<instance>.<node>`; the instance's L2 switch
namespace is `cclab.<instance>._switch`. Instance and node names cannot hold a
dot or an underscore, so no lab can own another's resources by prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PREFIX = "cclab"
RUN_ROOT = Path("/run/cclab")
INSTANCE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


@dataclass(frozen=True, slots=True)
class LabNames:
    instance: str

    @property
    def prefix(self) -> str:
        return f"{PREFIX}.{self.instance}."

    @property
    def switch_ns(self) -> str:
        return f"{self.prefix}_switch"

    def node_ns(self, node: str) -> str:
        return f"{self.prefix}{node}"

    def node_of(self, ns: str) -> str | None:
        if not ns.startswith(self.prefix) or ns == self.switch_ns:
            return None
        return ns[len(self.prefix):]

    def owns(self, ns: str) -> bool:
        return ns.startswith(self.prefix)

    @property
    def run_dir(self) -> Path:
        return RUN_ROOT / self.instance


def valid_instance(name: str) -> bool:
    return bool(INSTANCE.match(name))
