"""Figures of the figures stage that compare cells: the forest plot of the comparison family
(``tmkt.results.tables.comparison_table``, a ``tmkt.stats.family_table``), the event-ratio curve, the trained
networks' internals per method and accuracy against energy. Inputs are tables of finished runs
(``tmkt.layout.load_runs``: one row per run = per seed) or of cells (``tmkt.results.tables.cell_table``); the
event-ratio curve shows the per-seed points beside the mean ± std.
"""

from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tmkt import layout
from tmkt.plots.style import METHOD_COLORS, plain_log_axis, spread, within_unit

#: Font size (points) of the accuracy-energy figure's cell labels.
LABEL_PT = 7


def ratio_curve_figure(runs: pd.DataFrame) -> plt.Figure:
    """Test accuracy against the fraction of event training data (log axis), one curve per method."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for method, group in runs.groupby("method", sort=False):
        color = METHOD_COLORS.get(method, "k")
        stats = group.groupby("event_fraction")["test_acc"].agg(["mean", "std"]).sort_index()
        ax.errorbar(100 * stats.index, 100 * stats["mean"], yerr=100 * stats["std"], color=color, marker="o",
                    capsize=3, label=method)
        ax.scatter(100 * group["event_fraction"], 100 * group["test_acc"], color=color, s=12, alpha=0.45)
    plain_log_axis(ax, "x", ticks=100 * np.sort(runs["event_fraction"].unique()))
    ax.set(xlabel="event training data (% of the training recordings, log scale)", ylabel="test accuracy (%)",
           title="Event-data ratio (mean ± std over seeds; dots: seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def internals_figure(last_epochs: pd.DataFrame) -> plt.Figure:
    """Left: CKA(mixed, event) per time step (methods with a mixed stream); right: spike rate per LIF layer.

    ``last_epochs``: one history row (the last epoch) per run, with a ``method`` column.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    cka, rates = layout.columns(last_epochs, layout.CKA), layout.columns(last_epochs, layout.RATE)
    for method, group in last_epochs.groupby("method", sort=False):
        color = METHOD_COLORS.get(method, "k")
        if cka and group[cka].notna().all().all():
            values = group[cka].to_numpy()
            ax1.errorbar(range(1, len(cka) + 1), values.mean(0), yerr=values.std(0, ddof=1) if len(values) > 1 else None,
                         marker="o", capsize=3, color=color, label=method)
        values = group[rates].to_numpy()
        ax2.plot(range(len(rates)), values.mean(0), marker="o", color=color, label=method)
    ax1.set(xlabel="time step t", ylabel="linear CKA(mixed, event)", ylim=(0, 1), xticks=range(1, len(cka) + 1),
            title="Feature alignment, last epoch")
    ax2.set_xticks(range(len(rates)), [r.removeprefix(layout.RATE) for r in rates])
    ax2.set(xlabel="LIF layer", ylabel="spike rate (spikes / neuron / step)", title="Spike rates, last epoch")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def accuracy_energy_figure(table: pd.DataFrame, energy) -> plt.Figure:
    """Test accuracy against energy per test recording, one point per cell of a cell table (mean ± std over seeds,
    coloured by method), with the same network run as an ANN for scale; ``energy``: the ``energy:`` section."""
    fig, ax = plt.subplots(figsize=(8, 4.6))
    for row in table.itertuples():
        color = METHOD_COLORS.get(row.method, "k")
        ax.errorbar(row.energy_uj_mean, 100 * row.test_acc_mean, xerr=row.energy_uj_std, yerr=100 * row.test_acc_std,
                    fmt="o", color=color, ecolor=color, alpha=0.85, capsize=2)
    ann = table["ann_energy_uj_mean"].median()
    # labels in a column right of the axes, each with a line to its point, spread so that no two overlap: the gap
    # between neighbours is one label's height (LABEL_PT, 1.4 lines) as a fraction of the axes' fixed height
    fig.subplots_adjust(left=0.09, right=0.74, bottom=0.12, top=0.91)
    low, high = ax.get_ylim()
    ax.set_ylim(low, high)
    gap = 1.4 * LABEL_PT / 72 / (fig.get_figheight() * (0.91 - 0.12))
    label_y = within_unit(spread(list((100 * table["test_acc_mean"] - low) / (high - low)), gap))
    for row, y in zip(table.itertuples(), label_y, strict=True):
        ax.annotate(row.label, (row.energy_uj_mean, 100 * row.test_acc_mean), xytext=(1.03, y),
                    textcoords="axes fraction", fontsize=LABEL_PT, va="center",
                    color=METHOD_COLORS.get(row.method, "k"), arrowprops=dict(arrowstyle="-", color="0.6",
                                                                                linewidth=0.5))
    ax.axvline(ann, color="0.4", linestyle="--", linewidth=1)
    ax.annotate("same network as an ANN", (ann, ax.get_ylim()[0]), fontsize=7, rotation=90, va="bottom", ha="right",
                color="0.3")
    for method, color in METHOD_COLORS.items():
        if method in set(table["method"]):
            ax.plot([], [], "o", color=color, label=method)
    ax.set(xlabel=f"energy per test recording (µJ; {energy.e_ac_pj:g} pJ/AC, {energy.e_mac_pj:g} pJ/MAC)",
           ylabel="test accuracy (%)",
           title="Accuracy against the energy of one inference (mean ± std over seeds)")
    plain_log_axis(ax, "x")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower center")
    return fig


def forest_figure(family: pd.DataFrame, title: str = "") -> plt.Figure:
    """A forest plot of a ``tmkt.stats.family_table``: one row per comparison (top to bottom in table order), in
    points (100 x fractions) about a vertical zero line; the unadjusted interval as a thin line, the Holm-adjusted
    one as a thick line, the mean as a marker (filled where Holm rejects, hollow where not distinguishable); the
    Holm-adjusted p-values as labels on the right. The height grows with the number of rows."""
    rows = len(family)
    fig, ax = plt.subplots(figsize=(7.5, 1.6 + 0.42 * max(rows, 1)), layout="constrained")
    y = np.arange(rows)[::-1]
    color = "0.15"
    ax.axvline(0, color="0.5", linewidth=1, linestyle="--", zorder=0)
    ax.hlines(y, 100 * family["adj_low"], 100 * family["adj_high"], color=color, linewidth=4, alpha=0.55, zorder=1)
    ax.hlines(y, 100 * family["low"], 100 * family["high"], color=color, linewidth=1, zorder=2)
    rejected = family["verdict"].isin(["above", "below"]).to_numpy()
    ax.scatter(100 * family["diff"][rejected], y[rejected], marker="o", s=40, color=color, zorder=3)
    ax.scatter(100 * family["diff"][~rejected], y[~rejected], marker="o", s=40, facecolor="white", edgecolor=color,
               linewidth=1.3, zorder=3)
    ax.set_yticks(y, family["comparison"].astype(str))
    ax.set_ylim(-0.7, rows - 0.3)
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    right.set_yticks(y, [f"p_Holm {p:.2g}" if p >= 0.001 else "p_Holm < 0.001" for p in family["p_holm"]],
                     fontsize=8)
    right.tick_params(length=0)
    confidence = family["confidence"].iloc[0] if rows else float("nan")
    level = f"{100 * confidence:g} %" if rows else ""
    handles = [plt.Line2D([], [], color=color, linewidth=1, label=f"{level} CI, unadjusted"),
               plt.Line2D([], [], color=color, linewidth=4, alpha=0.55,
                          label=f"CI at its Holm step ({level} family-wise)"),
               plt.Line2D([], [], marker="o", color=color, linestyle="none", label="mean; Holm rejects 0"),
               plt.Line2D([], [], marker="o", markerfacecolor="white", markeredgecolor=color, linestyle="none",
                          label="mean; not distinguishable")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.set(xlabel="paired difference (points)", title=title)
    ax.grid(axis="x", alpha=0.3)
    return fig
