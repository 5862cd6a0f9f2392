"""Figures read at a glance: log axes labelled in plain decimals, and accuracy-energy labels that do not overlap.

Drawn with matplotlib's Agg backend on small synthetic tables; the labels are read after drawing, as a reader sees
them.
"""

from __future__ import annotations

import itertools
import re

import matplotlib.pyplot as plt
from matplotlib.text import Text
import numpy as np
import pandas as pd
import pytest

from tmkt import config
from tmkt.plots import mechanism, results
from tmkt.plots.style import plain_log_axis, plain_number, save_shown, within_unit

plt.switch_backend("Agg")

PLAIN = re.compile(r"^\d+(\.\d+)?$")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def tick_labels(ax, which: str = "x", minor: bool = False) -> list[str]:
    """The non-empty tick labels of one axis inside its limits, after drawing."""
    ax.figure.canvas.draw()
    axis = ax.xaxis if which == "x" else ax.yaxis
    low, high = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    ticks = axis.get_minor_ticks() if minor else axis.get_major_ticks()
    locs = axis.get_minorticklocs() if minor else axis.get_majorticklocs()
    return [t.label1.get_text() for t, loc in zip(ticks, locs)
            if low <= loc <= high and t.label1.get_visible() and t.label1.get_text()]


def assert_plain(ax, which: str) -> list[str]:
    labels = tick_labels(ax, which)
    assert labels, "no labelled major tick"
    assert [t for t in labels if not PLAIN.match(t)] == []
    assert tick_labels(ax, which, minor=True) == []
    return labels


def test_plain_number_never_writes_a_power():
    assert [plain_number(v) for v in (0.0001, 3.0000000000000004, 250.0, 0.5)] == ["0.0001", "3", "250", "0.5"]


@pytest.mark.parametrize("span", [(1.5, 40.0), (1.2, 1.9), (0.0003, 0.0008)])
def test_a_log_axis_labels_plain_major_ticks_and_no_minor_ones(span):
    fig, ax = plt.subplots()
    ax.plot(span, [0, 1])
    plain_log_axis(ax, "x")
    assert ax.get_xscale() == "log"
    values = [float(t) for t in assert_plain(ax, "x")]
    if span[1] >= 10 * span[0]:
        assert values == [10.0]  # the one decade inside
    else:
        assert len(values) >= 1 and all(span[0] <= v <= span[1] for v in values)


def test_given_ticks_are_the_major_ticks():
    fig, ax = plt.subplots()
    ax.plot([1, 30], [0, 1])
    plain_log_axis(ax, "x", ticks=[1, 3, 10, 30])
    assert assert_plain(ax, "x") == ["1", "3", "10", "30"]


def test_the_event_ratio_figure_labels_its_fractions_plainly():
    runs = pd.DataFrame([dict(method=m, event_fraction=f, test_acc=0.5 + f / 3 + 0.01 * s, seed=s)
                         for m in ("tmkt", "event_only") for f in (0.03, 0.1, 0.3, 1.0) for s in range(3)])
    fig = results.ratio_curve_figure(runs)
    assert assert_plain(fig.axes[0], "x") == ["3", "10", "30", "100"]


@pytest.mark.parametrize("variances", [(0.2, 0.5, 0.3, 0.7), (0.01, 2.0, 0.05, 5.0)])
def test_the_gradient_variance_figure_labels_its_log_axis_plainly(variances):
    table = pd.DataFrame(dict(r_m=[0.1, 0.1, 0.5, 0.5], strategy=["timestep", "sample"] * 2,
                              grad_variance=variances))
    fig = mechanism.gradient_variance_figure(table)
    assert fig.axes[0].get_yscale() == "log"
    assert_plain(fig.axes[0], "y")


def energy_table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` cells crowded together (accuracies within a point, energies within 10 %)."""
    methods = ["tmkt", "he2024", "event_only", "joint"]
    return pd.DataFrame(dict(
        label=[f"{methods[i % 4]}-cell-{i}" for i in range(n)], method=[methods[i % 4] for i in range(n)],
        energy_uj_mean=rng.uniform(1.0, 1.1, n), energy_uj_std=0.02, test_acc_mean=rng.uniform(0.80, 0.81, n),
        test_acc_std=0.01, ann_energy_uj_mean=3.0))


@pytest.mark.parametrize("n", [2, 6, 12])
def test_accuracy_energy_labels_do_not_overlap_and_stay_in_the_figure(n):
    fig = results.accuracy_energy_figure(energy_table(n, np.random.default_rng(n)), config.section("energy"))
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text().startswith(("tmkt", "he2024", "event_only", "joint"))]
    assert len(texts) == n
    boxes = [Text.get_window_extent(t, renderer) for t in texts]  # the text alone, not its line to the point
    assert [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(enumerate(boxes), 2)
            if box_a.overlaps(box_b)] == []
    figure_box = fig.bbox
    assert all(figure_box.x0 <= b.x0 and b.x1 <= figure_box.x1 and figure_box.y0 <= b.y0 and b.y1 <= figure_box.y1
               for b in boxes)
    assert_plain(ax, "x")


def test_within_unit_shifts_as_little_as_needed():
    assert within_unit([0.2, 0.5]) == [0.2, 0.5]
    assert within_unit([-0.1, 0.3]) == pytest.approx([0.0, 0.4])
    assert within_unit([0.8, 1.2]) == pytest.approx([0.6, 1.0])


def test_save_shown_writes_the_png(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = save_shown(tmp_path, fig, "line")
    assert path == tmp_path / "line.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_budget_figure_labels_its_lengths_plainly():
    import importlib.util

    from tmkt import layout

    spec = importlib.util.spec_from_file_location("budget", layout.ROOT / "studies/budget.py")
    budget = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(budget)
    lengths = (10, 20, 40, 75)
    summary = pd.DataFrame([dict(method=m, epochs=e, best_val_acc=0.5 + e / 200) for m in budget.METHODS
                            for e in lengths])
    curves = pd.DataFrame([dict(method=m, epochs=40, epoch=k, val_acc=0.5 + k / 100) for m in budget.METHODS
                           for k in range(1, 41)])
    fig = budget.budget_figure(curves, summary, 40)
    assert assert_plain(fig.axes[0], "x") == ["10", "20", "40", "75"]
