"""The lab flood benchmark's arithmetic (bench.bench_lab_flood.summarize): what reached the
connectors over what was sent, and the busiest node other than the sender."""

from __future__ import annotations

import pytest

from bench.bench_lab_flood import Sample, summarize

pytestmark = pytest.mark.unit


def test_carried_is_what_reached_the_connectors_over_what_was_sent() -> None:
    before = Sample({"workload1": 5, "gwlb": 100, "cc1": 10, "cc2": 20, "web": 0},
                    {"workload1": 1.0, "gwlb": 2.0, "cc1": 0.5, "cc2": 0.5, "web": 0.1},
                    softirq_s=10.0)
    after = Sample({"workload1": 6, "gwlb": 40_100, "cc1": 10_010, "cc2": 15_020, "web": 3},
                   {"workload1": 5.9, "gwlb": 5.0, "cc1": 1.0, "cc2": 0.9, "web": 0.1},
                   softirq_s=14.5)
    run = summarize(before, after, sent=50_000, seconds=5.0)
    assert run["carried"] == 0.5  # (10,000 + 15,000) / 50,000
    assert run["connectors_rx_pps"] == 5_000
    assert run["sent_pps"] == 10_000
    assert (run["busiest"], run["busiest_cpu"]) == ("gwlb", 0.6)  # not the sender's 0.98
    assert run["softirq_cpu"] == 0.9
    assert run["rx_pps"] == {"cc1": 2_000, "cc2": 3_000, "gwlb": 8_000}  # not web's 3 frames
    assert run["cpu"] == {"cc1": 0.1, "cc2": 0.08, "gwlb": 0.6, "workload1": 0.98}
