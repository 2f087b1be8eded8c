"""reports/plots.py: every benchmark picture draws its targets, where the table puts them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from matplotlib.collections import LineCollection
from matplotlib.colors import to_hex

from reports import plots

pytestmark = pytest.mark.unit

BENCH = Path(__file__).resolve().parents[3] / "reports" / "bench"


def _picture(name: str) -> Any:
    json_name, _ = plots.SOURCE.get(name, (name, None))
    return plots.PLOTS[name](json.loads((BENCH / f"{json_name}.json").read_text()))


def _target_lines(figure: Any) -> list[float]:
    """The x of every red dashed line the picture holds (axvline or vlines)."""
    red = plots.TARGET["color"]
    xs: list[float] = []
    for ax in figure.axes:
        xs += [float(line.get_xdata()[0]) for line in ax.lines
               if to_hex(line.get_color()) == red and line.get_linestyle() == "--"]
        for found in ax.collections:
            if isinstance(found, LineCollection) and any(
                    to_hex(c) == red for c in found.get_colors()):
                xs += [float(segment[0][0]) for segment in found.get_segments()]
    return xs


WITHOUT_TARGET = {"docker", "lab_flood"}  # figures with no target (reports/figures.py)


@pytest.mark.parametrize("name", sorted(set(plots.PLOTS) - WITHOUT_TARGET))
def test_each_benchmark_picture_with_a_target_draws_its_line(name: str) -> None:
    assert _target_lines(_picture(name)), f"{name}.png has no target line"


@pytest.mark.parametrize("name", sorted(WITHOUT_TARGET))
def test_a_picture_without_a_target_draws_none(name: str) -> None:
    assert _target_lines(_picture(name)) == []


def test_the_lines_sit_at_the_targets_in_the_figure_s_own_unit() -> None:
    """By hand: attack under 60 s (issue 16); lab up under 10 s; DNS at 1.0x unbound's
    median (issue #19), in q/s."""
    unbound = json.loads((BENCH / "connector.json").read_text())["dns"]["unbound_qps_median"]
    assert set(_target_lines(_picture("attack"))) == {60.0}
    assert set(_target_lines(_picture("lab"))) == {10.0}
    assert _target_lines(_picture("connector")) == [pytest.approx(1.0 * unbound)]


def test_a_docker_run_without_the_cold_bring_up_draws_the_bars_it_has() -> None:
    """`CCLAB_BENCH_COLD=0 python -m bench docker` writes no cold figure: the picture
    then has the warm and netns bars only (it failed with a KeyError before)."""
    doc = json.loads((BENCH / "docker.json").read_text())
    doc.pop("docker_cold_up_s", None)
    doc.update(docker_warm_up_median_s=4.5, netns_up_median_s=2.0)
    (ax,) = plots.docker(doc).axes
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == ["docker warm", "netns (reference)"]
    assert sorted(round(bar.get_width(), 2) for bar in ax.patches) == [2.0, 4.5]
