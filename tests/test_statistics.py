"""Paired intervals over seeds, the ordering sentences read from them, and the convergence check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tmkt import config, grid
from tmkt.results import convergence, tables
from tmkt.stats import (summarize, PairedDifference, cell_metrics, detectable_difference, family_sentence, family_table, holm,
                        mean_interval, ordering, paired_difference)


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


def grid_params():
    raw = config.load().model_dump()
    raw["ablate"] |= dict(method=["event_only", "he2024"], control=[], schedule={"methods": [], "schedules": []},
                          variant={"shared": {"model": {"heads": "shared"}}},
                          event_ratio={"methods": ["event_only", "tmkt"], "fractions": [1.0]})
    return config.parse(raw)


def grid_runs(**tests: list[float]) -> pd.DataFrame:
    """Runs of the small grid of :func:`grid_params`: cell name -> per-seed test accuracies."""
    cells = {c.name: c for c in grid.with_reference(grid_params())}
    rows = []
    for name, accs in tests.items():
        c = cells[name]
        for seed, acc in zip((1, 2, 3, 4, 5), accs):
            rows.append(dict(axis=c.axis, cell=c.name, label=c.label, method=c.method, event_fraction=c.event_fraction,
                             seed=seed, test_acc=acc, val_acc=acc, test_acc_last=acc, train_seconds=1.0, best_epoch=3))
    return pd.DataFrame(rows)


def test_the_comparison_family_pairs_cells_at_their_own_fraction_and_corrects_them_together():
    runs = grid_runs(reference=[0.90, 0.91, 0.92, 0.93, 0.94], event_only=[0.85, 0.86, 0.87, 0.88, 0.89],
                     he2024=[0.90, 0.92, 0.91, 0.94, 0.93], shared=[0.95, 0.96, 0.97],
                     **{"event_only-1.0": [0.97, 0.97, 0.98], "tmkt-1.0": [0.96, 0.97, 0.97]})
    family = tables.comparison_table(runs, grid_params()).set_index("comparison")
    assert list(family.index) == ["tmkt − event_only", "he2024 − event_only", "tmkt − he2024", "shared − tmkt",
                                  "tmkt at 100 % − event_only at 100 %"]
    assert family.at["tmkt − event_only", "diff"] == pytest.approx(0.05) and family.at["tmkt − event_only", "n"] == 5
    assert family.at["tmkt − event_only", "verdict"] == "above"  # the same +5 on every seed survives Holm
    assert family.at["tmkt − he2024", "verdict"] == "not distinguishable"
    assert family.at["shared − tmkt", "n"] == 3  # paired over the seeds both ran
    assert family.at["tmkt at 100 % − event_only at 100 %", "diff"] == pytest.approx(-0.02 / 3)  # at its own fraction
    # Holm: the adjusted p is never below the raw one, and the family is larger than any one comparison
    assert (family["p_holm"] >= family["p"] - 1e-15).all() and (family["divisor"].max() == len(family))
    sentences = tables.findings(family.reset_index())
    assert sentences[0].startswith("`tmkt` is above `event_only`: +5.0 points")
    assert len(sentences) == len(family) and "detects a difference of" in sentences[2]
    claims = tables.paper_claims(family.reset_index()).set_index("claim")["verdict"]
    assert claims["tmkt above he2024"].startswith("not settled (detectable: ")
    assert claims["tmkt above event_only"] == "reproduced" and claims["he2024 above event_only"] == "reproduced"


def test_the_family_on_converged_runs_pairs_only_seeds_where_both_runs_converged():
    runs = grid_runs(reference=[0.90, 0.91, 0.92, 0.93, 0.94], event_only=[0.85, 0.86, 0.87, 0.88, 0.89],
                     he2024=[0.90, 0.92, 0.91, 0.94, 0.93], shared=[0.95, 0.96, 0.97],
                     **{"event_only-1.0": [0.97, 0.97, 0.98], "tmkt-1.0": [0.96, 0.97, 0.97]})
    per_run = runs[["axis", "cell", "seed"]].assign(converged=True)
    stalled = (per_run["cell"] == "reference") & per_run["seed"].isin([1, 2])  # still learning at seeds 1 and 2
    # shared ran seeds 1-3 only, so it keeps one converged pair with the reference
    family = tables.converged_comparison_table(runs, per_run.assign(converged=~stalled), grid_params())
    family = family.set_index("comparison")
    assert family.at["tmkt − event_only", "n"] == 3 and family.at["tmkt − he2024", "n"] == 3
    assert family.at["he2024 − event_only", "n"] == 5 and family.at["tmkt − event_only", "diff"] == pytest.approx(0.05)
    assert family.at["shared − tmkt", "n"] == 1 and family.at["shared − tmkt", "verdict"] == "fewer than 2 converged pairs"
    assert np.isnan(family.at["shared − tmkt", "diff"]) and family["divisor"].max() == len(family) - 1  # Holm over 4
    readable = tables.readable_comparisons(family.reset_index()).set_index("comparison")
    assert readable.at["shared − tmkt", "Holm-adjusted CI"] == "—"
    none = tables.readable_comparisons(tables.converged_comparison_table(runs, per_run.assign(converged=False),
                                                                         grid_params()))
    assert set(none["verdict"]) == {"fewer than 2 converged pairs"} and set(none["difference (points)"]) == {"—"}
    everything = tables.converged_comparison_table(runs, per_run, grid_params())
    pd.testing.assert_frame_equal(everything, tables.comparison_table(runs, grid_params()))  # all converged: the family


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


def test_holm_by_hand():
    adjusted, divisor = holm([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert divisor.tolist() == [3, 1, 2, 4]
    adjusted, divisor = holm([0.02, 0.02])  # a tie: the first in input order is tested first
    assert divisor.tolist() == [2, 1] and adjusted == pytest.approx([0.04, 0.04])
    assert holm([0.6, 0.7])[0] == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.3])[0] == pytest.approx([0.3]) and holm([])[0].size == 0
    with pytest.raises(ValueError, match="p-values"):
        holm([0.1, float("nan")])


def test_holm_is_monotone_in_the_raw_p_values_and_never_below_them():
    p = np.random.default_rng(0).uniform(0, 0.2, size=12)
    adjusted, divisor = holm(p)
    order = np.argsort(p)
    assert np.all(np.diff(adjusted[order]) >= 0)
    assert np.all(adjusted >= p) and np.all(adjusted <= 1)
    assert sorted(divisor.tolist()) == list(range(1, 13)) and divisor[order].tolist() == list(range(12, 0, -1))
    # the step-down procedure run literally: reject in p order until the first step that fails
    rejected = np.zeros(12, bool)
    for k, i in enumerate(order):
        if p[i] >= 0.05 / (12 - k):
            break
        rejected[i] = True
    assert (adjusted < 0.05).tolist() == rejected.tolist()


def test_the_paired_p_value_is_scipys_paired_t_test():
    rng = np.random.default_rng(1)
    for n in (2, 3, 5, 10):
        a, b = seeds(rng.normal(0.9, 0.02, n), seeds=range(n)), seeds(rng.normal(0.89, 0.02, n), seeds=range(n))
        diff = paired_difference(a, b, 0.95)
        assert diff.p == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-10)
        assert diff.sd == pytest.approx((a - b).std(ddof=1))
        assert (diff.p < 0.05) == (diff.verdict in ("above", "below"))  # the interval is the test's dual
    same = seeds([0.9, 0.8, 0.7])
    assert paired_difference(same + 0.01, same, 0.95).p == 0.0  # zero spread, nonzero mean
    assert paired_difference(same, same, 0.95).p == 1.0
    assert np.isnan(PairedDifference(0.01, 0.0, 0.02, 5, 0.95).p)  # the old five-field form still works


def test_detectable_difference_has_the_asked_power():
    sd, n, alpha = 0.01, 10, 0.05
    delta = detectable_difference(sd, n, alpha)
    # the textbook power of the two-sided paired t-test, written out independently
    crit, ncp = stats.t.ppf(1 - alpha / 2, n - 1), delta * np.sqrt(n) / sd
    assert 1 - stats.nct.cdf(crit, n - 1, ncp) + stats.nct.cdf(-crit, n - 1, ncp) == pytest.approx(0.8, abs=1e-6)
    # and by simulation: normal differences with mean delta are rejected about 80 % of the time
    d = np.random.default_rng(2).normal(delta, sd, size=(40_000, n))
    t = d.mean(1) / (d.std(1, ddof=1) / np.sqrt(n))
    assert np.mean(np.abs(t) > crit) == pytest.approx(0.8, abs=0.01)
    sizes = [detectable_difference(sd, k, alpha) for k in (2, 3, 5, 10, 30)]
    assert all(a > b for a, b in zip(sizes, sizes[1:]))  # shrinks with the number of seeds
    assert detectable_difference(sd, n, alpha / 4) > delta  # a stricter level needs a larger difference
    assert detectable_difference(2 * sd, n, alpha) == pytest.approx(2 * delta)
    assert detectable_difference(sd, 2, 0.005) > 0  # finite even where scipy's lower tail of nct is nan
    assert detectable_difference(0.0, n, alpha) == 0.0
    assert np.isnan(detectable_difference(float("nan"), n, alpha)) and np.isnan(detectable_difference(sd, 1, alpha))


def with_p(p: float, sign: int = 1, n: int = 10, sd: float = 0.01) -> PairedDifference:
    """A paired difference over ``n`` seeds whose paired-t p-value is ``p``."""
    mean = sign * stats.t.isf(p / 2, n - 1) * sd / np.sqrt(n)
    return PairedDifference(mean, float("nan"), float("nan"), n, 0.95, sd, p)


def test_family_table_verdicts_follow_holm_and_the_adjusted_interval_its_own_step():
    # m = 4, alpha = 0.05: steps at 0.0125, 0.0167, 0.025, 0.05. 0.001 and 0.002 are rejected, 0.03 fails its step
    # (0.025) and Holm stops there, so 0.04 is kept although its own step (0.05) would reject it.
    diffs = {"up": with_p(0.001), "down": with_p(0.002, -1), "middle": with_p(0.03, -1), "last": with_p(0.04)}
    table = family_table(diffs, 0.95)
    assert table["comparison"].tolist() == list(diffs)
    assert table["p_holm"].tolist() == pytest.approx([0.004, 0.006, 0.06, 0.06])
    assert table["divisor"].tolist() == [4, 3, 2, 1]
    assert table["verdict"].tolist() == ["above", "below", "not distinguishable", "not distinguishable"]
    excludes_zero = (table["adj_low"] > 0) | (table["adj_high"] < 0)
    own_step = table["p"] < 0.05 / table["divisor"]
    assert excludes_zero.tolist() == own_step.tolist() == [True, True, False, True]
    holm_rejects = table["p_holm"] < 0.05
    assert (table["verdict"] != "not distinguishable").tolist() == holm_rejects.tolist()
    assert not (holm_rejects & ~excludes_zero).any()  # a Holm rejection always has an interval that excludes 0
    # the unadjusted interval is the plain t-interval at 95 %: it excludes 0 for all four
    assert ((table["low"] > 0) | (table["high"] < 0)).all()
    assert table["detectable"].tolist() == pytest.approx(
        [detectable_difference(0.01, 10, 0.05 / k) for k in (4, 3, 2, 1)])
    assert family_table(list(diffs.items()), 0.95).equals(table)
    with pytest.raises(ValueError, match="sd and p-value"):
        family_table({"old": PairedDifference(0.01, 0.0, 0.02, 5, 0.95)}, 0.95)


def test_family_table_from_seeds_agrees_with_paired_difference():
    a, b = seeds([0.90, 0.92, 0.91, 0.93, 0.89]), seeds([0.88, 0.91, 0.87, 0.92, 0.88])
    diff = paired_difference(a, b, 0.95)
    row = family_table({"a - b": diff}, 0.95).iloc[0]  # a family of one: Holm is the plain test
    assert (row["low"], row["high"]) == pytest.approx((diff.low, diff.high))
    assert (row["adj_low"], row["adj_high"]) == pytest.approx((diff.low, diff.high))
    assert row["p_holm"] == pytest.approx(diff.p) and row["verdict"] == diff.verdict == "above"


def test_family_sentences_name_the_family_level_and_the_detectable_difference():
    row = dict(diff=0.012, adj_low=0.003, adj_high=0.021, p_holm=0.004, n=10, verdict="above", confidence=0.95,
               detectable=0.01)
    assert family_sentence("`tmkt`", "`he2024`", row) == (
        "`tmkt` is above `he2024`: +1.2 points (Holm-adjusted 95 % family-wise: CI +0.3 to +2.1, p = 0.004; "
        "paired t, 10 seeds)")
    # alpha = 0.1, m = 4: steps 0.025, 0.033, 0.05, 0.1; 0.04 fails the second, so 0.045 is kept (its own step passes)
    table = family_table({"up": with_p(0.001), "flat": with_p(0.4), "stop": with_p(0.04), "late": with_p(0.045)}, 0.9)
    flat = family_sentence("`tmkt`", "`he2024`", table.iloc[1])
    assert flat.startswith("`tmkt` is not distinguishable from `he2024` with 10 seeds: +")
    assert "Holm-adjusted 90 % family-wise" in flat
    assert flat.endswith(f"detects a difference of {100 * table.at[1, 'detectable']:.1f} points with 80 % power")
    assert "stopped at an earlier comparison" not in flat
    late = family_sentence("a", "b", table.iloc[3])
    assert "not distinguishable" in late and "stopped at an earlier comparison" in late


def test_forest_figure_has_one_labelled_row_per_comparison():
    import matplotlib.pyplot as plt

    from tmkt.plots import results as result_plots

    plt.switch_backend("Agg")
    names = ["tmkt − event_only", "tmkt − he2024", "he2024 − event_only at 100 % of the event data", "x − y"]
    table = family_table(dict(zip(names, [with_p(0.001), with_p(0.3), with_p(0.01, -1), with_p(0.9)])), 0.95)
    fig = result_plots.forest_figure(table, "a family")
    ax = fig.axes[0]
    fig.canvas.draw()
    labels = [t for t in ax.get_yticklabels() if t.get_text()]
    assert sorted(t.get_text() for t in labels) == sorted(names)
    boxes = [t.get_window_extent() for t in labels]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert len(fig.legends[0].get_texts()) == 4
    taller = result_plots.forest_figure(pd.concat([table] * 3, ignore_index=True))
    assert taller.get_figheight() > fig.get_figheight()
    plt.close("all")


def test_summary_keeps_a_group_whose_key_is_missing():
    runs = pd.DataFrame(dict(cell=["a", "a", "b", "b"], fraction=[0.1, 0.1, None, None], test_acc=[0.5, 0.7, 0.6, 0.8]))
    table = summarize(runs, by=["cell", "fraction"])
    assert list(table["cell"]) == ["a", "b"] and table["test_acc_mean"].tolist() == pytest.approx([0.6, 0.7])
