"""`cclab status`, `exec` and `capture` on a running lab, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scapy.layers.inet import ICMP, IP
from scapy.utils import rdpcap

from lab.api import LabHandle
from suites.functional.lab.cli_helpers import cclab

# Tier: from the minimal_lab fixture (netns and docker).


def test_status_json_lists_every_node_with_addresses(minimal_lab: LabHandle) -> None:
    result = cclab("status", "--name", minimal_lab.instance, "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    nodes = {n["name"]: n for n in status["nodes"]}
    assert set(nodes) == {"workload1", "workload2", "fabric", "cc1", "inet", "web", "dns", "dns2"}
    cc1 = {i["name"]: i["address"] for i in nodes["cc1"]["interfaces"]}
    assert cc1 == {"eth-svc": "10.10.3.31/24", "eth-mgmt": "10.10.2.21/24"}
    assert status["ready"] is True
    assert all(p["alive"] for p in status["processes"])


def test_status_names_the_process_that_runs_after_a_restart(minimal_lab: LabHandle) -> None:
    """A restarted service has a new pid: `cclab status` names it (a fault that signals
    the connector, a scenario's kill, finds it), and it is the connector in the node."""
    def connector_pid() -> int:
        result = cclab("status", "--name", minimal_lab.instance, "--json")
        assert result.returncode == 0, result.stderr
        found = [p for p in json.loads(result.stdout)["processes"]
                 if (p["node"], p["kind"]) == ("cc1", "connector")]
        assert len(found) == 1, found
        assert found[0]["alive"], found
        return int(found[0]["pid"])

    before = connector_pid()
    mark = minimal_lab.mark()
    minimal_lab.restart_service("cc1", "connector")
    minimal_lab.wait_event("cc1", "service.ready", after=mark)
    after = connector_pid()
    assert after != before, "the restarted connector has a new process"
    command = minimal_lab.exec("cc1", "cat", f"/proc/{after}/cmdline").stdout
    assert "connector" in command.replace("\0", " "), command


def test_exec_runs_in_the_node_and_passes_the_exit_code(minimal_lab: LabHandle) -> None:
    shown = cclab("exec", "workload1", "--name", minimal_lab.instance, "--", "ip", "-br", "addr")
    assert shown.returncode == 0
    assert "10.10.1.11/24" in shown.stdout
    failed = cclab("exec", "workload1", "--name", minimal_lab.instance, "--", "false")
    assert failed.returncode == 1


def test_exec_unknown_node_says_so(minimal_lab: LabHandle) -> None:
    result = cclab("exec", "nosuch", "--name", minimal_lab.instance, "--", "true")
    assert result.returncode == 1
    assert "node 'nosuch'" in result.stderr


def test_capture_writes_a_pcap_of_the_interface(minimal_lab: LabHandle, tmp_path: Path) -> None:
    pcap = tmp_path / "fabric.pcap"
    cap = subprocess.Popen([sys.executable, "-m", "lab.cli", "capture", "fabric", "eth-wl",
                            "-o", str(pcap), "--duration", "2", "--name", minimal_lab.instance],
                           stderr=subprocess.PIPE, text=True)
    try:
        # The CLI says "capturing" only once tcpdump is listening.
        assert "capturing fabric/eth-wl" in (cap.stderr.readline() if cap.stderr else "")
        minimal_lab.exec("workload1", "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.10.1.1")
    finally:
        cap.wait(timeout=10)
    echoes = [p for p in rdpcap(str(pcap)) if ICMP in p and p[ICMP].type == 8]
    assert [p[IP].src for p in echoes] == ["10.10.1.11", "10.10.1.11"]
