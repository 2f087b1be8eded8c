"""DNS answered in the kernel (`runtime.dns_fast_path`), in the DNS benchmark's lab.

bench/topologies/dns-bench.yaml: a client (inside the connectors' `dns_exempt`),
cc1 with the fast path, cc2 without, side by side. A question asked again is
answered by cc1's routed program, and each answer is still logged and counted by
cc1's user space: the counts expected come from the queries sent (each name once
to user space, then to the kernel), the log from the lines user space wrote for
the first asking, the answer from cc2's user space and dig's reading.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import allure
import pytest

from lab.api import LabHandle, bring_up
from lab.events import Mark
from suites.fixtures.lab import unique_instance
from suites.functional.connector.gwlb_helpers import wait_for

pytestmark = [pytest.mark.netns, pytest.mark.usefixtures("lab_capable")]

TOPOLOGY = Path(__file__).resolve().parents[3] / "bench" / "topologies" / "dns-bench.yaml"
KERNEL_CC, USER_CC = "10.10.3.31", "10.10.3.32"
METRICS = "http://10.10.2.21:9100/metrics"  # cc1's management address


@pytest.fixture(scope="module")
def dns_lab(lab_capable: None) -> Iterator[LabHandle]:
    lab = bring_up(TOPOLOGY, instance=unique_instance("pt-dnsk"))
    try:
        wait_for(lambda: "ANSWER: 1" in dig(lab, KERNEL_CC, "ready.bench.example")
                 and "ANSWER: 1" in dig(lab, USER_CC, "ready.bench.example"), 20,
                 "both connectors answering")
        yield lab
    finally:
        lab.down()


def dig(lab: LabHandle, server: str, name: str, *options: str) -> str:
    return lab.exec("client", "dig", "+tries=1", "+time=2", *options, f"@{server}", name, "A",
                    check=False).stdout


def kernel_metrics(lab: LabHandle) -> dict[str, float]:
    text = lab.exec("fabric", "curl", "-s", "-m", "3", METRICS).stdout
    found = re.findall(r"^cclab_connector_(dns_fast_path_\w+)_total (\S+)$", text, re.M)
    return {name: float(value) for name, value in found}


def answer_lines(lab: LabHandle, mark: Mark, name: str) -> list[dict[str, object]]:
    """cc1's `dns.query` lines for `name` written after `mark`, without their times."""
    return [{k: v for k, v in e.items() if k != "ts"}
            for e in lab.events("cc1", "dns.query", after=mark) if e.get("qname") == name]


def _answer(dig_output: str) -> tuple[str, list[str]]:
    """dig's flags line and answer section."""
    flags = re.search(r";; flags: ([^;]*);", dig_output)
    section = re.search(r";; ANSWER SECTION:\n(.*?)\n\n", dig_output, re.S)
    assert flags is not None, dig_output
    assert section is not None, dig_output
    return flags.group(1), section.group(1).split("\n")


@allure.feature("DNS fast path")
@allure.story("a question asked again is answered by the kernel, logged by user space")
def test_a_question_asked_again_is_answered_by_the_kernel_and_logged_as_the_first(
        dns_lab: LabHandle) -> None:
    name = f"k{uuid.uuid4().hex[:8]}.bench.example"
    before = kernel_metrics(dns_lab)
    mark = dns_lab.mark()
    first = dig(dns_lab, KERNEL_CC, name, "+noedns")
    wait_for(lambda: kernel_metrics(dns_lab).get("dns_fast_path_offered", 0)
             == before.get("dns_fast_path_offered", 0) + 1, 5, "cc1 offering the answer")
    again = dig(dns_lab, KERNEL_CC, name, "+noedns")
    wait_for(lambda: kernel_metrics(dns_lab).get("dns_fast_path_answered", 0)
             == before.get("dns_fast_path_answered", 0) + 1, 5,
             "cc1's kernel answering, its record drained")
    assert _answer(again) == _answer(first)
    flags, records = _answer(again)
    assert flags == "qr rd ra"
    assert len(records) == 1
    assert re.fullmatch(rf"{re.escape(name)}\.\s+60\s+IN\s+A\s+10\.254\.\d+\.\d+", records[0])
    user = _answer(dig(dns_lab, USER_CC, name, "+noedns"))  # user space's answer, for shape
    assert user[0] == flags
    assert re.sub(r"[\d.]+$", "", user[1][0]) == re.sub(r"[\d.]+$", "", records[0])
    wait_for(lambda: len(answer_lines(dns_lab, mark, name)) == 2, 5, "two log lines")
    one, two = answer_lines(dns_lab, mark, name)
    assert one == two
    assert (one["outcome"], one["answered"], one["src"]) == ("answer-synthetic", True,
                                                             "10.10.1.11")


@allure.feature("DNS fast path")
@allure.story("a query with EDNS is user space's")
def test_a_query_with_edns_is_answered_by_user_space(dns_lab: LabHandle) -> None:
    name = f"e{uuid.uuid4().hex[:8]}.bench.example"
    mark = dns_lab.mark()
    before = kernel_metrics(dns_lab)
    answers = [dig(dns_lab, KERNEL_CC, name) for _ in range(3)]  # dig asks with EDNS
    assert all("ANSWER: 1" in a for a in answers), answers
    wait_for(lambda: len(answer_lines(dns_lab, mark, name)) == 3, 5, "three lines")
    after = kernel_metrics(dns_lab)
    for counter in ("dns_fast_path_offered", "dns_fast_path_answered"):
        assert after.get(counter, 0) == before.get(counter, 0), counter


@allure.feature("DNS fast path")
@allure.story("every answer the kernel gives is logged")
def test_every_answer_of_a_burst_is_logged_the_first_by_user_space_the_rest_by_the_kernel(
        dns_lab: LabHandle) -> None:
    """dnsperf asks 200 new names three times over: the first round user space answers
    and offers, the next two the kernel answers (a name's two mostly drained together);
    600 lines, 400 answers drained."""
    tag = uuid.uuid4().hex[:6]
    names = [f"b{tag}-{i}.bench.example" for i in range(200)]
    queries = dns_lab.run_dir / f"burst-{tag}.txt"
    queries.write_text("".join(f"{n} A\n" for n in names))
    before = kernel_metrics(dns_lab)
    mark = dns_lab.mark()
    out = dns_lab.exec("client", "dnsperf", "-s", KERNEL_CC, "-d", str(queries), "-n", "3",
                       "-c", "1", "-q", "1", "-t", "2", timeout=60).stdout
    assert re.search(r"Queries completed:\s+600 ", out), out
    wanted = set(names)

    def lines() -> int:
        return sum(e.get("qname") in wanted
                   for e in dns_lab.events("cc1", "dns.query", after=mark))
    wait_for(lambda: lines() == 600, 5, "a line for each of the 600 answers")
    after = kernel_metrics(dns_lab)
    assert after["dns_fast_path_offered"] - before.get("dns_fast_path_offered", 0) == 200
    assert after["dns_fast_path_answered"] - before.get("dns_fast_path_answered", 0) == 400
