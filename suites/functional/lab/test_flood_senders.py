"""The flood engine's two senders, on a real interface: every frame asked for leaves.

From workload1 of the minimal lab towards the connector: 2,000 frames with
sendmmsg, 2,000 with the PACKET_MMAP TX ring; the interface's own tx counter
says how many left, and the fabric's counter of its workloads port how many
arrived. Both bounded by count (and a 10 s duration, which they never reach).
"""

from __future__ import annotations

import json
import os
import threading
import time

import allure
import pytest

from lab.api import LabHandle
from lab.traffic.flood.in_lab import flood_argv, path_towards
from lab.traffic.flood.mmsg import PACED_BATCH
from suites.functional.connector.gwlb_helpers import wait_for

COUNT = 2000


def _counter(lab: LabHandle, node: str, iface: str, which: str) -> int:
    return int(lab.exec(node, "cat", f"/sys/class/net/{iface}/statistics/{which}").stdout)


@allure.feature("traffic")
@pytest.mark.parametrize("sender", ["mmsg", "ring"])
def test_every_frame_asked_for_leaves_and_arrives(minimal_lab: LabHandle, sender: str) -> None:
    path = path_towards(minimal_lab.backend, "workload1", "10.10.3.31")
    argv = [*flood_argv(minimal_lab.python, "ssh-attempts", path, "10.10.3.31", COUNT, 10.0),
            "--sender", sender]
    sent_before = _counter(minimal_lab, "workload1", path.iface, "tx_packets")
    seen_before = _counter(minimal_lab, "fabric", "eth-wl", "rx_packets")
    report = json.loads(minimal_lab.exec("workload1", *argv).stdout.strip().splitlines()[-1])
    assert report["frames"] == COUNT
    assert report["sender"] == sender
    assert report["ended"] == "count"
    left = _counter(minimal_lab, "workload1", path.iface, "tx_packets") - sent_before
    arrived = _counter(minimal_lab, "fabric", "eth-wl", "rx_packets") - seen_before
    assert COUNT <= left <= COUNT + 20  # + the odd ARP or ping of path_towards
    assert COUNT <= arrived <= COUNT + 20


PACED_PPS, PACED_S = 2000, 1.0


@allure.feature("traffic")
def test_a_paced_flood_never_sends_faster_than_its_rate(minimal_lab: LabHandle) -> None:
    """`--pps`: bounded by its duration, the engine sends at most the rate's worth (plus one
    batch) and, on a machine that can, about that many: the count it asks for is far
    above both, so only the pacing stops it."""
    path = path_towards(minimal_lab.backend, "workload1", "10.10.3.31")
    argv = flood_argv(minimal_lab.python, "ssh-attempts", path, "10.10.3.31", 1_000_000,
                      PACED_S, pps=PACED_PPS)
    sent_before = _counter(minimal_lab, "workload1", path.iface, "tx_packets")
    report = json.loads(minimal_lab.exec("workload1", *argv).stdout.strip().splitlines()[-1])
    left = _counter(minimal_lab, "workload1", path.iface, "tx_packets") - sent_before
    assert report["frames"] <= PACED_PPS * PACED_S + PACED_BATCH
    assert report["frames"] >= PACED_PPS * PACED_S / 2, report  # it did send, near the rate
    assert report["frames"] <= left <= report["frames"] + 20
    assert report["ended"] == "duration"


FIRST_FRAMES, STOP_BOUND_S = 1000, 20.0


@allure.feature("traffic")
def test_a_flood_ends_early_once_its_stop_file_appears(minimal_lab: LabHandle) -> None:
    """`--stop-file`: what a test's flood uses to end once what it measures is done. A
    paced flood bounded far later (20 s, a million frames) runs until the file is made
    in its node, once the interface has counted its first thousand frames (the engine's
    start is not the test's to time: under CI's load it took most of a second), then
    reports that it was stopped, long before its bounds, and every frame it reports left
    the interface."""
    path = path_towards(minimal_lab.backend, "workload1", "10.10.3.31")
    stop_file = f"/tmp/cclab-flood-stop-{os.getpid()}-{time.monotonic_ns()}"
    argv = flood_argv(minimal_lab.python, "ssh-attempts", path, "10.10.3.31", 1_000_000,
                      STOP_BOUND_S, pps=PACED_PPS, stop_file=stop_file)
    sent_before = _counter(minimal_lab, "workload1", path.iface, "tx_packets")
    out: list[str] = []
    flooding = threading.Thread(target=lambda: out.append(
        minimal_lab.exec("workload1", *argv, timeout=STOP_BOUND_S + 30).stdout))
    flooding.start()
    try:
        wait_for(lambda: _counter(minimal_lab, "workload1", path.iface, "tx_packets")
                 - sent_before >= FIRST_FRAMES, STOP_BOUND_S / 2, "the flood's first frames")
    finally:
        minimal_lab.exec("workload1", "touch", stop_file)
        flooding.join(STOP_BOUND_S + 30)
        minimal_lab.exec("workload1", "rm", "-f", stop_file)
    report = json.loads(out[0].strip().splitlines()[-1])
    left = _counter(minimal_lab, "workload1", path.iface, "tx_packets") - sent_before
    assert report["ended"] == "stopped", report
    assert report["seconds"] < STOP_BOUND_S / 2, report  # ended by the file, long before
    assert report["frames"] >= FIRST_FRAMES, report  # it was a flood first
    assert report["frames"] <= left <= report["frames"] + 20
