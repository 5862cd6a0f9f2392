"""Has a run converged? A check on its validation curve alone (the test split plays no part).

A run of ``E`` epochs with validation accuracies ``a_1 .. a_E`` splits at ``q = floor(3E / 4)``. Its gain in the
last quarter is

    g = max(a_{q+1} .. a_E) - max(a_1 .. a_q)

and the run counts as converged when ``g <= tolerance``: either its best-validation epoch lies before the last
quarter (``g <= 0``), or the last quarter improves on everything before it by no more than the tolerance (the
curve is flat there). A run whose curve still climbs at the end is not converged: its test accuracy measures how
fast it learns, not where it ends.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def last_quarter_start(epochs: int) -> int:
    """``q = floor(3E / 4)``: epochs ``q + 1 .. E`` form the last quarter (at least one epoch before it)."""
    if epochs < 2:
        raise ValueError(f"a convergence check needs at least 2 epochs, got {epochs}")
    return max(1, (3 * epochs) // 4)


def last_quarter_gain(val_acc: Sequence[float]) -> float:
    """``g``: best accuracy of the last quarter minus the best before it (negative: the best came earlier)."""
    acc = np.asarray(val_acc, dtype=float)
    q = last_quarter_start(len(acc))
    return float(acc[q:].max() - acc[:q].max())


def convergence_table(histories: pd.DataFrame, by: list[str], tolerance: float) -> pd.DataFrame:
    """One row per run (``by`` names its columns, e.g. axis, cell, seed): epochs, best epoch, gain, verdict.

    ``histories`` holds one row per (run, epoch) with ``epoch`` and ``val_acc``. ``converged`` is
    ``last_quarter_gain <= tolerance``; ``best_epoch`` is the earliest epoch of the best validation accuracy.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    rows = []
    for key, run in histories.sort_values("epoch").groupby(by, sort=False):
        acc = run["val_acc"].to_numpy()
        gain = last_quarter_gain(acc)
        rows.append(
            dict(zip(by, key if isinstance(key, tuple) else (key,)))
            | dict(epochs=len(acc), best_epoch=int(np.argmax(acc)) + 1, last_quarter_from=last_quarter_start(len(acc)) + 1,
                   last_quarter_gain=gain, converged=bool(gain <= tolerance))
        )
    return pd.DataFrame(rows)
