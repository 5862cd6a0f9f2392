"""Paired intervals over seeds, the ordering sentences read from them, and the convergence check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tmkt.results import convergence, tables
from tmkt.stats import cell_metrics, mean_interval, ordering, paired_difference


def seeds(values, seeds=(1, 2, 3, 4, 5)) -> pd.Series:
    return pd.Series(values, index=list(seeds)[: len(values)])


def test_paired_interval_is_the_t_interval_of_the_differences_by_hand():
    a, b = seeds([0.90, 0.92, 0.91, 0.93, 0.89]), seeds([0.88, 0.91, 0.87, 0.92, 0.88])
    diff = paired_difference(a, b, 0.95)
    d = np.array([0.02, 0.01, 0.04, 0.01, 0.01])
    half = 2.7764451 * d.std(ddof=1) / np.sqrt(5)  # t_{0.975, 4}
    assert diff.mean == pytest.approx(d.mean()) and diff.n == 5
    assert (diff.low, diff.high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert diff.verdict == "above"
    assert paired_difference(b, a, 0.95).verdict == "below"
    # it agrees with scipy's paired t-test: the interval excludes 0 exactly when p < 0.05
    assert stats.ttest_rel(a, b).pvalue < 0.05


def test_pairing_removes_the_shared_seed_spread():
    """The same +1 point on every seed is 'above' paired, although the seeds spread over 10 points."""
    base = seeds([0.80, 0.85, 0.90, 0.75, 0.88])
    diff = paired_difference(base + 0.01 + seeds([0.001, -0.001, 0.0, 0.002, -0.002]), base, 0.95)
    assert diff.verdict == "above" and diff.low > 0.005


def test_an_interval_covering_zero_is_not_distinguishable_and_says_how_many_seeds():
    diff = paired_difference(seeds([0.90, 0.85, 0.91]), seeds([0.88, 0.89, 0.90]), 0.95)
    assert diff.low < 0 < diff.high
    assert diff.verdict == "not distinguishable with 3 seeds"
    assert ordering("`tmkt`", "`he2024`", diff).startswith("`tmkt` is not distinguishable from `he2024` with 3 seeds:")


def test_only_shared_seeds_are_paired_and_two_are_needed():
    five, three = seeds([0.9, 0.9, 0.9, 0.0, 0.0]), seeds([0.8, 0.81, 0.79], seeds=(1, 2, 3))
    assert paired_difference(five, three, 0.95).n == 3
    with pytest.raises(ValueError, match="at least 2 shared seeds"):
        paired_difference(five, seeds([0.8], seeds=(9,)), 0.95)
    with pytest.raises(ValueError, match="confidence"):
        paired_difference(five, three, confidence=1.0)


def test_ordering_sentence_reports_the_interval_in_points():
    text = ordering("a", "b", paired_difference(seeds([0.92, 0.93, 0.94]), seeds([0.90, 0.90, 0.90]), 0.95))
    assert text == "a is above b: +3.0 points (95 % CI +0.5 to +5.5, paired t, 3 seeds)"


def history(curves: dict[tuple, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([dict(cell=cell, seed=seed, epoch=e + 1, val_acc=acc)
                         for (cell, seed), accs in curves.items() for e, acc in enumerate(accs)])


def test_convergence_by_hand():
    # 8 epochs: the last quarter is epochs 7-8 (q = 6)
    flat = [0.5, 0.7, 0.8, 0.85, 0.86, 0.86, 0.865, 0.862]  # +0.5 points in the last quarter
    rising = [0.5, 0.6, 0.65, 0.7, 0.72, 0.74, 0.78, 0.80]  # +6 points
    early = [0.5, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]  # best at epoch 2
    table = convergence.convergence_table(history({("a", 1): flat, ("a", 2): rising, ("b", 1): early}),
                                          ["cell", "seed"], tolerance=0.01)
    assert table["converged"].tolist() == [True, False, True]
    assert table["best_epoch"].tolist() == [7, 8, 2]
    assert table["last_quarter_from"].tolist() == [7, 7, 7]
    assert table["last_quarter_gain"].tolist() == pytest.approx([0.005, 0.06, -0.1])
    strict = convergence.convergence_table(history({("a", 1): flat}), ["cell", "seed"], tolerance=0.0)
    assert not strict["converged"].item()


def test_guards():
    with pytest.raises(ValueError, match="at least 2 epochs"):
        convergence.last_quarter_gain([0.5])
    with pytest.raises(ValueError, match="tolerance"):
        convergence.convergence_table(history({("a", 1): [0.1, 0.2]}), ["cell", "seed"], tolerance=-0.1)


def grid_runs(**tests: list[float]) -> pd.DataFrame:
    """Runs of a small grid: name -> (axis, method, fraction) and per-seed test accuracies."""
    where = {"reference": ("reference", "tmkt", 0.03), "event_only": ("method", "event_only", 0.03),
             "he2024": ("method", "he2024", 0.03), "shared": ("heads", "tmkt", 0.03),
             "event_only-1.0": ("event_ratio", "event_only", 1.0), "tmkt-1.0": ("event_ratio", "tmkt", 1.0)}
    rows = []
    for cell, accs in tests.items():
        axis, method, fraction = where[cell]
        for seed, acc in zip((1, 2, 3, 4, 5), accs):
            rows.append(dict(axis=axis, cell=cell, method=method, event_fraction=fraction, seed=seed, test_acc=acc,
                             val_acc=acc, test_acc_last=acc, train_seconds=1.0, best_epoch=3))
    return pd.DataFrame(rows)


def test_cells_are_compared_with_the_baselines_at_their_own_fraction():
    runs = grid_runs(reference=[0.90, 0.91, 0.92, 0.93, 0.94], event_only=[0.85, 0.86, 0.87, 0.88, 0.89],
                     he2024=[0.90, 0.92, 0.91, 0.94, 0.93], shared=[0.95, 0.96, 0.97],
                     **{"event_only-1.0": [0.97, 0.97, 0.98], "tmkt-1.0": [0.96, 0.97, 0.97]})
    table = tables.cell_table(runs, 0.95).set_index("cell")
    assert table.at["reference", "vs_event_only_diff"] == pytest.approx(0.05)
    assert table.at["reference", "vs_event_only_verdict"] == "above" and table.at["reference", "vs_event_only_seeds"] == 5
    assert table.at["reference", "vs_he2024_verdict"] == "not distinguishable with 5 seeds"
    assert table.at["event_only", "vs_event_only_seeds"] == 0  # not compared with itself
    assert table.at["shared", "vs_reference_seeds"] == 3 and table.at["shared", "vs_reference_verdict"] == "above"
    assert table.at["tmkt-1.0", "vs_event_only_diff"] == pytest.approx(-0.02 / 3)  # paired with event_only-1.0
    assert table.at["tmkt-1.0", "vs_he2024_seeds"] == 0  # no he2024 run at 1.0
    sentences = tables.findings(runs, 0.95)
    assert sentences[0].startswith("`tmkt` is above `event_only`: +5.0 points")
    # each pair once: he2024 against event_only, not event_only against he2024 as well
    assert sum("`he2024`" in s and "`event_only`" in s for s in sentences) == 1
    assert any(s.startswith("TMKT's `heads` cell `shared` is above the reference") for s in sentences)
    assert sentences[-1].startswith("with 100 % of the event data, `tmkt` is not distinguishable from `event_only`")
    claims = tables.paper_claims(runs, 0.95).set_index("claim")["verdict"]
    assert claims["tmkt above he2024"] == "not settled (not distinguishable with 5 seeds)"
    assert claims["tmkt above event_only"] == "reproduced" and claims["he2024 above event_only"] == "reproduced"


def test_ablation_figure_is_the_same_picture_twice_and_leaves_the_global_generator_alone(tmp_path):
    from tmkt import io
    from tmkt.plots import results as result_plots

    runs = pd.DataFrame(dict(value=["a"] * 5 + ["b"] * 5, test_acc=np.linspace(0.8, 0.9, 10)))
    pictures = []
    for caller_seed in (1, 2):  # whatever state the caller's generator is in
        np.random.seed(caller_seed)
        expected_next = np.random.random()
        np.random.seed(caller_seed)
        io.save_figure(tmp_path / f"{caller_seed}.png", result_plots.ablation_figure(runs, "a", "t", "x"))
        assert np.random.random() == expected_next  # the caller's generator state is given back
        pictures.append((tmp_path / f"{caller_seed}.png").read_bytes())
    assert pictures[0] == pictures[1]


def test_a_cells_metrics_carry_the_t_interval_of_its_mean_test_accuracy():
    runs = pd.DataFrame(dict(seed=[1, 2, 3], test_acc=[0.90, 0.92, 0.94], val_acc=[0.91, 0.93, 0.95]))
    metrics = cell_metrics(runs, 0.95)
    half = 4.3026527 * 0.02 / np.sqrt(3)  # t_{0.975, 2} s / sqrt(n)
    assert metrics["seeds"] == 3 and metrics["test_acc"]["mean"] == pytest.approx(0.92)
    assert (metrics["test_acc"]["ci_low"], metrics["test_acc"]["ci_high"]) == pytest.approx((0.92 - half, 0.92 + half))
    assert set(metrics["val_acc"]) == {"mean", "std"}
    assert mean_interval(runs["test_acc"], 0.5)[1] < metrics["test_acc"]["ci_high"]
    with pytest.raises(ValueError, match="at least 2 values"):
        mean_interval(runs["test_acc"][:1], 0.95)
