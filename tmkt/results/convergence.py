"""Has a run converged? A check on its validation curve alone (the test split plays no part).

A run of ``E`` epochs with validation accuracies ``a_1 .. a_E`` splits at ``q = floor(3E / 4)``. Its gain in the
last quarter is

    g = max(a_{q+1} .. a_E) - max(a_1 .. a_q)

and the run counts as converged when ``g <= tolerance``: either its best-validation epoch lies before the last
quarter (``g <= 0``), or the last quarter improves on everything before it by no more than the tolerance (the
curve is flat there). A run whose curve still climbs at the end is not converged: its test accuracy measures how
fast it learns, not where it ends.

One run's gain is noisy (a maximum over noisy evaluations), so comparisons are gated per *cell*: a cell counts as
converged when the mean of its runs' gains is at most the tolerance (:func:`cell_convergence`), and a comparison
counts only between converged cells.
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


def cell_convergence(runs: pd.DataFrame, by: list[str], tolerance: float) -> pd.DataFrame:
    """Per cell (``by``, e.g. axis and cell) of a :func:`convergence_table`: epochs, the runs' best epochs, their mean
    and largest last-quarter gain, how many runs pass on their own, and ``converged``: mean gain <= ``tolerance``."""
    rows = []
    for key, cell in runs.groupby(by, sort=False):
        rows.append(dict(zip(by, key if isinstance(key, tuple) else (key,)))
                    | dict(epochs=int(cell["epochs"].iloc[0]), last_quarter_from=int(cell["last_quarter_from"].iloc[0]),
                           best_epochs=", ".join(map(str, cell["best_epoch"])),
                           mean_gain=float(cell["last_quarter_gain"].mean()),
                           largest_gain=float(cell["last_quarter_gain"].max()),
                           runs_passing=f"{int(cell['converged'].sum())} of {len(cell)}",
                           converged=bool(cell["last_quarter_gain"].mean() <= tolerance)))
    return pd.DataFrame(rows)


def points_text(fraction: float) -> str:
    """An accuracy difference as text: ``0.01`` -> "1 point", ``0.02`` -> "2 points"."""
    points = 100 * fraction
    return f"{points:g} point" + ("" if points == 1 else "s")


def verdict(cells: pd.DataFrame, tolerance: float) -> str:
    """A sentence on a :func:`cell_convergence` table: whether every cell converged, and which did not."""
    late = cells[~cells["converged"]]
    points = points_text(tolerance)
    if late.empty:
        return (f"**All {len(cells)} cells converged**: no cell's runs gain more than {points} of validation "
                "accuracy in their last quarter of epochs on average.")
    names = ", ".join(f"`{r.axis}/{r.cell}` (+{100 * r.mean_gain:.1f})" for r in late.itertuples())
    return (f"**⚠ {len(late)} of {len(cells)} cells did NOT converge**: their runs' validation accuracy still rose by "
            f"more than {points} on average in the last quarter of training, so the comparisons that involve "
            f"them measure speed, not where training ends: {names}.")
