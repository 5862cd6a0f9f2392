"""Figures of the figures stage: the ablations, the event-ratio curve, learning curves and the trained
networks' internals per method. Inputs are tables from ``tmkt.grid`` (one row per run = per seed);
every plot shows the per-seed points beside the mean ± std.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from tmkt import layout
from tmkt.plots.style import METHOD_COLORS, REFERENCE_COLOR


@contextmanager
def seeded_jitter(seed: int = 0):
    """seaborn's strip-plot jitter draws from numpy's global generator: seed it for one plot, so that the same runs
    give the same picture, and give the caller's generator state back afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def ablation_figure(runs: pd.DataFrame, reference: str, title: str, xlabel: str, ax: plt.Axes | None = None) -> plt.Figure:
    """Test accuracy per axis value (column ``value``): seeds as dots, mean ± std as a bar; the reference in red."""
    fig, ax = (plt.subplots(figsize=(5.5, 3.4)) if ax is None else (ax.figure, ax))
    order = [reference] + [v for v in dict.fromkeys(runs["value"]) if v != reference]
    palette = {v: REFERENCE_COLOR if v == reference else "0.45" for v in order}
    data = runs.assign(test=100 * runs["test_acc"])
    sns.pointplot(data=data, x="value", y="test", order=order, errorbar="sd", hue="value", palette=palette,
                  linestyle="none", markers="_", markersize=18, capsize=0.25, legend=False, ax=ax)
    with seeded_jitter():
        sns.stripplot(data=data, x="value", y="test", order=order, hue="value", palette=palette, size=5, alpha=0.7,
                      jitter=0.12, legend=False, ax=ax)
    ax.set(xlabel=xlabel, ylabel="test accuracy (%)", title=title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def ratio_curve_figure(runs: pd.DataFrame) -> plt.Figure:
    """Test accuracy against the fraction of event training data (log axis), one curve per method."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for method, group in runs.groupby("method", sort=False):
        color = METHOD_COLORS.get(method, "k")
        stats = group.groupby("event_fraction")["test_acc"].agg(["mean", "std"]).sort_index()
        ax.errorbar(100 * stats.index, 100 * stats["mean"], yerr=100 * stats["std"], color=color, marker="o",
                    capsize=3, label=method)
        ax.scatter(100 * group["event_fraction"], 100 * group["test_acc"], color=color, s=12, alpha=0.45)
    ax.set_xscale("log")
    fractions = np.sort(runs["event_fraction"].unique())
    ax.set_xticks(100 * fractions, [f"{100 * f:g}" for f in fractions])
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
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for row in table.itertuples():
        color = METHOD_COLORS.get(row.method, "k")
        ax.errorbar(row.energy_uj_mean, 100 * row.test_acc_mean, xerr=row.energy_uj_std, yerr=100 * row.test_acc_std,
                    fmt="o", color=color, ecolor=color, alpha=0.85, capsize=2)
        ax.annotate(f"{row.axis}/{row.cell}" if row.axis != "reference" else "reference", (row.energy_uj_mean,
                    100 * row.test_acc_mean), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ann = table["ann_energy_uj_mean"].median()
    ax.axvline(ann, color="0.4", linestyle="--", linewidth=1)
    ax.annotate("same network as an ANN", (ann, ax.get_ylim()[0]), fontsize=7, rotation=90, va="bottom", ha="right",
                color="0.3")
    for method, color in METHOD_COLORS.items():
        if method in set(table["method"]):
            ax.plot([], [], "o", color=color, label=method)
    ax.set(xlabel=f"energy per test recording (µJ; {energy.e_ac_pj:g} pJ/AC, {energy.e_mac_pj:g} pJ/MAC)",
           ylabel="test accuracy (%)",
           title="Accuracy against the energy of one inference (mean ± std over seeds)")
    ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
