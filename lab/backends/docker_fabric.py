"""The host's side of a docker lab: what a hypervisor does and docker does not.

A lab seals its own bridges, whatever the engine does with the host's firewall.
Docker's isolation rules, where the engine keeps them, drop any frame on an
`internal` network whose destination lies outside the network's subnet, even
when it only crosses the bridge to a lab router: with bridge netfilter on, a
workload's packet for the internet, sent to the fabric container's MAC, never
arrives. And an engine run without them (`dockerd --iptables=false`, as
scripts/start-docker-engine starts it: a bring-up then costs no 377 iptables
runs by dockerd) still turns on IP forwarding, so the host would route a lab
packet sent to its bridge address anywhere. Per lab bridge, IPv4:

    DOCKER-USER  -i BR -o BR -j ACCEPT    frames that stay on the link's bridge pass
                                          (the chain docker leaves to users, if it is there)
    FORWARD      -i BR -o BR -j ACCEPT    and where no docker chain comes first
    FORWARD      -i BR ! -o BR -j DROP    the host routes no lab packet anywhere
    INPUT        -i BR -j DROP            the host's bridge address answers nothing

and IPv6 (dual-stack nodes add IPv6 addresses on docker's IPv4 networks, and the
host's side of the bridge has a link-local one):

    INPUT        -i BR -j DROP            nor over IPv6
    FORWARD      -i BR ! -o BR -j DROP    and the host routes no lab IPv6 anywhere

The rules name the bridges before docker makes them, so they hold from the
first frame. Every rule carries the comment `cclab:INSTANCE`; one
`iptables-restore` per family puts them in or takes them out, in one
transaction: the old rules of the instance go as the new ones come.

Security groups are the netns switch's ruleset (security_groups.py) rendered
for a shared host: per-instance tables, ports named by the host's end of each
container's veth, frames of other bridges left alone.
"""

from __future__ import annotations

import shlex
import subprocess

from lab.errors import BackendError
from lab.security_groups import SgTables

Rule = tuple[str, list[str]]  # (chain, match and target)


def _tag(instance: str) -> list[str]:
    return ["-m", "comment", "--comment", f"cclab:{instance}"]


def rule_specs(bridges: list[str], instance: str, *, docker_user: bool = True) -> list[Rule]:
    """The IPv4 rules (iptables) for every lab bridge; `docker_user`: the host has
    docker's DOCKER-USER chain. Pure."""
    tag = _tag(instance)
    specs: list[Rule] = []
    for bridge in bridges:
        if docker_user:
            specs.append(("DOCKER-USER", ["-i", bridge, "-o", bridge, *tag, "-j", "ACCEPT"]))
        specs.append(("FORWARD", ["-i", bridge, "-o", bridge, *tag, "-j", "ACCEPT"]))
        specs.append(("FORWARD", ["-i", bridge, "!", "-o", bridge, *tag, "-j", "DROP"]))
        specs.append(("INPUT", ["-i", bridge, *tag, "-j", "DROP"]))
    return specs


def rule6_specs(bridges: list[str], instance: str) -> list[Rule]:
    """The IPv6 rules (ip6tables) for every lab bridge. Pure."""
    tag = _tag(instance)
    specs: list[Rule] = []
    for bridge in bridges:
        specs.append(("INPUT", ["-i", bridge, *tag, "-j", "DROP"]))
        specs.append(("FORWARD", ["-i", bridge, "!", "-o", bridge, *tag, "-j", "DROP"]))
    return specs


def has_chain(saved: str, chain: str) -> bool:
    """Whether an `iptables-save` listing of the filter table declares `chain`. Pure."""
    return any(line.split()[:1] == [f":{chain}"] for line in saved.splitlines())


def tagged_rules(saved: str, instance: str) -> list[Rule]:
    """The rules of an `iptables-save` listing tagged for `instance`. Pure."""
    found: list[Rule] = []
    for line in saved.splitlines():
        words = shlex.split(line) if line.startswith("-A ") else []
        if f"cclab:{instance}" in words:
            found.append((words[1], words[2:]))
    return found


def restore_script(delete: list[Rule], insert: list[Rule]) -> str:
    """An `iptables-restore --noflush` script for the filter table: `delete` goes,
    `insert` comes first in its chain, in one commit. Pure."""
    lines = ["*filter"]
    lines += [_line(["-D", chain, *spec]) for chain, spec in delete]
    lines += [_line(["-I", chain, "1", *spec]) for chain, spec in insert]
    return "\n".join([*lines, "COMMIT", ""])


def _line(words: list[str]) -> str:
    """iptables-restore splits on blanks and reads only double quotes: a word with a
    blank or a quote (none of a lab's: bridge names, `cclab:INSTANCE`) is refused."""
    odd = [w for w in words if not w or any(c.isspace() or c in "'\"\\" for c in w)]
    if odd:
        raise BackendError(f"host rule word {odd[0]!r} cannot be written for iptables-restore",
                           backend="docker")
    return " ".join(words)


def install(bridges: list[str], instance: str) -> None:
    """The lab's host rules, in place of any the instance had. Safe to repeat."""
    saved = _save("iptables")
    docker_user = has_chain(saved, "DOCKER-USER")
    _restore("iptables", restore_script(tagged_rules(saved, instance),
                                        rule_specs(bridges, instance, docker_user=docker_user)))
    _restore("ip6tables", restore_script(tagged_rules(_save("ip6tables"), instance),
                                         rule6_specs(bridges, instance)))


def remove(instance: str) -> int:
    """Delete every host rule tagged for `instance` (IPv4 and IPv6); returns how many."""
    removed = 0
    for tool in ("iptables", "ip6tables"):
        rules = tagged_rules(_save(tool), instance)
        if rules:
            _restore(tool, restore_script(rules, []))
        removed += len(rules)
    return removed


def _save(tool: str) -> str:
    return _run([f"{tool}-save", "-t", "filter"], tool).stdout


def _restore(tool: str, script: str) -> None:
    _run([f"{tool}-restore", "--noflush"], tool, script)


def _run(argv: list[str], tool: str, script: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(argv, input=script, capture_output=True, text=True, check=False,
                              timeout=30)
    except FileNotFoundError as exc:
        raise BackendError(f"{argv[0]} not found\n    hint: apt-get install iptables",
                           backend="docker") from exc
    if done.returncode != 0:
        raise BackendError(f"{tool}: {done.stderr.strip()}\n{script or ' '.join(argv)}",
                           backend="docker")
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

