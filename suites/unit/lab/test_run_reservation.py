"""What a lab holds in its run folder (lab.backends.run_reservation), on a real folder and
real flock: its own share, the others', nothing from a torn file or a refused choice, and
two labs taking at once never get one share."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.backends.run_reservation import RunReservation
from lab.conntrack_zones import free_block

pytestmark = pytest.mark.unit


def _parse(text: str) -> range:
    first, count = (int(x) for x in text.split())
    return range(first, first + count)


def blocks(root: Path) -> RunReservation[range]:
    return RunReservation("ct-zones", _parse, lambda r: f"{r.start} {len(r)}", root)


def first_free(count: int, pause_s: float = 0.0) -> Callable[[list[range]], range]:
    def choose(taken: list[range]) -> range:
        time.sleep(pause_s)  # between reading the others and writing its own
        chosen = free_block(count, taken)
        if chosen is None:
            raise LookupError("none free")
        return chosen
    return choose


def test_a_lab_holds_what_it_took_and_sees_only_the_others(tmp_path: Path) -> None:
    res = blocks(tmp_path)
    assert res.take("lab-a", first_free(3)) == range(1, 4)
    assert res.take("lab-b", first_free(2)) == range(4, 6)
    assert (tmp_path / "lab-a" / "ct-zones").read_text() == "1 3\n"
    assert res.held("lab-a") == range(1, 4)
    assert res.others("lab-a") == [range(4, 6)]
    assert res.held("lab-c") is None


def test_a_torn_file_holds_nothing_and_a_refused_choice_writes_nothing(tmp_path: Path) -> None:
    res = blocks(tmp_path)
    (tmp_path / "lab-a").mkdir()
    (tmp_path / "lab-a" / "ct-zones").write_text("1")
    assert res.held("lab-a") is None
    assert res.others("lab-b") == []

    def refuse(taken: list[range]) -> range:
        raise LookupError("none free")
    with pytest.raises(LookupError):
        res.take("lab-b", refuse)
    assert not (tmp_path / "lab-b").exists()


def _take_in_a_process(root: str, instance: str) -> None:
    blocks(Path(root)).take(instance, first_free(4, pause_s=0.3))


def test_two_labs_taking_at_once_never_share_a_block(tmp_path: Path) -> None:
    """Each chooser waits 0.3 s between reading and writing: without the lock both read
    nothing taken and both write zones 1-4."""
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_take_in_a_process, args=(str(tmp_path), f"lab-{i}"))
               for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
        assert w.exitcode == 0
    res = blocks(tmp_path)
    held = sorted((res.held(f"lab-{i}") for i in range(2)), key=lambda r: r.start if r else 0)
    assert held == [range(1, 5), range(5, 9)]
