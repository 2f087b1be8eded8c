"""The host's side of a docker lab: what a hypervisor does and docker does not.

Docker's isolation rules drop any frame on an `internal` network whose
destination lies outside the network's subnet, even when it only crosses the
bridge to a lab router: with bridge netfilter on, a workload's packet for the
internet, sent to the fabric container's MAC, never arrives. Two rules per
lab bridge, in the chains docker leaves to users and the host's INPUT:

    DOCKER-USER  -i BR -o BR -j ACCEPT   frames that stay on the link's bridge pass
    INPUT        -i BR -j DROP           the host's bridge address answers nothing

and two for IPv6 (ip6tables), since dual-stack nodes add IPv6 addresses on
docker's IPv4 networks and the host's side of the bridge has a link-local one:

    INPUT        -i BR -j DROP           nor over IPv6
    FORWARD      -i BR ! -o BR -j DROP   and the host routes no lab IPv6 anywhere

Every rule carries the comment `cclab:INSTANCE`, and removal finds rules by it.

Security groups are the netns switch's ruleset (security_groups.py) rendered
for a shared host: per-instance tables, ports named by the host's end of each
container's veth, frames of other bridges left alone.
"""

from __future__ import annotations

import shlex
import subprocess

from lab.errors import BackendError
from lab.security_groups import SgTables


def rule_specs(bridges: list[str], instance: str) -> list[tuple[str, list[str]]]:
    """(chain, match and target) for every rule the lab needs on the host. Pure."""
    tag = ["-m", "comment", "--comment", f"cclab:{instance}"]
    specs: list[tuple[str, list[str]]] = []
    for bridge in bridges:
        specs.append(("DOCKER-USER", ["-i", bridge, "-o", bridge, *tag, "-j", "ACCEPT"]))
        specs.append(("INPUT", ["-i", bridge, *tag, "-j", "DROP"]))
    return specs


def rule6_specs(bridges: list[str], instance: str) -> list[tuple[str, list[str]]]:
    """The IPv6 rules (ip6tables) for every lab bridge. Pure."""
    tag = ["-m", "comment", "--comment", f"cclab:{instance}"]
    specs: list[tuple[str, list[str]]] = []
    for bridge in bridges:
        specs.append(("INPUT", ["-i", bridge, *tag, "-j", "DROP"]))
        specs.append(("FORWARD", ["-i", bridge, "!", "-o", bridge, *tag, "-j", "DROP"]))
    return specs


def install(bridges: list[str], instance: str) -> None:
    for tool, specs in (("iptables", rule_specs(bridges, instance)),
                        ("ip6tables", rule6_specs(bridges, instance))):
        for chain, spec in specs:
            if _iptables(["-C", chain, *spec], check=False, tool=tool).returncode != 0:
                _iptables(["-I", chain, "1", *spec], tool=tool)


def remove(instance: str) -> int:
    """Delete every host rule tagged for `instance` (IPv4 and IPv6); returns how many."""
    removed = 0
    for tool, chains in (("iptables", ("DOCKER-USER", "INPUT")),
                         ("ip6tables", ("INPUT", "FORWARD"))):
        for chain in chains:
            listing = _iptables(["-S", chain], check=False, tool=tool).stdout.splitlines()
            for line in listing:
                words = shlex.split(line)
                if f"cclab:{instance}" in words and words[:1] == ["-A"]:
                    _iptables(["-D", *words[1:]], check=False, tool=tool)
                    removed += 1
    return removed


def _iptables(args: list[str], *, check: bool = True,
              tool: str = "iptables") -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run([tool, "-w", *args], capture_output=True, text=True,
                              check=False, timeout=30)
    except FileNotFoundError as exc:
        raise BackendError(f"{tool} not found\n    hint: apt-get install iptables",
                           backend="docker") from exc
    if check and done.returncode != 0:
        raise BackendError(f"{tool} {' '.join(args)}: {done.stderr.strip()}", backend="docker")
    return done


def sg_tables(instance: str, first_zone: int = 1) -> SgTables:
    suffix = instance.replace("-", "_")
    return SgTables(f"cclab_ports_{suffix}", f"cclab_sg_{suffix}", shared_host=True,
                    first_zone=first_zone)


def install_security_groups(ruleset: str) -> None:
    done = subprocess.run(["nft", "-f", "-"], input=ruleset, capture_output=True, text=True,
                          check=False, timeout=30)
    if done.returncode != 0:
        raise BackendError(f"security groups on the host: {done.stderr.strip()}",
                           backend="docker")


def remove_security_groups(tables: SgTables) -> None:
    for family, name in (("bridge", tables.ports), ("inet", tables.sg)):
        subprocess.run(["nft", "delete", "table", family, name], capture_output=True,
                       check=False, timeout=30)


def list_security_groups(tables: SgTables) -> str:
    return subprocess.run(["nft", "list", "table", "inet", tables.sg], capture_output=True,
                          text=True, check=False, timeout=30).stdout

