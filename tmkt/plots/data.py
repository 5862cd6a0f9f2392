"""Figures of the converted data (the convert notebook): image/recording pairs, time bins, event counts."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tmkt.plots.style import event_panel, polarity_limit


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
