"""`cclab traffic run PROFILE --node N --to ADDRESS`: a flood sent from inside a lab node.

Inside the node it finds the interface and next hop towards `--to` (`ip -j
route get`), fills the neighbour entry of the next hop (one ping) and reads its
MAC, the interface's MAC and address, and runs the engine there with them, so
frames leave exactly as the node's own packets would. The profile decides which
of its addresses `--to` is (the resolver, the web server, the SSH target);
spoofing profiles keep their forged sources.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from lab.backends.base import Backend
from lab.errors import LabError

TARGET_OF = {"dns-flood": "resolver", "dns-reflection": "resolver", "legit-mix": "web",
             "spoofed-flood": "web", "syn-flood": "web", "ssh-attempts": "ssh",
             "udp-stream": "web", "geneve-stream": "tunnel"}


@dataclass(frozen=True, slots=True)
class Path:
    iface: str
    src: str
    src_mac: str
    dst_mac: str


def path_towards(backend: Backend, node: str, to: str) -> Path:
    route = json.loads(_out(backend, node, ["ip", "-j", "route", "get", to]))[0]
    iface, hop = route["dev"], route.get("gateway", to)
    _out(backend, node, ["ping", "-c", "1", "-W", "1", hop], check=False)
    neigh = _out(backend, node, ["ip", "neigh", "show", hop, "dev", iface])
    found = re.search(r"lladdr ([0-9a-f:]{17})", neigh)
    if found is None:
        raise LabError(f"{node}: no MAC address for next hop {hop} on {iface}\n"
                       f"    hint: is {hop} up? `cclab exec {node} -- ip neigh`")
    src_mac = _out(backend, node, ["cat", f"/sys/class/net/{iface}/address"]).strip()
    return Path(iface, route["prefsrc"], src_mac, found.group(1))


def flood_argv(python: str, profile: str, path: Path, to: str, count: int,
               duration: float, forged: str | None = None,
               pps: float | None = None, stop_file: str | None = None) -> list[str]:
    if profile not in TARGET_OF:
        raise LabError(f"unknown profile '{profile}'\n    hint: one of {', '.join(TARGET_OF)}")
    return [python, "-m", "lab.traffic.flood", profile, "--iface", path.iface,
            "--count", str(count), "--duration", str(duration), "--src", path.src,
            f"--{TARGET_OF[profile]}", to, "--src-mac", path.src_mac, "--dst-mac", path.dst_mac,
            *(["--forged", forged] if forged else []),
            *(["--pps", f"{pps:g}"] if pps else []),
            *(["--stop-file", stop_file] if stop_file else [])]


def run_flood(backend: Backend, node: str, profile: str, to: str, count: int,
              duration: float, forged: str | None = None,
              pps: float | None = None, stop_file: str | None = None) -> dict[str, Any]:
    """The engine's report of a flood from `node`; `pps`: paced, else its top rate;
    `stop_file`: a path in the node whose creation ends the flood early."""
    path = path_towards(backend, node, to)
    argv = flood_argv(backend.node_python, profile, path, to, count, duration, forged, pps,
                      stop_file)
    report: dict[str, Any] = json.loads(_out(backend, node, argv, timeout=duration + 60)
                                        .strip().splitlines()[-1])
    return {"node": node, "to": to, **report}


def _out(backend: Backend, node: str, argv: list[str], *, check: bool = True,
         timeout: float = 30) -> str:
    result = backend.exec(node, argv, timeout=timeout)
    if check and not result.ok:
        raise LabError(f"{node}: `{' '.join(argv)}` failed: {result.stderr.strip()}")
    return result.stdout
