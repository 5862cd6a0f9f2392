"""Figures shared by the notebooks. Each function draws on matplotlib axes and returns the figure.

Event frames are shown as ON - OFF counts on a diverging colour map (red ON, blue OFF); images as the
HSV value channel in grey, which is what the network sees of them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

EVENT_CMAP = "RdBu_r"


def polarity_image(frames) -> np.ndarray:
    """OFF/ON frames ``(..., 2, H, W)`` -> ON - OFF ``(..., H, W)``."""
    frames = np.asarray(frames, dtype=np.float32)
    return frames[..., 1, :, :] - frames[..., 0, :, :]


def polarity_limit(frames) -> float:
    """Colour limit shared by event panels: :math:`\\max |\\mathrm{ON} - \\mathrm{OFF}|` over frames ``(..., 2, H, W)``.

    1.0 when every frame is empty, so that ``imshow`` still gets a valid symmetric range.
    """
    return float(np.abs(polarity_image(frames)).max(initial=0.0)) or 1.0


def event_panel(ax, frame, vmax: float) -> None:
    """An event frame (2, H, W) as ON - OFF on :data:`EVENT_CMAP`, symmetric about 0, without ticks."""
    ax.imshow(polarity_image(frame), cmap=EVENT_CMAP, vmin=-vmax, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])


def pairs_figure(images: np.ndarray, events: np.ndarray, titles: list[str]) -> plt.Figure:
    """Row 1: images (H, W); row 2: event activity of the recordings (T, 2, H, W), ON + OFF over all bins.

    Activity, not ON - OFF: over a whole recording the saccades return to their start, so the two
    polarities largely cancel per pixel (the per-bin figure shows them apart).
    """
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.4 * n, 3.1), squeeze=False)
    activity = np.asarray(events, dtype=np.float32).sum(axis=(1, 2))
    for i in range(n):
        axes[0, i].imshow(images[i], cmap="gray", vmin=0, vmax=255)
        axes[0, i].set_title(titles[i], fontsize=9)
        axes[1, i].imshow(activity[i], cmap="magma", vmin=0, vmax=float(activity[i].max()) or 1.0)
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("image (V)")
    axes[1, 0].set_ylabel("events\n(ON + OFF)")
    fig.tight_layout()
    return fig


def time_bins_figure(recordings: np.ndarray, labels: list[str], bin_ms: float | None = None) -> plt.Figure:
    """Each row one recording (T, 2, H, W), each column one time bin."""
    recordings = np.asarray(recordings, dtype=np.float32)
    n, steps = recordings.shape[:2]
    fig, axes = plt.subplots(n, steps, figsize=(1.3 * steps, 1.35 * n), squeeze=False)
    vmax = polarity_limit(recordings)
    for r in range(n):
        for t in range(steps):
            event_panel(axes[r, t], recordings[r, t], vmax)
            if r == 0:
                span = f"\n{t * bin_ms:.0f}-{(t + 1) * bin_ms:.0f} ms" if bin_ms else ""
                axes[r, t].set_title(f"t = {t + 1}{span}", fontsize=8)
        axes[r, 0].set_ylabel(labels[r], rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def event_count_figure(manifest: pd.DataFrame) -> plt.Figure:
    """Histogram of events per recording, and its median per class."""
    events = manifest[manifest["modality"] == "event"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
    ax1.hist(events["n_events"], bins=40, color="0.35")
    ax1.set_xlabel("events per recording")
    ax1.set_ylabel("recordings")
    per_class = events.groupby("class_name")["n_events"].median().sort_values()
    if len(per_class) > 30:  # many classes: show the spread, not every name
        ax2.plot(np.arange(len(per_class)), per_class.to_numpy(), ".", color="0.35")
        ax2.set_xlabel("class (sorted by median)")
    else:
        ax2.bar(per_class.index.astype(str), per_class.to_numpy(), color="0.35")
        ax2.set_xlabel("class")
    ax2.set_ylabel("median events per recording")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------- training
METHOD_COLORS = {"event_only": "#7f7f7f", "finetune": "#9467bd", "he2024": "#1f77b4", "tmkt": "#d62728"}


def learning_curves_figure(histories: dict[str, pd.DataFrame]) -> plt.Figure:
    """Training loss and validation accuracy per epoch; one line per run (e.g. per seed)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, h in histories.items():
        ax1.plot(h["epoch"], h["loss"], marker=".", label=name)
        ax2.plot(h["epoch"], 100 * h["val_acc"], marker=".", label=name)
    ax1.set(xlabel="epoch", ylabel="training loss")
    ax2.set(xlabel="epoch", ylabel="validation accuracy (%)")
    ax2.legend(fontsize=8)
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


def _columns(history: pd.DataFrame, prefix: str) -> list[str]:
    return [c for c in history.columns if c.startswith(prefix)]


def mixing_diagnostics_figure(history: pd.DataFrame) -> plt.Figure | None:
    """r_m per epoch, histogram of the switch step t*, and CKA per time step (mixed vs event stream)."""
    switch_cols, cka_cols = _columns(history, "switch_t"), _columns(history, "cka_t")
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
    cols = _columns(history, "rate_")
    fig, ax = plt.subplots(figsize=(5, 3))
    for col in cols:
        ax.plot(history["epoch"], history[col], marker=".", label=col.removeprefix("rate_"))
    ax.set(xlabel="epoch", ylabel="spike rate (spikes / neuron / step)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
