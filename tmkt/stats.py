"""Summaries over seeds: mean ± sample standard deviation (ddof = 1), never a single best seed, and paired
differences between two configurations with a confidence interval.

**Paired difference.** Two configurations trained with the same seed share their initial weights and their
batches (``tmkt.training.loop``), so they are compared seed by seed: for the ``n`` seeds both ran, ``d_i = a_i - b_i``,

    d_bar = mean_i d_i,   s_d = std_i d_i (ddof = 1),   CI = d_bar ± t_{(1+c)/2, n-1} s_d / sqrt(n)

(Student's t-interval of the mean paired difference, confidence ``c`` = ``base.confidence``). The verdict reads the
interval only: ``above`` when it lies entirely above 0, ``below`` when entirely below, else ``not
distinguishable with n seeds``. Every sentence of the compendium that orders two configurations comes from
:func:`ordering`.

**Families of comparisons.** Several comparisons read together are corrected with Holm's step-down procedure
(:func:`holm`, :func:`family_table`): sorted p-values ``p_(1) <= ... <= p_(m)``, the k-th is tested at level
``alpha / (m - k + 1)`` while every earlier step rejected, which keeps the family-wise error rate at ``alpha =
1 - c``. A comparison that is not distinguishable also reports the difference its design detects with 80 % power
(:func:`detectable_difference`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

#: Per-run metrics summarised over seeds where present (accuracies are fractions in [0, 1]; operations and energy
#: per test recording, tmkt.results.energy).
SUMMARISED = ("val_acc", "test_acc", "test_acc_last", "train_seconds", "synops", "energy_uj", "ann_energy_uj")


def summarize(runs: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Mean, std and count of :data:`SUMMARISED` over the rows of ``runs`` (grouped by ``by`` if given)."""
    cols = [c for c in SUMMARISED if c in runs]
    groups = runs[by + cols].groupby(by, sort=False, dropna=False) if by else runs[cols].groupby(lambda _: 0)
    table = groups.agg(["mean", "std", "count"])
    table.columns = [f"{c}_{stat}" for c, stat in table.columns]
    return table.reset_index(drop=not by)


def mean_interval(values: pd.Series, confidence: float) -> tuple[float, float]:
    """Student's t-interval of the mean of ``n >= 2`` values: ``mean ± t_{(1+c)/2, n-1} s / sqrt(n)``."""
    n = len(values)
    if n < 2:
        raise ValueError(f"an interval needs at least 2 values, got {n}")
    half = stats.t.ppf((1 + confidence) / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return float(values.mean() - half), float(values.mean() + half)


def cell_metrics(runs: pd.DataFrame, confidence: float) -> dict:
    """A cell's ``metrics.json``, what ``dvc metrics show`` and ``dvc exp show`` list: its number of seeds; over
    them, the mean, std and t-interval (``confidence``) of the test accuracy at the best-validation epoch, and the
    mean and std of that validation accuracy (fractions). Per-seed values and the rest are in ``runs.csv``."""
    test, val = runs["test_acc"], runs["val_acc"]
    low, high = mean_interval(test, confidence) if len(runs) > 1 else (float("nan"), float("nan"))
    return {
        "seeds": int(len(runs)),
        "test_acc": {"mean": float(test.mean()), "std": float(test.std()), "ci_low": low, "ci_high": high},
        "val_acc": {"mean": float(val.mean()), "std": float(val.std())},
    }


def pm(mean: float, std: float, scale: float = 100.0, digits: int = 1) -> str:
    """``mean ± std`` as text (accuracies in % by default); a single run shows no spread."""
    if np.isnan(std):
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


@dataclass(frozen=True)
class PairedDifference:
    """Mean paired difference ``a - b`` over ``n`` shared seeds and its t-interval (fractions, not %); ``sd``: the
    standard deviation of the per-seed differences (ddof = 1), ``p``: the two-sided paired-t p-value of ``H0: mean
    difference = 0`` (both nan when not given)."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float
    sd: float = float("nan")
    p: float = float("nan")

    @property
    def verdict(self) -> str:
        """``above``, ``below`` or ``not distinguishable with n seeds``, read from the interval alone."""
        if self.low > 0:
            return "above"
        if self.high < 0:
            return "below"
        return f"not distinguishable with {self.n} seeds"

    def interval_text(self, scale: float = 100.0) -> str:
        """``+1.2 points (95 % CI +0.3 to +2.1, paired t, 5 seeds)``."""
        return (f"{scale * self.mean:+.1f} points ({100 * self.confidence:g} % CI {scale * self.low:+.1f} to "
                f"{scale * self.high:+.1f}, paired t, {self.n} seeds)")


def paired_difference(a: pd.Series, b: pd.Series, confidence: float) -> PairedDifference:
    """``a - b`` over the seeds (the index of both series) that both have; at least two are needed."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    shared = a.index.intersection(b.index)
    if len(shared) < 2:
        raise ValueError(f"a paired interval needs at least 2 shared seeds, got {list(shared)}")
    d = (a.loc[shared] - b.loc[shared]).astype(float)
    low, high = mean_interval(d, confidence)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    return PairedDifference(mean, low, high, len(d), confidence, sd, paired_p(mean, sd, len(d)))


def paired_p(mean: float, sd: float, n: int) -> float:
    """Two-sided p-value of the paired t-test of ``H0: mean difference = 0``:

        t = d_bar / (s_d / sqrt(n)),   p = 2 P(T_{n-1} > |t|)

    With ``s_d = 0`` the statistic is infinite or undefined: ``p = 0`` when ``d_bar != 0``, else ``1``.
    """
    if sd == 0:
        return 0.0 if mean != 0 else 1.0
    return float(2 * stats.t.sf(abs(mean) / (sd / np.sqrt(n)), n - 1))


def ordering(name_a: str, name_b: str, diff: PairedDifference) -> str:
    """A sentence that orders ``a`` and ``b`` as the interval allows: ``a is above b by ...`` or ``... not
    distinguishable from b with n seeds (...)``."""
    verdict = diff.verdict
    if verdict in ("above", "below"):
        return f"{name_a} is {verdict} {name_b}: {diff.interval_text()}"
    return f"{name_a} is not distinguishable from {name_b} with {diff.n} seeds: {diff.interval_text()}"


#: The power at which :func:`family_table` and :func:`family_sentence` report the detectable difference.
DETECTABLE_POWER = 0.8
#: The columns of :func:`family_table`.
FAMILY_COLUMNS = ("comparison", "diff", "low", "high", "p", "p_holm", "divisor", "adj_low", "adj_high", "n", "sd",
                  "detectable", "verdict", "confidence")


def holm(pvalues: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down adjusted p-values and each hypothesis' divisor.

    With the ``m`` p-values sorted, ``p_(1) <= ... <= p_(m)`` (ties in input order), the hypothesis of rank ``k``
    is tested at level ``alpha / (m - k + 1)``; its divisor is ``m - k + 1`` and its adjusted p-value

        p~_(k) = min(1, max_{j <= k} (m - j + 1) p_(j)),

    so that it is rejected at family-wise level ``alpha`` exactly when ``p~_(k) < alpha`` (every step up to its
    own rejects). Returned in input order.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1 or np.isnan(p).any() or ((p < 0) | (p > 1)).any():
        raise ValueError(f"p-values must be a flat sequence of numbers in [0, 1], got {pvalues}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    steps = m - np.arange(m)
    adjusted, divisor = np.empty(m), np.empty(m, dtype=int)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(steps * p[order]))
    divisor[order] = steps
    return adjusted, divisor


def paired_t_power(ncp: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired t-test at level ``alpha`` with ``n`` pairs when the statistic is noncentral t
    with ``n - 1`` degrees of freedom and noncentrality ``ncp = delta sqrt(n) / sigma_d``:

        power = P(T'_{n-1, ncp} > t_{1-alpha/2, n-1}) + P(T'_{n-1, ncp} < -t_{1-alpha/2, n-1})

    The second tail is computed as ``P(T'_{n-1, -ncp} > t_{1-alpha/2, n-1})`` (``-T'_{ncp}`` is ``T'_{-ncp}``):
    scipy's ``nct.cdf`` far in the lower tail returns nan.
    """
    crit = stats.t.ppf(1 - alpha / 2, n - 1)
    return float(stats.nct.sf(crit, n - 1, ncp) + stats.nct.sf(crit, n - 1, -ncp))


def detectable_difference(sd: float, n: int, alpha: float, power: float = DETECTABLE_POWER) -> float:
    """The smallest true mean paired difference ``|delta|`` that a two-sided paired t-test at level ``alpha`` with
    ``n`` pairs and difference standard deviation ``sd`` rejects with probability ``power``:

        delta = ncp* sd / sqrt(n),   ncp* solves  paired_t_power(ncp*, n, alpha) = power

    exactly with the noncentral t distribution (:func:`paired_t_power`, root by Brent's method; the power rises
    with ``ncp > 0`` from ``alpha`` at 0). nan when ``n < 2`` or ``sd`` is nan; 0 when ``sd == 0``.
    """
    if not 0 < alpha < 1 or not alpha < power < 1:
        raise ValueError(f"need 0 < alpha < power < 1, got alpha = {alpha}, power = {power}")
    if n < 2 or np.isnan(sd):
        return float("nan")
    if sd == 0:
        return 0.0
    gap = lambda ncp: paired_t_power(ncp, n, alpha) - power  # noqa: E731
    upper = 1.0
    while gap(upper) < 0:
        upper *= 2
    return float(optimize.brentq(gap, 0.0, upper, xtol=1e-10) * sd / np.sqrt(n))


def _named(diffs) -> list[tuple[str, PairedDifference]]:
    items = list(diffs.items()) if isinstance(diffs, Mapping) else [tuple(item) for item in diffs]
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        raise ValueError(f"comparison names must be unique, got {names}")
    if any(np.isnan(d.p) or np.isnan(d.sd) for _, d in items):
        raise ValueError("every comparison needs its sd and p-value (made by paired_difference)")
    return items


def _t_interval(mean: float, sd: float, n: int, confidence: float) -> tuple[float, float]:
    half = stats.t.ppf((1 + confidence) / 2, n - 1) * sd / np.sqrt(n)
    return mean - half, mean + half


def family_table(diffs: Mapping[str, PairedDifference] | Sequence[tuple[str, PairedDifference]],
                 confidence: float) -> pd.DataFrame:
    """Named comparisons (an ordered mapping, or ``(name, diff)`` pairs) corrected together with :func:`holm` at
    family-wise level ``alpha = 1 - confidence``; one row per comparison, in the given order (fractions, not %):

    - ``diff``, ``low``, ``high``: the mean difference and its unadjusted t-interval at ``confidence``;
    - ``p``, ``p_holm``: the paired-t p-value and its Holm-adjusted value; ``divisor``: ``m - k + 1`` of its step;
    - ``adj_low``, ``adj_high``: the t-interval at ``1 - alpha / divisor``, the level its own step tests. It
      excludes 0 exactly when ``p < alpha / divisor``; Holm rejects only if every earlier step rejected too, so a
      comparison after one that was kept can have an interval that excludes 0 and still be not distinguishable;
    - ``n``, ``sd``: seeds and standard deviation of the per-seed differences; ``detectable``:
      :func:`detectable_difference` at level ``alpha / divisor`` and power :data:`DETECTABLE_POWER`;
    - ``verdict``: ``above`` / ``below`` when ``p_holm < alpha`` (by the sign of ``diff``), else ``not
      distinguishable``; ``confidence``: the family-wise confidence, for :func:`family_sentence`.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    items, alpha = _named(diffs), 1 - confidence
    p_holm, divisors = holm([d.p for _, d in items])
    rows = []
    for (name, d), adjusted, divisor in zip(items, p_holm, divisors):
        level = alpha / divisor
        low, high = _t_interval(d.mean, d.sd, d.n, confidence)
        adj_low, adj_high = _t_interval(d.mean, d.sd, d.n, 1 - level)
        verdict = ("above" if d.mean > 0 else "below") if adjusted < alpha and d.mean != 0 else "not distinguishable"
        rows.append(dict(comparison=name, diff=d.mean, low=low, high=high, p=d.p, p_holm=adjusted, divisor=divisor,
                         adj_low=adj_low, adj_high=adj_high, n=d.n, sd=d.sd,
                         detectable=detectable_difference(d.sd, d.n, level), verdict=verdict, confidence=confidence))
    return pd.DataFrame(rows, columns=list(FAMILY_COLUMNS))


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def family_sentence(name_a: str, name_b: str, row) -> str:
    """The ordering sentence of one row of :func:`family_table` (a Series such as ``table.iloc[i]``, or a dict):

    ``a is above b: +1.2 points (Holm-adjusted 95 % family-wise: CI +0.3 to +2.1, p = 0.004; paired t, 10 seeds)``,
    or ``a is not distinguishable from b with 10 seeds: +0.2 points (...); at its Holm level the design detects a
    difference of 1.4 points with 80 % power``. Points are 100 x fractions.
    """
    detail = (f"{100 * row['diff']:+.1f} points (Holm-adjusted {100 * row['confidence']:g} % family-wise: "
              f"CI {100 * row['adj_low']:+.1f} to {100 * row['adj_high']:+.1f}, {_p_text(row['p_holm'])}; "
              f"paired t, {row['n']} seeds)")
    if row["verdict"] in ("above", "below"):
        return f"{name_a} is {row['verdict']} {name_b}: {detail}"
    text = f"{name_a} is not distinguishable from {name_b} with {row['n']} seeds: {detail}"
    if row["adj_low"] > 0 or row["adj_high"] < 0:
        text += "; its interval excludes 0, but Holm's procedure stopped at an earlier comparison"
    if not np.isnan(row["detectable"]):
        text += (f"; at its Holm level the design detects a difference of {100 * row['detectable']:.1f} points "
                 f"with {100 * DETECTABLE_POWER:g} % power")
    return text
