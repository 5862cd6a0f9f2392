"""What DVC's own views read: per-epoch curves as data plots and the comparisons' effects as metrics.

``dvc plots diff`` and the VS Code extension overlay data series of two revisions or experiments, and ``dvc exp
show`` tabulates metrics files; neither reads the figures stage's PNGs and tables. The figures stage therefore
also writes, under ``reports/dvc/`` (declared in ``dvc.yaml``):

- ``curves/<cell>.csv``: per epoch of the cell, the mean over its seeds of the validation accuracy, training
  accuracy and loss, and each seed's validation accuracy (``val_acc_seed<s>``);
- ``effects.json``: per comparison of the family (``tmkt.results.tables.comparison_table``), the paired
  difference in points, its Holm-adjusted interval, the seeds and the verdict, keyed ``<a>_vs_<b>``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from tmkt import atomic

CURVE_MEANS = ("val_acc", "train_acc", "loss")


def safe_name(label: str) -> str:
    """A cell label or comparison as a file or key name: ``tmkt (constant)`` -> ``tmkt_constant``."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower().replace("%", "pct")).strip("_")


def cell_curves(histories: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per cell label, its curves: epoch, the means of :data:`CURVE_MEANS` over seeds, each seed's ``val_acc``."""
    out = {}
    for label, cell in histories.groupby("label", sort=False):
        means = cell.groupby("epoch")[list(CURVE_MEANS)].mean()
        seeds = cell.pivot_table(index="epoch", columns="seed", values="val_acc")
        seeds.columns = [f"val_acc_seed{s}" for s in seeds.columns]
        out[safe_name(label)] = means.join(seeds).reset_index()
    return out


def effects(family: pd.DataFrame) -> dict:
    """The comparisons as a metrics mapping (differences and Holm-adjusted bounds in points)."""
    return {f"{safe_name(row.a)}_vs_{safe_name(row.b)}": dict(
                difference=round(100 * row.diff, 2), holm_low=round(100 * row.adj_low, 2),
                holm_high=round(100 * row.adj_high, 2), seeds=int(row.n), verdict=row.verdict)
            for row in family.itertuples()}


def write(histories: pd.DataFrame, family: pd.DataFrame, folder: str | Path) -> None:
    """``folder/curves/<cell>.csv`` for every cell and ``folder/effects.json`` (atomically, stale curves removed)."""
    folder = Path(folder)
    with atomic.atomic_dir(folder / "curves") as tmp:
        for name, table in cell_curves(histories).items():
            table.to_csv(tmp / f"{name}.csv", index=False)
    atomic.write_json(folder / "effects.json", effects(family))
