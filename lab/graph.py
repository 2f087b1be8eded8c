"""Topology -> a picture: Graphviz DOT text, rendered to SVG or PNG by `dot`.

Links are the ovals (name and subnet), nodes the boxes (name, role, services);
each edge is an interface, labelled with its name, address, public address
(EIP or public IP, as `=> 203.0.113.31`) and security groups. The internet
side is drawn apart from the VPC. `render_dot` is pure; `draw` runs `dot`.
"""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv4Network
from pathlib import Path

from lab.errors import LabError
from lab.model import Interface, Network, Node, Topology

RFC1918 = tuple(IPv4Network(p) for p in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
ROLE_COLOURS = {"connector": "#ffe8b3", "router": "#e3ecf7", "gateway": "#d9f2e3",
                "server": "#f2f2f2", "host": "#ffffff"}


def render_dot(topo: Topology) -> str:
    lines = [f'graph "{topo.name}" {{',
             '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.3, '
             f'ranksep=0.9, labelloc=t, label="{_esc(topo.name)}: {_esc(topo.description)}"];',
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8, color="#555555"];']
    lines += [_link(net) for net in topo.networks]
    lines += [_node(node) for node in topo.nodes]
    depth = _depths(topo)
    lines += [_edge(node, iface, depth) for node in topo.nodes for iface in node.interfaces]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _depths(topo: Topology) -> dict[str, int]:
    """Hops from the first link (breadth first over links and nodes), so that the
    picture reads from the workloads' side to the internet's, left to right."""
    depth = {f"link:{topo.networks[0].name}": 0} if topo.networks else {}
    frontier = list(depth)
    while frontier:
        nxt = []
        for item in frontier:
            for near in _neighbours(topo, item):
                if near not in depth:
                    depth[near] = depth[item] + 1
                    nxt.append(near)
        frontier = nxt
    return depth


def _neighbours(topo: Topology, item: str) -> list[str]:
    kind, name = item.split(":", 1)
    if kind == "node":
        return [f"link:{i.network}" for i in topo.node(name).interfaces]
    return [f"node:{n.name}" for n in topo.nodes if any(i.network == name for i in n.interfaces)]


def _link(net: Network) -> str:
    """Internet red, VPC blue, isolated private sites (ZPA app networks) green."""
    internet = not any(net.subnet.subnet_of(p) for p in RFC1918)
    colour = "#e6f4e6" if net.isolated else "#fbe3e3" if internet else "#eef6ff"
    note = " (isolated)" if net.isolated else ""
    return (f'  "link:{net.name}" [shape=ellipse, style=filled, fillcolor="{colour}", '
            f'label="{_esc(net.name)}\\n{net.subnet}{note}"];')


def _node(node: Node) -> str:
    rows = [f"<b>{_esc(node.name)}</b> <i>({_esc(node.role)})</i>"]
    rows += [_esc(s.kind) + (f" {_esc(s.option('config'))}" if s.kind == "connector" else "")
             for s in node.services]
    if node.gateway is not None:
        rows.append(f"{node.gateway.kind} gateway"
                    + ("" if node.gateway.anti_spoofing else ", anti-spoofing OFF")
                    + (", drops provider sources" if node.gateway.drop_provider_ranges else ""))
    colour = ROLE_COLOURS.get(node.role, "#ffffff")
    label = "<br/>".join(rows)
    return (f'  "node:{node.name}" [shape=box, style="rounded,filled", fillcolor="{colour}", '
            f"label=<{label}>];")


def _edge(node: Node, iface: Interface, depth: dict[str, int]) -> str:
    parts = [f"{iface.name} {iface.address.ip}"]
    if iface.public is not None:
        parts.append(f"=> {iface.public}")
    if iface.security_groups:
        parts.append("SG " + ", ".join(iface.security_groups))
    ends = [f"node:{node.name}", f"link:{iface.network}"]
    ends.sort(key=lambda e: depth.get(e, 99))  # nearer the first link on the left
    return (f'  "{ends[0]}" -- "{ends[1]}" '
            f'[label="{_esc(chr(10).join(parts))}"];').replace("\n", "\\n")


def _esc(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").strip())


def draw(topo: Topology, output: Path) -> Path:
    """Write the picture; the format follows the file's suffix (.svg, .png, .dot)."""
    dot_text = render_dot(topo)
    if output.suffix == ".dot":
        output.write_text(dot_text)
        return output
    if shutil.which("dot") is None:
        raise LabError("`dot` not found\n    hint: apt-get install graphviz (or -o FILE.dot)")
    fmt = output.suffix.lstrip(".") or "svg"
    if fmt not in ("svg", "png", "pdf"):
        raise LabError(f"cannot draw '{output.name}'\n    hint: use .svg, .png, .pdf or .dot")
    done = subprocess.run(["dot", f"-T{fmt}", "-o", str(output)], input=dot_text, text=True,
                          capture_output=True, check=False, timeout=60)
    if done.returncode != 0:
        raise LabError(f"dot failed: {done.stderr.strip()}")
    return output
