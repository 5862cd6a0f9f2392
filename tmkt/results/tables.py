"""Result tables of the figures stage: mean ± std over seeds per cell, and the papers' numbers.

Every number here is read from the runs the pipeline wrote (``tmkt.layout.load_runs``), except
:data:`PAPER`, which quotes the papers (docs/method.md §6) on a different dataset and scale (N-Caltech101,
VGG-SNN, T = 10, 48×48, 300 epochs) and must never be read as comparable to the default's numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tmkt import grid
from tmkt.config import Params
from tmkt.stats import PairedDifference, ordering, paired_difference, pm, summarize

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

AXIS_ORDER = ("reference", "method", "heads", "schedule", "aux", "event_ratio")

#: The baselines every cell is compared with, seed by seed, at the cell's event fraction.
BASELINES = ("event_only", "he2024")
#: Axes that vary TMKT around the reference; their cells are also compared with the reference.
TMKT_AXES = ("heads", "schedule", "aux")
#: Axes whose cells, with the reference, hold one cell per (method, event fraction).
METHOD_AXES = ("reference", "method", "event_ratio")


def axis_runs(runs: pd.DataFrame, params: Params, axis: str) -> pd.DataFrame:
    """The runs that make up one axis, the reference included, with the axis value in column ``value``.

    ``event_ratio`` also takes the method cells (and the reference) at the reference fraction, so each
    method's curve runs through ``scarcity.event_fraction``.
    """
    if axis not in grid.AXES:
        raise ValueError(f"axis must be one of {grid.AXES}, got {axis!r}")
    ref = grid.reference_values(params)
    reference = runs[runs["axis"] == "reference"].assign(value=ref[axis])
    own = runs[runs["axis"] == axis]
    if axis != "event_ratio":
        return pd.concat([reference, own.assign(value=own["cell"])], ignore_index=True)
    at_reference = pd.concat([reference, runs[runs["axis"] == "method"]], ignore_index=True)
    at_reference = at_reference[at_reference["method"].isin(params.ablate.event_ratio.methods)]
    table = pd.concat([at_reference, own], ignore_index=True)
    return table.assign(value=table["event_fraction"])



def _by_seed(runs: pd.DataFrame, metric: str = "test_acc") -> pd.Series:
    return runs.set_index("seed")[metric]


def comparisons(runs: pd.DataFrame, confidence: float) -> dict[tuple[str, str], dict[str, PairedDifference]]:
    """Paired test-accuracy differences of every cell (``(axis, cell)``) to each of :data:`BASELINES` at the same
    event fraction, and for the cells of :data:`TMKT_AXES` to the reference; keyed by what it is compared with.

    A cell is not compared with itself, nor with a baseline that has no run at its event fraction.
    """
    anchors = runs[runs["axis"].isin(METHOD_AXES)]
    out = {}
    for (axis, cell), own in runs.groupby(["axis", "cell"], sort=False):
        fraction, found = own["event_fraction"].iloc[0], {}
        for base in BASELINES:
            other = anchors[(anchors["method"] == base) & (anchors["event_fraction"] == fraction)]
            if len(other) and not (other["axis"].iloc[0] == axis and other["cell"].iloc[0] == cell):
                found[base] = paired_difference(_by_seed(own), _by_seed(other), confidence)
        if axis in TMKT_AXES:
            found["reference"] = paired_difference(_by_seed(own), _by_seed(runs[runs["axis"] == "reference"]), confidence)
        out[(axis, cell)] = found
    return out


def cell_table(runs: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """One row per cell: axis, cell, method, event fraction, seeds, mean/std of the summarised metrics, and per
    comparison ``vs_<other>_{diff,low,high,seeds,verdict}`` (paired t-interval, :func:`comparisons`)."""
    keys = ["axis", "cell", "method", "event_fraction"]
    table = summarize(runs, by=keys).rename(columns={"test_acc_count": "seeds"})
    table["seeds"] = table["seeds"].astype(int)
    table["best_epoch_mean"] = runs.groupby(keys, sort=False)["best_epoch"].mean().to_numpy()
    found = comparisons(runs, confidence)
    for other in BASELINES + ("reference",):
        diffs = [found[(a, c)].get(other) for a, c in zip(table["axis"], table["cell"])]
        table[f"vs_{other}_diff"] = [d.mean if d else float("nan") for d in diffs]
        table[f"vs_{other}_low"] = [d.low if d else float("nan") for d in diffs]
        table[f"vs_{other}_high"] = [d.high if d else float("nan") for d in diffs]
        table[f"vs_{other}_seeds"] = [d.n if d else 0 for d in diffs]
        table[f"vs_{other}_verdict"] = [d.verdict if d else "" for d in diffs]
    order = {axis: i for i, axis in enumerate(AXIS_ORDER)}
    return table.sort_values("axis", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def _interval(table: pd.DataFrame, other: str) -> list[str]:
    """``+1.2 [+0.3, +2.1]`` in points per row (empty where the row is not compared with ``other``)."""
    return [
        "" if seeds == 0 else f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"
        for d, lo, hi, seeds in zip(table[f"vs_{other}_diff"], table[f"vs_{other}_low"], table[f"vs_{other}_high"],
                                    table[f"vs_{other}_seeds"])
    ]


def _pm(table: pd.DataFrame, metric: str) -> list[str]:
    """``mean ± std`` in % of ``metric`` per row of a cell table."""
    return [pm(m, s) for m, s in zip(table[f"{metric}_mean"], table[f"{metric}_std"])]


def _energy_columns(table: pd.DataFrame) -> dict[str, list[str]]:
    """Operations and energy per test recording (``tmkt.results.energy``) as text, where the table has them."""
    if "energy_uj_mean" not in table:
        return {}
    return {
        "SynOps / recording (M)": [pm(m, s, scale=1e-6, digits=2) for m, s in zip(table["synops_mean"], table["synops_std"])],
        "energy / recording (µJ)": [pm(m, s, scale=1.0, digits=2) for m, s in zip(table["energy_uj_mean"], table["energy_uj_std"])],
    }


def energy_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per cell of a cell table: test accuracy, operations and energy of one inference, and the energy of the same
    network run as an ANN, as text (mean ± std over seeds)."""
    return pd.DataFrame(
        {
            "axis": table["axis"],
            "cell": table["cell"],
            "method": table["method"],
            "test acc. (%)": _pm(table, "test_acc"),
            **_energy_columns(table),
            "ANN energy (µJ)": [f"{e:.2f}" for e in table["ann_energy_uj_mean"]],
            "SNN / ANN energy": [f"{s / a:.2f}" for s, a in zip(table["energy_uj_mean"], table["ann_energy_uj_mean"])],
        }
    )


def readable(table: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """The cell table as text: accuracies in % as ``mean ± std``, paired differences in points with their CI."""
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
            f"− event_only (points, {100 * confidence:g} % CI)": _interval(table, "event_only"),
            "− he2024": _interval(table, "he2024"),
            "− reference": _interval(table, "reference"),
        }
        | _energy_columns(table)
    )


def headline(table: pd.DataFrame, dataset: str, confidence: float) -> pd.DataFrame:
    """Methods at the reference event ratio, their paired differences, and beside them the papers' numbers (a
    different dataset and scale)."""
    rows = table[table["axis"].isin(["reference", "method"])]
    out = pd.DataFrame(
        {
            "method": rows["method"],
            f"{dataset}, this compendium: test acc. (%)": _pm(rows, "test_acc"),
            "seeds": rows["seeds"],
            f"− event_only (points, {100 * confidence:g} % CI)": _interval(rows, "event_only"),
            f"− he2024 (points, {100 * confidence:g} % CI)": _interval(rows, "he2024"),
        }
        | _energy_columns(rows)
    ).merge(PAPER, on="method", how="left")
    return out.rename(
        columns={"paper_top1": "N-Caltech101, paper (VGG-SNN, T=10, 48×48): top-1 (%)", "paper_source": "source"}
    )


def findings(runs: pd.DataFrame, confidence: float) -> list[str]:
    """The ordering sentences: each method at the reference event fraction against each baseline (each pair once),
    every TMKT ablation cell against the reference, and every cell of the event-ratio axis against the baselines at
    its fraction; each read from its interval (:func:`ordering`)."""
    found = comparisons(runs, confidence)
    headline_cells = runs[runs["axis"].isin(["reference", "method"])].drop_duplicates(["axis", "cell"])
    sentences, stated = [], set()
    for base in BASELINES:
        for axis, cell, method in headline_cells[["axis", "cell", "method"]].itertuples(index=False):
            if base in found[(axis, cell)] and frozenset((method, base)) not in stated:  # not b against a again
                stated.add(frozenset((method, base)))
                sentences.append(ordering(f"`{method}`", f"`{base}`", found[(axis, cell)][base]))
    for (axis, cell), diffs in found.items():
        if "reference" in diffs:
            sentences.append(ordering(f"TMKT's `{axis}` cell `{cell}`", "the reference", diffs["reference"]))
    ratio_cells = runs[runs["axis"] == "event_ratio"].drop_duplicates("cell")
    for cell, method, fraction in ratio_cells[["cell", "method", "event_fraction"]].itertuples(index=False):
        for base, diff in found[("event_ratio", cell)].items():
            sentences.append(ordering(f"with {100 * fraction:g} % of the event data, `{method}`", f"`{base}`", diff))
    return sentences


def to_markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False) + "\n"


def notebook_seconds(notebooks: dict[str, Path], root: Path) -> pd.DataFrame:
    """Wall time of each executed notebook (by DVC stage, ``tmkt.layout.executed_notebooks``) as papermill
    recorded it (``metadata.papermill.duration``)."""
    rows = []
    for stage, path in notebooks.items():
        meta = json.loads(path.read_text())["metadata"].get("papermill", {})
        if meta.get("duration") is not None:
            rows.append(dict(stage=stage, notebook=str(path.relative_to(root)),
                             seconds=round(float(meta["duration"]), 1), finished=meta.get("end_time")))
    return pd.DataFrame(rows, columns=["stage", "notebook", "seconds", "finished"])


#: Orderings (``a`` above ``b``) checked against the papers' N-Caltech101 table, each with its paired interval.
PAPER_CLAIMS = (("tmkt", "he2024"), ("tmkt", "event_only"), ("he2024", "event_only"))


def paper_claims(runs: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Each claim of :data:`PAPER_CLAIMS` at the reference event fraction: the paired interval and whether this
    default reproduces it (``reproduced``: a above b; ``contradicted``: a below b; else ``not settled``).
    """
    found = comparisons(runs, confidence)
    headline_cells = runs[runs["axis"].isin(["reference", "method"])].drop_duplicates("method")
    cell_of = {m: (a, c) for a, c, m in headline_cells[["axis", "cell", "method"]].itertuples(index=False)}
    rows = []
    for a, b in PAPER_CLAIMS:
        if a not in cell_of or b not in found.get(cell_of[a], {}):
            continue
        diff = found[cell_of[a]][b]
        status = {"above": "reproduced", "below": "contradicted"}.get(diff.verdict, f"not settled ({diff.verdict})")
        rows.append(dict(claim=f"{a} above {b}", difference=diff.interval_text(), verdict=status))
    return pd.DataFrame(rows, columns=["claim", "difference", "verdict"])
