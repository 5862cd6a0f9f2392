"""Result tables of the figures stage: mean ± std over seeds per cell, and the papers' numbers.

Every number here is read from the runs the pipeline wrote (``tmkt.ablate.load_runs``), except
:data:`PAPER`, which quotes the papers (METHOD.md §6) on a different dataset and scale (N-Caltech101,
VGG-SNN, T = 10, 48×48, 300 epochs) and must never be read as comparable to the default's numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tmkt.ablate import stage_of_notebook
from tmkt.metrics import pm, summarize

#: Top-1 test accuracy (%) on N-Caltech101 as reported (He2024 selects the epoch on the test set).
PAPER = pd.DataFrame(
    [
        ("event_only", 79.66, "He et al. 2024 (plotting script)"),
        ("finetune", 79.43, "He et al. 2024"),
        ("he2024", 92.64, "He et al. 2024 (93.45 in a later table)"),
        ("tmkt", 97.93, "third-party table citing arXiv 2511.12150"),
    ],
    columns=["method", "paper_top1", "paper_source"],
)

AXIS_ORDER = ("reference", "method", "schedule", "aux", "event_ratio")


def cell_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: axis, cell, method, event fraction, seeds, and mean/std of the summarised metrics."""
    keys = ["axis", "cell", "method", "event_fraction"]
    table = summarize(runs, by=keys).rename(columns={"test_acc_count": "seeds"})
    table["seeds"] = table["seeds"].astype(int)
    table["best_epoch_mean"] = runs.groupby(keys, sort=False)["best_epoch"].mean().to_numpy()
    order = {axis: i for i, axis in enumerate(AXIS_ORDER)}
    return table.sort_values("axis", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def _pm(table: pd.DataFrame, metric: str) -> list[str]:
    """``mean ± std`` in % of ``metric`` per row of a cell table."""
    return [pm(m, s) for m, s in zip(table[f"{metric}_mean"], table[f"{metric}_std"])]


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The cell table as text: accuracies in % as ``mean ± std``."""
    return pd.DataFrame(
        {
            "axis": table["axis"],
            "cell": table["cell"],
            "method": table["method"],
            "event data": [f"{100 * f:g} %" for f in table["event_fraction"]],
            "test acc. (%)": _pm(table, "test_acc"),
            "val. acc. (%)": _pm(table, "val_acc"),
            "test acc., last epoch (%)": _pm(table, "test_acc_last"),
            "seeds": table["seeds"],
        }
    )


def headline(table: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Methods at the reference event ratio beside the papers' numbers (a different dataset and scale)."""
    rows = table[table["axis"].isin(["reference", "method"])]
    out = pd.DataFrame(
        {
            "method": rows["method"],
            f"{dataset}, this compendium: test acc. (%)": _pm(rows, "test_acc"),
            "seeds": rows["seeds"],
        }
    ).merge(PAPER, on="method", how="left")
    return out.rename(
        columns={"paper_top1": "N-Caltech101, paper (VGG-SNN, T=10, 48×48): top-1 (%)", "paper_source": "source"}
    )


def to_markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False) + "\n"


def notebook_seconds(notebooks: list[Path], root: Path) -> pd.DataFrame:
    """Wall time of each executed notebook as papermill recorded it (``metadata.papermill.duration``)."""
    rows = []
    for path in notebooks:
        meta = json.loads(path.read_text())["metadata"].get("papermill", {})
        if meta.get("duration") is not None:
            rows.append(dict(stage=stage_of_notebook(path, root), notebook=str(path.relative_to(root)),
                             seconds=round(float(meta["duration"]), 1), finished=meta.get("end_time")))
    return pd.DataFrame(rows, columns=["stage", "notebook", "seconds", "finished"])
