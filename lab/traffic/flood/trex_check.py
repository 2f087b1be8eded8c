"""What a TRex STL profile would send, worked out from its JSON, for comparison. Pure.

TRex serialises a stream as its base packet and its field-engine instructions.
`simulate` applies them packet by packet as TRex's field engine does (an `inc`
variable starts at its init value and goes up by its step, back to its minimum
after its maximum; each write puts the variable's value big-endian at its
offset; the checksum instructions recompute IPv4 and UDP/TCP checksums), so a
test can check that the TRex profile and the native engine send the same bytes.
"""

from __future__ import annotations

import base64
from typing import Any

from lab.traffic.flood.fields import fix_checksums


def simulate(stream: dict[str, Any], count: int) -> list[bytes]:
    base = base64.b64decode(stream["packet"]["binary"])
    instructions = stream["vm"]["instructions"]
    values = {i["name"]: i["init_value"] for i in instructions if i["type"] == "flow_var"}
    frames = []
    for _ in range(count):
        frame = bytearray(base)
        for ins in instructions:
            if ins["type"] == "write_flow_var":
                size = next(i["size"] for i in instructions
                            if i["type"] == "flow_var" and i["name"] == ins["name"])
                value = values[ins["name"]] + ins.get("add_value", 0)
                frame[ins["pkt_offset"]:ins["pkt_offset"] + size] = value.to_bytes(size, "big")
            elif ins["type"] in ("fix_checksum_ipv4", "fix_checksum_hw"):
                fix_checksums(frame)
        frames.append(bytes(frame))
        for ins in instructions:
            if ins["type"] == "flow_var":
                values[ins["name"]] = _next(values[ins["name"]], ins)
    return frames


def _next(value: int, var: dict[str, Any]) -> int:
    if var["op"] != "inc":
        raise ValueError(f"only 'inc' variables are simulated, not {var['op']!r}")
    following = value + int(var["step"])
    return int(var["min_value"]) if following > int(var["max_value"]) else following
