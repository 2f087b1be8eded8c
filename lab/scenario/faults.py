"""The fault kinds as I/O: `apply` puts a fault on a running lab, `undo` takes it off.

Each is the mechanism the hand-written suites already use, named: SIGKILL of the
connector's PID (bench/bench_failover.py), nftables tables in a node
(suites/functional/connector/gwlb_helpers.py `tunnel_port_cut`, the cloud suite's
UDP block), the lab's own service stop/start, the GWLB's RegisterTargets / DeregisterTargets
(`LabHandle.gwlb_targets`). Every table a fault adds is named
`scn_*` and deleted on undo; `undo` is safe to call after a failed `apply`.
Shaping uses tbf (this kernel has no netem), with a small burst (2 KB) so that even
small flows feel the rate; loss is nftables' `numgen random`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from lab.api import LabHandle
from lab.model import Topology
from lab.scenario.errors import FaultError
from lab.scenario.kinds import lb_targets, with_service
from lab.scenario.model import Fault

TUNNEL_UDP_PORT = "6789"  # the lab's ZIA tunnel over UDP (lab/nodes/zia_gateway.py)
CLOUD_PORT = "443"  # the fake ZPA cloud's API (connector/service/cloud.py CLOUD_PORT)
# How long a connector waits for the cloud at start (connector/service/cloud.py
# ENROLL_WAIT_S, 20 s; a unit test keeps the two in step), plus a start on a loaded machine.
ENROLL_READY_S = 20.0 + 15.0


def _nft(lab: LabHandle, node: str, script: str) -> None:
    result = lab.exec(node, "nft", script, check=False)
    if not result.ok:
        raise FaultError(f"{node}: nft refused the fault's rules: {result.stderr.strip()}")


def _drop_table(lab: LabHandle, node: str, table: str, family: str = "ip") -> None:
    lab.exec(node, "nft", f"delete table {family} {table}", check=False)


def _connector_pid(lab: LabHandle, node: str) -> int:
    pid = lab.service_pid(node, "connector")
    if pid is None:
        raise FaultError(f"{node}: no running connector to kill")
    return pid


def _probe_port(topology: Topology) -> str:
    for node in topology.nodes:
        for service in node.services:
            if service.kind == "gwlb":
                return service.option("probe-port", "50000")
    return "50000"


def apply(lab: LabHandle, fault: Fault) -> None:
    node = fault.nodes[0]
    if fault.kind == "connector_kill":
        _kill(lab, node, _connector_pid(lab, node))
    elif fault.kind == "connector_restart":
        lab.restart_service(node, "connector")
    elif fault.kind == "connector_remove":
        _membership(lab, node, "deregister")
    elif fault.kind == "zia_blackhole":
        for edge in fault.nodes:
            _nft(lab, edge, "add table ip scn_cut; add chain ip scn_cut cutin { type filter "
                 "hook input priority -10 ; }; "
                 f"add rule ip scn_cut cutin udp dport {TUNNEL_UDP_PORT} drop; "
                 "add rule ip scn_cut cutin tcp dport 443 drop; "
                 "add rule ip scn_cut cutin tcp sport 443 drop")
    elif fault.kind == "udp_block":
        port = fault.param("port", TUNNEL_UDP_PORT)
        _nft(lab, node, "add table ip scn_udp; add chain ip scn_udp scnfwd { type filter hook "
             f"forward priority -10 ; }}; add rule ip scn_udp scnfwd udp dport {port} drop")
    elif fault.kind == "dns_upstream_down":
        lab.stop_service(node, "dns-upstream")
    elif fault.kind == "lb_target_unhealthy":
        _nft(lab, node, "add table ip scn_probe; add chain ip scn_probe pin { type filter hook "
             "input priority -10 ; }; "
             f"add rule ip scn_probe pin tcp dport {_probe_port(lab.topology)} "
             "reject with tcp reset")
    elif fault.kind == "link_impair":
        _impair(lab, fault)
    elif fault.kind == "cloud_unreachable_at_enrollment":
        for cloud in _clouds(lab.topology):
            _nft(lab, cloud, "add table ip scn_cloud; add chain ip scn_cloud cin { type filter "
                 f"hook input priority -10 ; }}; add rule ip scn_cloud cin tcp dport {CLOUD_PORT} "
                 "drop")
        lab.restart_service(node, "connector", timeout_s=ENROLL_READY_S)
    elif fault.kind == "zpa_broker_down":  # the cloud suite's BROKER_CUT
        _nft(lab, node, "add table inet scn_broker; add chain inet scn_broker bin { type "
             "filter hook input priority -5 ; }; "
             "add rule inet scn_broker bin tcp dport 443 ct state new drop")
    else:
        raise FaultError(f"no way to apply fault kind '{fault.kind}'")


def _membership(lab: LabHandle, node: str, action: str) -> None:
    """`node`'s target addresses registered or deregistered on every GWLB listing them."""
    targets = tuple(sorted(lb_targets(lab.topology, (node,))))
    if not targets:
        raise FaultError(f"{node}: no GWLB lists it as a target")
    for balancer in with_service(lab.topology, "gwlb"):
        lab.gwlb_targets(action, targets, balancer)


def _impair(lab: LabHandle, fault: Fault) -> None:
    node, iface = fault.nodes[0], fault.param("iface")
    rate, loss = fault.param("rate"), fault.param("loss_pct")
    if rate:
        result = lab.exec(node, "tc", "qdisc", "add", "dev", iface, "root", "tbf", "rate", rate,
                          "burst", "2kb", "latency", "400ms", check=False)
        if not result.ok:
            raise FaultError(f"{node}: tc refused tbf on {iface}: {result.stderr.strip()}")
    if loss:
        _nft(lab, node, "add table ip scn_loss; add chain ip scn_loss scnfwd { type filter hook "
             "forward priority -10 ; }; "
             f"add rule ip scn_loss scnfwd iifname {iface} numgen random mod 100 < {loss} drop; "
             f"add rule ip scn_loss scnfwd oifname {iface} numgen random mod 100 < {loss} drop")


def undo(lab: LabHandle, fault: Fault) -> None:
    """Take the fault off; safe whatever state `apply` left (each step checks or ignores)."""
    node = fault.nodes[0]
    if fault.kind == "connector_kill":
        _reap_group(lab, node)
        lab.restart_service(node, "connector")
    elif fault.kind == "connector_remove":
        _membership(lab, node, "register")
    elif fault.kind == "zia_blackhole":
        for edge in fault.nodes:
            _drop_table(lab, edge, "scn_cut")
    elif fault.kind == "udp_block":
        _drop_table(lab, node, "scn_udp")
    elif fault.kind == "dns_upstream_down":
        if not _alive(lab, node, "dns-upstream"):
            lab.start_service(node, "dns-upstream")
    elif fault.kind == "lb_target_unhealthy":
        _drop_table(lab, node, "scn_probe")
    elif fault.kind == "link_impair":
        if fault.param("rate"):
            lab.exec(node, "tc", "qdisc", "del", "dev", fault.param("iface"), "root",
                     check=False)
        _drop_table(lab, node, "scn_loss")
    elif fault.kind == "zpa_broker_down":
        _drop_table(lab, node, "scn_broker", "inet")
    elif fault.kind == "cloud_unreachable_at_enrollment":
        for cloud in _clouds(lab.topology):
            _drop_table(lab, cloud, "scn_cloud")
        if not _connector_alive(lab, node):  # its start failed: started again, cloud back
            lab.start_service(node, "connector")


def _clouds(topology: Topology) -> list[str]:
    nodes = [n.name for n in topology.nodes if any(s.kind == "zpa-cloud" for s in n.services)]
    if not nodes:
        raise FaultError("cloud_unreachable_at_enrollment: the topology has no zpa-cloud node")
    return nodes


def _kill(lab: LabHandle, node: str, pid: int) -> None:
    """SIGKILL to the connector: a host PID on netns; on docker a PID of the node's
    container, signalled from inside it."""
    if lab.backend.name == "netns":
        os.kill(pid, signal.SIGKILL)
    elif not lab.exec(node, "kill", "-KILL", str(pid), check=False).ok:
        raise FaultError(f"{node}: could not kill the connector (pid {pid} in its container)")


def _reap_group(lab: LabHandle, node: str) -> None:
    """What a supervisor does before it starts a crashed service again: kill what the
    dead process left in its process group (the connector's management sshd outlives a
    SIGKILL and keeps port 22, so a new connector could not start). Bounded: 5 s."""
    pgid = next((int(p["pid"]) for p in lab.backend.status()["processes"]
                 if p["node"] == node and p["kind"] == "connector"), None)
    if pgid is None:
        return
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if not _kill_group(lab, node, pgid):
            return  # the group is empty
        time.sleep(0.05)
    raise FaultError(f"{node}: what the killed connector left would not die")


def _kill_group(lab: LabHandle, node: str, pgid: int) -> bool:
    """SIGKILL to the group; False once it has no member left."""
    if lab.backend.name != "netns":  # inside the node's container (its own PID space)
        lab.exec(node, "kill", "-KILL", "--", f"-{pgid}", check=False)
        states = lab.exec(node, "ps", "-o", "stat=", "-g", str(pgid), check=False).stdout
        return any(not s.startswith("Z") for s in states.split())  # its agent reaps zombies
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ChildProcessError):  # our child if we brought the lab up
        os.waitpid(pgid, os.WNOHANG)
    return True


def _alive(lab: LabHandle, node: str, kind: str) -> bool:
    return any(p["node"] == node and p["kind"] == kind and p.get("alive", False)
               for p in lab.backend.status()["processes"])


def _connector_alive(lab: LabHandle, node: str) -> bool:
    return _alive(lab, node, "connector")
