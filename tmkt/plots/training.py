"""Figures of training runs (the train notebook): learning curves, confusion, mixing and auxiliary
diagnostics, spike rates."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tmkt import layout
from tmkt.plots.style import METHOD_COLORS


def learning_curves_figure(histories: pd.DataFrame, by: str) -> plt.Figure:
    """Training loss and validation accuracy per epoch, one line per value of column ``by`` (``seed``: each run
    of a cell; ``method``: the method's colour): the mean over that group's runs, with a ± std band where the
    group holds several."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, group in histories.groupby(by, sort=False):
        color = METHOD_COLORS.get(name) if by == "method" else None
        for ax, column, scale in ((axes[0], "loss", 1.0), (axes[1], "val_acc", 100.0)):
            stats = group.groupby("epoch")[column].agg(["mean", "std", "count"])
            (line,) = ax.plot(stats.index, scale * stats["mean"], marker=".", color=color, label=f"{by} {name}"
                              if by == "seed" else str(name))
            if (stats["count"] > 1).any():
                low, high = scale * (stats["mean"] - stats["std"]), scale * (stats["mean"] + stats["std"])
                ax.fill_between(stats.index, low, high, color=line.get_color(), alpha=0.15)
    axes[0].set(xlabel="epoch", ylabel="training loss")
    axes[1].set(xlabel="epoch", ylabel="validation accuracy (%)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_figure(matrix: np.ndarray, classes: list[str]) -> plt.Figure:
    """Row-normalised confusion matrix (true class per row)."""
    matrix = np.asarray(matrix, dtype=float)
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    im = ax.imshow(100 * norm, cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(im, ax=ax, label="% of the true class")
    if len(classes) <= 20:
        ax.set_xticks(range(len(classes)), classes)
        ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted class", ylabel="true class")
    fig.tight_layout()
    return fig


def mixing_diagnostics_figure(history: pd.DataFrame) -> plt.Figure | None:
    """r_m per epoch, histogram of the switch step t*, and CKA per time step (mixed vs event stream)."""
    switch_cols, cka_cols = layout.columns(history, layout.SWITCH), layout.columns(history, layout.CKA)
    if not switch_cols:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    axes[0].plot(history["epoch"], history["r_m"], marker=".", color="k")
    axes[0].set(xlabel="epoch", ylabel="mean expected event ratio $r_m$", ylim=(0, 1))
    counts = history[switch_cols].sum().to_numpy()
    steps = np.arange(1, len(counts) + 1)
    labels = [str(s) for s in steps[:-1]] + ["none"]
    axes[1].bar(labels, counts / counts.sum(), color="0.4")
    axes[1].set(xlabel="switch step $t^*$ (first event frame)", ylabel="fraction of mixed samples")
    if cka_cols:
        for index in sorted({0, len(history) // 2, len(history) - 1}):
            epoch_row = history.iloc[index]
            axes[2].plot(range(1, len(cka_cols) + 1), epoch_row[cka_cols].to_numpy(), marker="o", label=f"epoch {int(epoch_row['epoch'])}")
        axes[2].set(xlabel="time step t", ylabel="linear CKA(mixed, event)", ylim=(0, 1),
                    xticks=range(1, len(cka_cols) + 1))
        axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def auxiliary_figure(history: pd.DataFrame) -> plt.Figure | None:
    """MAG per-frame accuracy and MRP absolute error per epoch (when those heads are trained)."""
    have = [c for c in ("mag_acc", "mrp_abs_err") if c in history and history[c].notna().any()]
    if not have:
        return None
    fig, axes = plt.subplots(1, len(have), figsize=(4.5 * len(have), 3), squeeze=False)
    for ax, col in zip(axes[0], have):
        ax.plot(history["epoch"], history[col], marker=".", color="k")
        ax.set(xlabel="epoch", ylabel={"mag_acc": "MAG per-frame accuracy", "mrp_abs_err": r"MRP $|\hat\rho - \rho|$"}[col])
    fig.tight_layout()
    return fig


def spike_rates_figure(history: pd.DataFrame) -> plt.Figure:
    """Mean spike rate per LIF layer over the epochs."""
    cols = layout.columns(history, layout.RATE)
    fig, ax = plt.subplots(figsize=(5, 3))
    for col in cols:
        ax.plot(history["epoch"], history[col], marker=".", label=col.removeprefix(layout.RATE))
    ax.set(xlabel="epoch", ylabel="spike rate (spikes / neuron / step)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
