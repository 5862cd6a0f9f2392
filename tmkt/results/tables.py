"""Result tables of the figures stage: mean ± std over seeds per cell, the family of paired comparisons
(``tmkt.grid.comparisons``, Holm-corrected), the per-seed table, the realised mix shares, and the papers' numbers.

Every number here is read from the runs the pipeline wrote (``tmkt.layout.load_runs``), except
:data:`PAPER`, which quotes the papers (docs/method.md §6) on a different dataset and scale (N-Caltech101,
VGG-SNN, T = 10, 48×48, 300 epochs) and must never be read as comparable to the default's numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tmkt import grid, layout
from tmkt.config import Params
from tmkt.stats import family_sentence, family_table, paired_difference, pm, summarize

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

AXIS_ORDER = ("reference", "method", "control", "schedule", "variant", "event_ratio")

#: What a comparison answers, as the tables say it (``tmkt.grid.comparisons``).
QUESTIONS = {
    "images": "what the images buy (against event-only training)",
    "mixing": "what mixing and alignment add to joint training",
    "timestep-vs-sample": "time-step mixup against sample-level replacement, matched",
    "sim-to-real-vs-mixing": "the images converted into events (sim2real) against mixing them in",
    "variant": "a control or reconstruction against its method's headline cell",
}


def ratio_runs(runs: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The runs of the data-ratio curve: the ``event_ratio`` cells, and the headline cells of the same methods at
    the headline event fraction, so each method's curve runs through ``scarcity.event_fraction``."""
    methods = params.ablate.event_ratio.methods
    headline = runs[runs["axis"].isin(grid.METHOD_AXES) & runs["method"].isin(methods)]
    return pd.concat([headline, runs[runs["axis"] == "event_ratio"]], ignore_index=True)


def _by_seed(runs: pd.DataFrame, c: grid.Cell, metric: str = "test_acc") -> pd.Series:
    own = runs[(runs["axis"] == c.axis) & (runs["cell"] == c.name)]
    return own.set_index("seed")[metric]


def comparison_table(runs: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Every comparison of the grid (``tmkt.grid.comparisons``) as a paired test-accuracy difference over the seeds
    both cells ran, corrected together with Holm at family-wise confidence ``base.confidence``
    (``tmkt.stats.family_table``); with the question it answers and the two cells' labels."""
    pairs = [(c, paired_difference(_by_seed(runs, c.a), _by_seed(runs, c.b), params.base.confidence))
             for c in grid.comparisons(params)]
    family = family_table([(c.name, d) for c, d in pairs], params.base.confidence)
    return family.assign(question=[c.question for c, _ in pairs], a=[c.a.label for c, _ in pairs],
                         b=[c.b.label for c, _ in pairs])


def converged_comparison_table(runs: pd.DataFrame, per_run: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The comparison family again, on the runs that converged by themselves: each comparison paired over the seeds
    at which *both* runs pass ``per_run`` (``tmkt.results.convergence.convergence_table``: one row per axis, cell
    and seed), Holm over the comparisons that keep at least 2 such seeds. The others get no interval (``diff``
    NaN) and the verdict "fewer than 2 converged pairs". A check of the per-cell criterion fixed before the runs,
    read beside the family (:func:`comparison_table`), not instead of it."""
    passed = per_run.loc[per_run["converged"], ["axis", "cell", "seed"]]
    kept = runs.merge(passed, on=["axis", "cell", "seed"])
    tested, short = [], []
    for c in grid.comparisons(params):
        a, b = _by_seed(kept, c.a), _by_seed(kept, c.b)
        shared = len(a.index.intersection(b.index))
        if shared >= 2:
            tested.append((c, paired_difference(a, b, params.base.confidence)))
        else:
            short.append((c, shared))
    family = family_table([(c.name, d) for c, d in tested], params.base.confidence) if tested else pd.DataFrame()
    family = family.assign(question=[c.question for c, _ in tested], a=[c.a.label for c, _ in tested],
                           b=[c.b.label for c, _ in tested])
    untested = pd.DataFrame({"comparison": [c.name for c, _ in short], "n": [n for _, n in short],
                             "verdict": "fewer than 2 converged pairs", "question": [c.question for c, _ in short],
                             "a": [c.a.label for c, _ in short], "b": [c.b.label for c, _ in short],
                             "confidence": params.base.confidence}).reindex(
        columns=["comparison", "diff", "low", "high", "adj_low", "adj_high", "p_holm", "n", "detectable", "verdict",
                 "confidence", "question", "a", "b"])
    return pd.concat([family, untested], ignore_index=True) if len(untested) else family


def cell_table(runs: pd.DataFrame, params: Params) -> pd.DataFrame:
    """One row per cell: axis, cell, its label, method, schedule, event fraction, seeds, mean/std of the summarised
    metrics and the mean best epoch."""
    keys = ["axis", "cell", "method"]  # a cell's event fraction may be None (recordings kept per class)
    table = summarize(runs, by=keys).rename(columns={"test_acc_count": "seeds"})
    table["seeds"] = table["seeds"].astype(int)
    table.insert(3, "event_fraction", runs.groupby(keys, sort=False)["event_fraction"].first().to_numpy())
    table["best_epoch_mean"] = runs.groupby(keys, sort=False)["best_epoch"].mean().to_numpy()
    cells = {(c.axis, c.name): c for c in grid.with_reference(params)}
    table.insert(2, "label", [cells[(a, c)].label for a, c in zip(table["axis"], table["cell"])])
    table.insert(4, "schedule", [cells[(a, c)].schedule for a, c in zip(table["axis"], table["cell"])])
    table.insert(6, "event_data", [scarcity_text(f, params.scarcity.event_per_class) for f in table["event_fraction"]])
    order = {axis: i for i, axis in enumerate(AXIS_ORDER)}
    return table.sort_values("axis", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def scarcity_text(fraction: float | None, per_class: int | None) -> str:
    """How many recordings a cell keeps, as text: "3 %" of each class's, or "10 per class"."""
    if fraction is None or pd.isna(fraction):
        return f"{per_class} per class"
    return f"{100 * fraction:g} %"


def per_seed_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: cell, seed, the scarce subset it trained on, validation and test accuracy at the selected
    epoch, test accuracy at the last epoch, the selected epoch."""
    cols = ["axis", "cell", "method", "event_fraction", "seed", "subset", "val_acc", "test_acc", "test_acc_last",
            "best_epoch"]
    return runs[[c for c in cols if c in runs]].reset_index(drop=True)


def mix_shares(histories: pd.DataFrame) -> pd.DataFrame:
    """Per cell that trains a second stream: the realised shares of pure-image, time-step-mixed and pure-event
    sequences over all its runs' training batches, counted from the switch step ``t*`` of every sequence
    (``switch_t1`` = all events, ``switch_t<T+1>`` = no event frame)."""
    switch = layout.columns(histories, layout.SWITCH)
    if not switch:
        return pd.DataFrame(columns=["axis", "cell", "method", "image", "mixed", "event", "sequences"])
    counts = histories.groupby(["axis", "cell", "method"], sort=False)[switch].sum()
    counts = counts[counts.sum(axis=1) > 0]
    total = counts.sum(axis=1)
    return pd.DataFrame({"image": counts[switch[-1]] / total, "mixed": counts[switch[1:-1]].sum(axis=1) / total,
                         "event": counts[switch[0]] / total, "sequences": total.astype(int)}).reset_index()


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


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The cell table as text: accuracies in % as ``mean ± std``."""
    return pd.DataFrame(
        {
            "axis": table["axis"],
            "cell": table["label"],
            "method": table["method"],
            "schedule": table["schedule"],
            "event data": table["event_data"],
            "test acc. (%)": _pm(table, "test_acc"),
            "val. acc. (%)": _pm(table, "val_acc"),
            "test acc., last epoch (%)": _pm(table, "test_acc_last"),
            "seeds": table["seeds"],
        }
        | _energy_columns(table)
    )


def _points(fraction: float, spec: str) -> str:
    """``100 · fraction`` formatted by ``spec``; a comparison without an interval (NaN) shows "—"."""
    return "—" if pd.isna(fraction) else spec.format(100 * fraction)


def _interval(low: float, high: float) -> str:
    return "—" if pd.isna(low) else f"[{100 * low:+.1f}, {100 * high:+.1f}]"


def readable_comparisons(family: pd.DataFrame) -> pd.DataFrame:
    """The comparison family as text, in points: the difference, its interval at ``base.confidence``, the interval
    at its Holm step, the Holm-adjusted p, the verdict and the difference the design detects with 80 % power."""
    confidence = 100 * family["confidence"].iloc[0] if len(family) else 95
    return pd.DataFrame(
        {
            "comparison": family["comparison"],
            "question": family["question"].map(QUESTIONS),
            "difference (points)": [_points(d, "{:+.1f}") for d in family["diff"]],
            f"{confidence:g} % CI": [_interval(lo, hi) for lo, hi in zip(family["low"], family["high"])],
            "Holm-adjusted CI": [_interval(lo, hi) for lo, hi in zip(family["adj_low"], family["adj_high"])],
            "p (Holm)": [_points(p / 100, "{:.3g}") for p in family["p_holm"]],
            "seeds": family["n"],
            "verdict": family["verdict"],
            "detectable at 80 % power (points)": [_points(d, "{:.1f}") for d in family["detectable"]],
        }
    )


def headline(table: pd.DataFrame, family: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The methods (headline and controls), their paired differences against event-only training and against He et al.
    (Holm-adjusted intervals), and beside them the papers' numbers (a different dataset and scale)."""
    rows = table[table["axis"].isin(grid.METHOD_AXES)]

    def against(other: str) -> list[str]:
        found = {a: r for a, r in zip(family["a"], family.itertuples()) if r.b == other}
        return [f"{100 * found[m].diff:+.1f} [{100 * found[m].adj_low:+.1f}, {100 * found[m].adj_high:+.1f}]"
                if m in found else "" for m in rows["method"]]

    out = pd.DataFrame(
        {
            "method": rows["method"],
            f"{dataset}, this compendium: test acc. (%)": _pm(rows, "test_acc"),
            "seeds": rows["seeds"],
            "− event_only (points, Holm-adjusted CI)": against("event_only"),
            "− he2024 (points, Holm-adjusted CI)": against("he2024"),
        }
        | _energy_columns(rows)
    ).merge(PAPER, on="method", how="left").astype({"paper_top1": object}).fillna({"paper_top1": "", "paper_source": ""})
    return out.rename(
        columns={"paper_top1": "N-Caltech101, paper (VGG-SNN, T=10, 48×48): top-1 (%)", "paper_source": "source"}
    )


def findings(family: pd.DataFrame) -> list[str]:
    """One ordering sentence per comparison of the family, each read from its Holm-adjusted test
    (``tmkt.stats.family_sentence``)."""
    return [family_sentence(f"`{row.a}`", f"`{row.b}`", row._asdict()) for row in family.itertuples(index=False)]


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


def paper_claims(family: pd.DataFrame) -> pd.DataFrame:
    """Each claim of :data:`PAPER_CLAIMS` between the headline cells: the paired difference with its Holm-adjusted
    interval and whether this default reproduces it (``reproduced``: a above b; ``contradicted``: a below b;
    else ``not settled``, with the difference the design detects)."""
    rows = []
    for a, b in PAPER_CLAIMS:
        found = family[(family["a"] == a) & (family["b"] == b)]
        if found.empty:
            continue
        r = found.iloc[0]
        status = {"above": "reproduced", "below": "contradicted"}.get(
            r["verdict"], f"not settled (detectable: {100 * r['detectable']:.1f} points)")
        rows.append(dict(claim=f"{a} above {b}", difference=f"{100 * r['diff']:+.1f} points, Holm-adjusted CI "
                         f"[{100 * r['adj_low']:+.1f}, {100 * r['adj_high']:+.1f}], {r['n']} seeds", verdict=status))
    return pd.DataFrame(rows, columns=["claim", "difference", "verdict"])
