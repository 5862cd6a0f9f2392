"""Summaries over seeds: mean ± sample standard deviation (ddof = 1), never a single best seed, and paired
differences between two configurations with a confidence interval.

**Paired difference.** Two configurations trained with the same seed share their initial weights and their
batches (``tmkt.training.loop``), so they are compared seed by seed: for the ``n`` seeds both ran, ``d_i = a_i - b_i``,

    d_bar = mean_i d_i,   s_d = std_i d_i (ddof = 1),   CI = d_bar ± t_{(1+c)/2, n-1} s_d / sqrt(n)

(Student's t-interval of the mean paired difference, confidence ``c`` = ``base.confidence``). The verdict reads the
interval only: ``above`` when it lies entirely above 0, ``below`` when entirely below, else ``not
distinguishable with n seeds``. Every sentence of the compendium that orders two configurations comes from
:func:`ordering`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Per-run metrics summarised over seeds where present (accuracies are fractions in [0, 1]; operations and energy
#: per test recording, tmkt.results.energy).
SUMMARISED = ("val_acc", "test_acc", "test_acc_last", "train_seconds", "synops", "energy_uj", "ann_energy_uj")


def summarize(runs: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Mean, std and count of :data:`SUMMARISED` over the rows of ``runs`` (grouped by ``by`` if given)."""
    cols = [c for c in SUMMARISED if c in runs]
    groups = runs[by + cols].groupby(by, sort=False) if by else runs[cols].groupby(lambda _: 0)
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
    """Mean paired difference ``a - b`` over ``n`` shared seeds and its t-interval (fractions, not %)."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float

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
    return PairedDifference(float(d.mean()), low, high, len(d), confidence)


def ordering(name_a: str, name_b: str, diff: PairedDifference) -> str:
    """A sentence that orders ``a`` and ``b`` as the interval allows: ``a is above b by ...`` or ``... not
    distinguishable from b with n seeds (...)``."""
    verdict = diff.verdict
    if verdict in ("above", "below"):
        return f"{name_a} is {verdict} {name_b}: {diff.interval_text()}"
    return f"{name_a} is not distinguishable from {name_b} with {diff.n} seeds: {diff.interval_text()}"
