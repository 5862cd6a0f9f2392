"""Figures of training dynamics across cells, read from the runs' ``history.csv`` (``tmkt.layout.histories``).

* :func:`paired_epoch_difference_figure`: where two cells trained with the same seeds part ways. For each epoch
  ``e`` and each seed ``s`` run by both cells, ``d_{s,e} = 100 (acc^a_{s,e} - acc^b_{s,e})`` (validation accuracy,
  points); the figure shows the per-seed curves, their mean ``dbar_e = mean_s d_{s,e}`` and the band
  ``dbar_e ± SE_e`` with the standard error over the ``n_e`` seeds ``SE_e = sd_s(d_{s,e}) / sqrt(n_e)`` (``sd``
  with ``n_e - 1`` degrees of freedom). On a twin axis: the schedule's expected event ratio ``r_m`` of ``a`` and
  the realised share of time-step-mixed sequences of each cell. With ``c_{t,e}`` the count of sequences (summed
  over the shared seeds) whose first event frame was step ``t`` (``t = T + 1``: none) and ``N_e = sum_t c_{t,e}``,
  the shares are ``p_event = c_1 / N`` (all-event), ``p_image = c_{T+1} / N`` (pure image) and
  ``p_mixed = 1 - p_event - p_image`` (image first, then events).
* :func:`step_weights_figure`: the learnable CKA step weights ``w_t = sigmoid(eta_t)`` over the epochs, mean over
  seeds, one line per step ``t``, one panel per cell that learns them.
* :func:`loss_terms_figure`: the epoch means (then the mean over seeds) of every loss term a cell trains (TET of
  the mixed and of the event stream, CKA alignment, MAG, MRP), one panel per cell; log-scale y where the values
  span more than a factor 100.
* :func:`auxiliary_baselines_figure`: the MAG and MRP losses against the loss of the best constant predictor
  given the batch (``tmkt.method.losses``: ``H(pi)`` with the batch's event share ``pi`` for MAG, the spread of
  ``rho`` about its mean or median for MRP), and the MAG accuracy against ``max(pi, 1 - pi)``. A head whose loss
  is not below (accuracy not above) its baseline has learnt nothing beyond the batch's event share.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import cm, colors
from matplotlib.lines import Line2D

from tmkt import layout
from tmkt.plots.style import plain_log_axis

#: The loss terms of :func:`loss_terms_figure`, with their legend labels and colours.
LOSS_TERMS: dict[str, str] = {
    "tet_mixed": "TET (mixed stream)",
    "tet_event": "TET (event stream)",
    "da_loss": "CKA alignment",
    "mag_loss": "MAG",
    "mrp_loss": "MRP",
}
LOSS_COLORS: dict[str, str] = dict(zip(LOSS_TERMS, ("C0", "C1", "C2", "C3", "C4")))
#: Above this ratio of the largest to the smallest plotted value, a loss panel gets a log-scale y axis.
LOG_RANGE = 100.0


# ------------------------------------------------------------------------------ helpers
def _present(table: pd.DataFrame, column: str) -> bool:
    """Whether ``table`` has ``column`` with at least one value."""
    return column in table and table[column].notna().any()


def _epoch_mean(table: pd.DataFrame, column: str) -> pd.Series:
    """``column`` per epoch, mean over seeds (epochs without a value dropped)."""
    return table.groupby("epoch")[column].mean().dropna()


def _grid(n: int, width: float = 4.2, height: float = 3.2, max_cols: int = 4):
    """A figure with ``n`` panels on a grid of at most ``max_cols`` columns (surplus panels hidden)."""
    ncols = min(n, max_cols)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


# ------------------------------------------------------------------------------ paired difference
def shared_seeds(a: pd.DataFrame, b: pd.DataFrame) -> list:
    """The seeds run by both cells, sorted."""
    return sorted(set(a["seed"]) & set(b["seed"]))


def paired_differences(a: pd.DataFrame, b: pd.DataFrame, column: str = "val_acc") -> pd.DataFrame:
    """``100 (a - b)`` of ``column`` per epoch (rows) and shared seed (columns); epochs run by both only."""
    seeds = shared_seeds(a, b)
    wide_a = a[a["seed"].isin(seeds)].pivot_table(index="epoch", columns="seed", values=column)
    wide_b = b[b["seed"].isin(seeds)].pivot_table(index="epoch", columns="seed", values=column)
    return 100.0 * wide_a.sub(wide_b).dropna(how="all")


def mixed_share(history: pd.DataFrame) -> pd.Series:
    """Realised share of time-step-mixed sequences per epoch, ``1 - c_1 / N - c_{T+1} / N`` of the switch counts
    summed over the runs in ``history``; empty when it has no switch counts."""
    cols = layout.columns(history, layout.SWITCH)
    if len(cols) < 2 or not history[cols].notna().any().any():
        return pd.Series(dtype=float)
    counts = history.groupby("epoch")[cols].sum(min_count=1)
    total = counts.sum(axis=1)
    share = 1.0 - counts[cols[0]] / total - counts[cols[-1]] / total
    return share[total > 0].dropna()


def paired_epoch_difference_figure(a: pd.DataFrame, b: pd.DataFrame, label_a: str, label_b: str) -> plt.Figure:
    """Validation accuracy of ``a`` minus that of ``b`` per epoch over the seeds both ran: per-seed curves, the
    mean and ± one standard error over seeds (points); on a twin axis ``r_m`` of ``a`` and the realised share of
    time-step-mixed sequences of each cell. Below: both cells' accuracies (mean ± SE over the shared seeds)."""
    seeds = shared_seeds(a, b)
    a, b = a[a["seed"].isin(seeds)], b[b["seed"].isin(seeds)]
    diff = paired_differences(a, b)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.2), sharex=True, height_ratios=(3, 2))
    for seed in diff.columns:
        top.plot(diff.index, diff[seed], color="0.5", lw=0.7, alpha=0.4, label=f"_seed {seed}")
    mean, se = diff.mean(axis=1), diff.std(axis=1, ddof=1) / np.sqrt(diff.count(axis=1))
    top.fill_between(diff.index, mean - se, mean + se, color="k", alpha=0.15, label="± 1 SE over seeds")
    top.plot(diff.index, mean, color="k", marker=".", label=f"mean difference ({len(seeds)} seeds)")
    top.axhline(0.0, color="0.3", lw=0.8, ls=":", label="_zero")
    top.set(ylabel=f"val. accuracy {label_a} − {label_b}\n(points)",
            title=f"{label_a} − {label_b}, paired by seed (thin: each seed)")
    top.grid(alpha=0.3)
    handles, labels = top.get_legend_handles_labels()
    twin_lines = {
        f"$r_m$ ({label_a})": (_epoch_mean(a, "r_m") if _present(a, "r_m") else pd.Series(dtype=float), "C2", "-"),
        f"mixed share ({label_a})": (mixed_share(a), "C3", "--"),
        f"mixed share ({label_b})": (mixed_share(b), "C0", "--"),
    }
    if any(len(series) for series, _, _ in twin_lines.values()):
        twin = top.twinx()
        for label, (series, color, style) in twin_lines.items():
            if len(series):
                twin.plot(series.index, series.to_numpy(), color=color, ls=style, marker=".", label=label)
        twin.set(ylim=(0, 1), ylabel="share of sequences / $r_m$")
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    top.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.16, 1.0), borderaxespad=0)
    for table, label, color in ((a, label_a, "C3"), (b, label_b, "C0")):
        acc = 100.0 * table.pivot_table(index="epoch", columns="seed", values="val_acc")
        acc_mean, acc_se = acc.mean(axis=1), acc.std(axis=1, ddof=1) / np.sqrt(acc.count(axis=1))
        bottom.fill_between(acc.index, acc_mean - acc_se, acc_mean + acc_se, color=color, alpha=0.15)
        bottom.plot(acc.index, acc_mean, color=color, marker=".", label=label)
    bottom.set(xlabel="epoch", ylabel="validation accuracy (%)")
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.16, 1.0), borderaxespad=0)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------ step weights
def step_weights_figure(histories: pd.DataFrame) -> plt.Figure | None:
    """The learned CKA step weights ``w_t = sigmoid(eta_t)`` per epoch (mean over seeds), one line per step ``t``
    coloured by ``t``, one panel per cell that learns them; None when no run has step weights."""
    cols = [c for c in layout.columns(histories, layout.DA_WEIGHT) if histories[c].notna().any()]
    if not cols:
        return None
    cells = [cell for cell, group in histories.groupby("cell", sort=False) if group[cols].notna().any().any()]
    steps = len(layout.columns(histories, layout.DA_WEIGHT))
    cmap = plt.get_cmap("viridis")
    norm = colors.BoundaryNorm(np.arange(0.5, steps + 1.5), cmap.N)
    fig, axes = _grid(len(cells), width=4.0, height=3.0)
    for ax, cell in zip(axes, cells):
        group = histories[histories["cell"] == cell]
        for col in cols:
            if group[col].notna().any():
                t = int(col.removeprefix(layout.DA_WEIGHT))
                weights = _epoch_mean(group, col)
                ax.plot(weights.index, weights.to_numpy(), marker=".", color=cmap(norm(t)), label=f"t = {t}")
        ax.set(title=str(cell), xlabel="epoch", ylabel=r"$w_t = \sigma(\eta_t)$", ylim=(0, 1))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="time step t",
                 ticks=range(1, steps + 1))
    return fig


# ------------------------------------------------------------------------------ loss terms
def loss_terms_figure(histories: pd.DataFrame) -> plt.Figure:
    """The epoch means (mean over seeds) of each loss term a cell trains, one panel per cell with two streams (a
    single-stream cell's loss is its one TET term, the history's ``loss``); terms without values are left out, and a
    panel whose values span more than :data:`LOG_RANGE` gets a log-scale y."""
    cells = [cell for cell, group in histories.groupby("cell", sort=False)
             if any(_present(group, term) for term in LOSS_TERMS)]
    fig, axes = _grid(len(cells), width=4.2, height=3.2)
    for ax, cell in zip(axes, cells):
        group = histories[histories["cell"] == cell]
        plotted = []
        for term, label in LOSS_TERMS.items():
            if _present(group, term):
                values = _epoch_mean(group, term)
                ax.plot(values.index, values.to_numpy(), marker=".", color=LOSS_COLORS[term], label=label)
                plotted.append(values.to_numpy())
        values = np.concatenate(plotted) if plotted else np.array([])
        if values.size and (values > 0).all() and values.max() / values.min() > LOG_RANGE:
            plain_log_axis(ax, "y")
        ax.set(title=str(cell), xlabel="epoch", ylabel="epoch mean of the term")
        ax.grid(alpha=0.3, which="major")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------ auxiliary heads
#: What the title of an auxiliary panel says of a head that does not beat its baseline.
NOTHING_LEARNT = "nothing learnt beyond the batch's event share"
#: (head column, baseline column, panel title) of :func:`auxiliary_baselines_figure`, in panel order.
AUX_PANELS: tuple[tuple[str, str, str], ...] = (
    ("mag_loss", "mag_base_loss", f"MAG loss vs constant predictor H(π)\n(not below it: {NOTHING_LEARNT})"),
    ("mrp_loss", "mrp_base_loss", f"MRP loss vs constant predictor\n(not below it: {NOTHING_LEARNT})"),
    ("mag_acc", "mag_base_acc", f"MAG accuracy vs max(π, 1 − π)\n(not above it: {NOTHING_LEARNT})"),
)


def auxiliary_baselines_figure(histories: pd.DataFrame) -> plt.Figure | None:
    """MAG and MRP losses (top row) and the MAG accuracy (second row) per epoch, mean over seeds, each cell in its
    colour: solid the head, dashed its constant-predictor baseline. None when no cell trains MAG or MRP."""
    heads = [panel for panel in AUX_PANELS if _present(histories, panel[0])]
    if not any(head in ("mag_loss", "mrp_loss") for head, _, _ in heads):
        return None
    top = [p for p in heads if p[0] != "mag_acc"]
    bottom = [p for p in heads if p[0] == "mag_acc"]
    nrows, ncols = 1 + bool(bottom), len(top)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.4 * nrows), squeeze=False)
    for ax in axes[1][1:] if bottom else []:
        ax.set_visible(False)
    cells = [cell for cell, group in histories.groupby("cell", sort=False)
             if any(_present(group, head) for head, _, _ in heads)]
    cell_colors = {cell: f"C{i % 10}" for i, cell in enumerate(cells)}
    for ax, (head, base, title) in zip([*axes[0], *axes[1][:1]] if bottom else axes[0], top + bottom):
        for cell in cells:
            group = histories[histories["cell"] == cell]
            if not _present(group, head):
                continue
            values = _epoch_mean(group, head)
            ax.plot(values.index, values.to_numpy(), color=cell_colors[cell], marker=".", label=str(cell))
            if _present(group, base):
                baseline = _epoch_mean(group, base)
                ax.plot(baseline.index, baseline.to_numpy(), color=cell_colors[cell], ls="--",
                        label=f"{cell} (constant predictor)")
        ax.set(title=title, xlabel="epoch", ylabel="accuracy" if head == "mag_acc" else "loss")
        ax.title.set_fontsize(8)
        ax.grid(alpha=0.3)
        key = [Line2D([], [], color="0.3", label="head"),
               Line2D([], [], color="0.3", ls="--", label="constant predictor")]
        shown = [c for c in cells if _present(histories[histories["cell"] == c], head)]
        key += [Line2D([], [], color=cell_colors[c], label=str(c)) for c in shown]
        ax.legend(handles=key, fontsize=7)
    fig.tight_layout()
    return fig


def dynamics_figures(histories: pd.DataFrame, comparisons) -> dict[str, plt.Figure]:
    """The figures stage's dynamics figures by file name. ``histories``: per-epoch rows of every run with a
    ``label`` column (the cell's label); ``comparisons``: ``tmkt.grid.comparisons``. For each comparison whose
    question is "timestep-vs-sample", the paired per-epoch difference (``epoch_difference_<a's name>``); then
    ``step_weights``, ``loss_terms`` and ``auxiliary_baselines`` where the runs logged what they show."""
    by_label = histories.assign(cell=histories["label"])
    out = {f"epoch_difference_{pair.a.name}": paired_epoch_difference_figure(
        by_label[by_label["cell"] == pair.a.label], by_label[by_label["cell"] == pair.b.label], pair.a.label,
        pair.b.label) for pair in comparisons if pair.question == "timestep-vs-sample"}
    for name, draw in (("step_weights", step_weights_figure), ("loss_terms", loss_terms_figure),
                       ("auxiliary_baselines", auxiliary_baselines_figure)):
        fig = draw(by_label)
        if fig is not None:
            out[name] = fig
    return out
