"""What the results show and what they do not: the closing section of the figures stage, written from the
evidence alone.

Every statement is generated from the comparison family (``tmkt.results.tables.comparison_table``, Holm-corrected),
the realised mix shares (``tables.mix_shares``), the per-cell convergence check (``convergence.cell_convergence``)
and the parameters; nothing here is typed in by hand except the sentence frames. The decisive question comes first:
is time-step mixup better than sample-level replacement where the two differ? Findings that go against TMKT are
listed as prominently as those for it.
"""

from __future__ import annotations

import pandas as pd

from tmkt.config import Params
from tmkt.results.convergence import points_text

#: The questions of ``tmkt.grid.comparisons``, in the order the section answers them, with their headings.
SECTIONS = (
    ("timestep-vs-sample", "Time-step mixup against sample-level replacement (matched schedules)"),
    ("sim-to-real-vs-mixing", "Sim-to-real transfer against mixing"),
    ("images", "What the images buy"),
    ("mixing", "What mixing and alignment add to joint training"),
    ("variant", "Controls and reconstructions"),
)


def _points(x: float) -> str:
    return f"{100 * x:+.1f}"


def _statement(row) -> str:
    """One comparison as a clause: its verdict, difference and adjusted interval, or what it could have detected."""
    interval = f"{_points(row.diff)} points, Holm-adjusted CI [{_points(row.adj_low)}, {_points(row.adj_high)}], {row.n} seeds"
    if row.verdict in ("above", "below"):
        return f"`{row.a}` is **{row.verdict}** `{row.b}` ({interval})"
    return (f"`{row.a}` is **not distinguishable** from `{row.b}` ({interval}; the design detects "
            f"{100 * row.detectable:.1f} points with 80 % power)")


def _shares_clause(shares: pd.DataFrame, label: str) -> str:
    found = shares[shares["label"] == label]
    if found.empty:
        return ""
    r = found.iloc[0]
    return (f"`{label}` trained on {100 * r.image:.0f} % pure-image, {100 * r.mixed:.0f} % time-step-mixed and "
            f"{100 * r.event:.0f} % pure-event sequences")


def against_tmkt(family: pd.DataFrame) -> pd.DataFrame:
    """The comparisons that go against TMKT: TMKT below the other side, or a TMKT variant or schedule not above it."""
    tmkt_a = family["a"].str.startswith("tmkt")
    return family[(tmkt_a & (family["verdict"] == "below")) | (family["b"].str.startswith("tmkt") & (family["verdict"] == "above"))]


def conclusions(family: pd.DataFrame, shares: pd.DataFrame, cells: pd.DataFrame, params: Params, dataset: str,
                time_steps: int) -> str:
    """The section "What these results show and what they do not" as Markdown.

    ``family``: the comparison table; ``shares``: realised mix shares per cell with a ``label`` column;
    ``cells``: the per-cell convergence table (``axis``, ``cell``, ``converged``, ``mean_gain``); ``time_steps``: T
    of the processed data.
    """
    alpha = 1 - family["confidence"].iloc[0] if len(family) else 1 - params.base.confidence
    lines = ["## What these results show and what they do not", ""]
    lines += [f"Every ordering below is a paired difference of test accuracy (same seed: same initial weights, batches "
              f"and scarce recordings), read from Holm's step-down test over all {len(family)} comparisons at "
              f"family-wise level {alpha:g}; beside each \"not distinguishable\" stands the difference the design "
              "would have detected with 80 % power.", ""]
    for question, heading in SECTIONS:
        rows = family[family["question"] == question]
        if rows.empty:
            continue
        lines += [f"**{heading}.**", ""]
        for row in rows.itertuples(index=False):
            lines.append(f"- {_statement(row)}.")
        if question == "timestep-vs-sample":
            mixed = [c for c in (_shares_clause(shares, label) for label in rows["a"]) if c]
            if mixed:
                lines.append(f"- Realised mixing: {'; '.join(mixed)} (sample-level replacement mixes none).")
        lines.append("")
    contra = against_tmkt(family)
    lines += ["**Against TMKT.** " + ("; ".join(_statement(r) for r in contra.itertuples(index=False)) + "."
                                      if len(contra) else "No comparison places TMKT below another cell."), ""]
    late = cells[~cells["converged"]]
    tolerance = points_text(params.figures.convergence_tolerance)
    lines += ["**Convergence.** " + (
        f"Every cell converged by the criterion fixed before the runs (mean last-quarter gain ≤ {tolerance})."
        if late.empty else
        f"{len(late)} of {len(cells)} cells did not converge by the criterion fixed before the runs (mean last-quarter "
        f"gain ≤ {tolerance}): " + ", ".join(f"`{r.axis}/{r.cell}` (+{100 * r.mean_gain:.1f})"
                                                       for r in late.itertuples())
        + "; comparisons involving them measure how fast a method learns, not where it ends."), ""]
    sim = params.scarcity
    share = (f"{100 * sim.event_fraction:g} % of each class's training recordings" if sim.event_fraction is not None
             else f"{sim.event_per_class} training recordings per class")
    lines += ["**What they do not show.** These runs use " + share + f" of `{dataset}`"
              + (", recordings the compendium's own simulator makes from the very digits they are paired with "
                 "(a proxy for a sensor, not a sensor)" if dataset == "mnist_sim" else "")
              + f", T = {time_steps} time steps and a network of width ×{params.model.width:g}. "
              + ("The default's regime (scarce, noisy recordings) was chosen where earlier pilots found images to help "
                 "at all (`studies/factors.py` separates the factors). " if dataset == "mnist_sim" else "")
              + "How the orderings move with more recordings is "
              + ("the data-ratio curve above" if params.ablate.event_ratio.fractions else
                 "the data-ratio curve of the profiles (`studies/profiles/full.yaml` on the simulated default, "
                 "`studies/profiles/nmnist_ratio.yaml` on real N-MNIST)")
              + ", and nothing here speaks for the papers' datasets and scale. The reconstructed terms (MAG, MRP, shared "
              "heads) test this compendium's reading of the papers, not the papers' unreleased code.", ""]
    return "\n".join(lines)

