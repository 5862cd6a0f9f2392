"""Summaries over seeds: mean ± sample standard deviation (ddof = 1), never a single best seed."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Per-run metrics summarised over seeds (accuracies are fractions in [0, 1]).
SUMMARISED = ("val_acc", "test_acc", "test_acc_last", "train_seconds")


def summarize(runs: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Mean, std and count of :data:`SUMMARISED` over the rows of ``runs`` (grouped by ``by`` if given)."""
    cols = [c for c in SUMMARISED if c in runs]
    groups = runs[by + cols].groupby(by, sort=False) if by else runs[cols].groupby(lambda _: 0)
    table = groups.agg(["mean", "std", "count"])
    table.columns = [f"{c}_{stat}" for c, stat in table.columns]
    return table.reset_index(drop=not by)


def pm(mean: float, std: float, scale: float = 100.0, digits: int = 1) -> str:
    """``mean ± std`` as text (accuracies in % by default); a single run shows no spread."""
    if np.isnan(std):
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"
