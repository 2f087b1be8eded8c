"""A node's share of the plan as a file the host writes and the node agent reads.

Every docker node used to load and validate the whole topology and plan it
(pydantic, YAML: about a third of a second of CPU a node, twenty nodes at once
on a small machine). The host has planned already: it writes each node's
steps, and where docker attaches each interface, to `<run>/plans/NODE.json`;
the agent reads its file and plans only where there is none (a compose file
started by hand, `cclab ready`). Pure: text in, steps out, and back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)
from typing import Any, get_args

from lab.steps import Step

STEP_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in get_args(Step)}
# An IPv4Interface is an IPv4Address too: it is tried first (and IPv6 alike).
_IP_TYPES: dict[str, type[Any]] = {"interface": IPv4Interface, "network": IPv4Network,
                                   "address": IPv4Address}
_IP6_TYPES: dict[str, type[Any]] = {"interface": IPv6Interface, "network": IPv6Network,
                                    "address": IPv6Address}


@dataclass(frozen=True, slots=True)
class NodeShare:
    """What a node agent needs of the plan: its steps, and where docker attaches each of
    its interfaces (a stand-in address for an overlapping link, see compose.docker_subnets),
    or that the host makes them (`wired_by_host`, a `cclab up` lab: none is attached)."""

    instance: str
    node: str
    topology_digest: str  # of the topology file's bytes: a share of another file is not used
    steps: tuple[Step, ...]
    attached: dict[str, IPv4Interface]
    wired_by_host: bool = False


def topology_digest(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()[:16]


def encode_share(share: NodeShare) -> str:
    return json.dumps({
        "instance": share.instance, "node": share.node,
        "topology_digest": share.topology_digest,
        "steps": [{"type": type(s).__name__, **{f.name: _encode(getattr(s, f.name))
                                                for f in dataclasses.fields(s)}}
                  for s in share.steps],
        "attached": {name: str(address) for name, address in share.attached.items()},
        "wired_by_host": share.wired_by_host,
    }, indent=1)


def decode_share(text: str) -> NodeShare:
    data = json.loads(text)
    steps = []
    for fields in data["steps"]:
        cls = STEP_TYPES[fields.pop("type")]
        steps.append(cls(**{k: _decode(v) for k, v in fields.items()}))
    return NodeShare(data["instance"], data["node"], data["topology_digest"], tuple(steps),
                     {name: IPv4Interface(a) for name, a in data["attached"].items()},
                     bool(data.get("wired_by_host", False)))


def _encode(value: object) -> object:
    for kind, cls in _IP_TYPES.items():
        if isinstance(value, cls):
            return {"ipv4": kind, "value": str(value)}
    for kind, cls in _IP6_TYPES.items():
        if isinstance(value, cls):
            return {"ipv6": kind, "value": str(value)}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: object) -> object:
    if isinstance(value, dict):
        if "ipv6" in value:
            return _IP6_TYPES[value["ipv6"]](value["value"])
        return _IP_TYPES[value["ipv4"]](value["value"])
    if isinstance(value, list):  # a step's sequences are tuples
        return tuple(_decode(v) for v in value)
    return value
