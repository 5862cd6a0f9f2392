"""Figures of the converted data (the convert notebook): image/recording pairs and their alignment, time bins,
event counts; and which image to show beside a recording."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tmkt.plots.style import event_panel, frame_unit, polarity_limit


def accumulated(events: np.ndarray) -> np.ndarray:
    """The accumulated event image of recordings (N, T, 2, H, W): ON + OFF counts summed over the T bins, (N, H, W)."""
    return np.asarray(events, dtype=np.float32).sum(axis=(1, 2))


def image_rows(manifest: pd.DataFrame, recordings: pd.DataFrame) -> tuple[np.ndarray, list[bool]]:
    """Rows of ``images.npy`` to show beside ``recordings`` (event rows of the manifest), and whether each is the
    recording's source image: the image with its ``pair_key``, else (key unknown or image not converted) the
    first image of its class."""
    images = manifest[manifest["modality"] == "image"]
    by_key = images[images["pair_key"].notna()].drop_duplicates("pair_key").set_index("pair_key")["row"]
    by_class = images.drop_duplicates("class_name").set_index("class_name")["row"]
    matched = [bool(pd.notna(key) and key in by_key.index) for key in recordings["pair_key"]]
    rows = [by_key[key] if found else by_class[name]
            for key, name, found in zip(recordings["pair_key"], recordings["class_name"], matched)]
    return np.asarray(rows, dtype=int), matched


def pairs_figure(images: np.ndarray, events: np.ndarray, titles: list[str], unit: str | None = None) -> plt.Figure:
    """Row 1: images (H, W); row 2: event activity of the recordings (T, 2, H, W), ON + OFF over all bins, on one
    colour scale with a colour bar in ``unit`` (:func:`tmkt.plots.style.frame_unit`; the frames' unit per bin).

    Activity, not ON - OFF: over a whole recording the saccades return to their start, so the two
    polarities largely cancel per pixel (the per-bin figure shows them apart).
    """
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.4 * n + 1.0, 3.1), squeeze=False, layout="constrained")
    activity = accumulated(events)
    vmax = float(activity.max(initial=0.0)) or 1.0
    for i in range(n):
        axes[0, i].imshow(images[i], cmap="gray", vmin=0, vmax=255)
        axes[0, i].set_title(titles[i], fontsize=9)
        shown = axes[1, i].imshow(activity[i], cmap="magma", vmin=0, vmax=vmax)
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("image (V)")
    axes[1, 0].set_ylabel("events\n(ON + OFF)")
    bar = fig.colorbar(shown, ax=list(axes[1]), shrink=0.9, aspect=12)
    bar.set_label("sum over bins\n(" + (unit or frame_unit()).replace(", ", ",\n") + ")", fontsize=6)
    bar.ax.tick_params(labelsize=7)
    return fig


def alignment_figure(images: np.ndarray, events: np.ndarray, labels: list[str], matched: list[bool]) -> plt.Figure:
    """Each row one recording: the image (H, W) beside it, its accumulated event image (:func:`accumulated` of
    (T, 2, H, W) frames) divided by its peak pixel, with a colour bar, and both overlaid (image in cyan, events in
    red, white where both are bright).

    ``matched[i]`` says whether the image is the recording's source image or only one of its class.
    """
    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(6.2, 1.8 * n), squeeze=False, layout="constrained")
    activity = accumulated(events)
    for i in range(n):
        image = np.asarray(images[i], dtype=np.float32) / 255
        act = activity[i] / (float(activity[i].max()) or 1.0)
        axes[i, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
        shown = axes[i, 1].imshow(act, cmap="magma", vmin=0, vmax=1)
        axes[i, 2].imshow(np.stack([act, image, image], axis=-1))
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel(f"{labels[i]}\n({'source image' if matched[i] else 'same class'})", fontsize=8)
    for ax, title in zip(axes[0], ["image (V)", "events (ON + OFF,\nall T bins)", "overlay"]):
        ax.set_title(title, fontsize=9)
    bar = fig.colorbar(shown, ax=list(axes[:, 2]), shrink=0.9, aspect=15)
    bar.set_label("events (ON + OFF) ÷ the\nrecording's peak pixel", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    return fig


def time_bins_figure(recordings: np.ndarray, labels: list[str], bin_ms: float | None = None,
                     unit: str | None = None) -> plt.Figure:
    """Each row one recording (T, 2, H, W), each column one time bin: ON - OFF on one symmetric colour scale, with a
    colour bar in ``unit`` (:func:`tmkt.plots.style.frame_unit`)."""
    recordings = np.asarray(recordings, dtype=np.float32)
    n, steps = recordings.shape[:2]
    fig, axes = plt.subplots(n, steps, figsize=(1.3 * steps + 1.2, 1.35 * n + 0.3), squeeze=False,
                             layout="constrained")
    vmax = polarity_limit(recordings)
    for r in range(n):
        for t in range(steps):
            shown = event_panel(axes[r, t], recordings[r, t], vmax)
            if r == 0:
                span = f"\n{t * bin_ms:.0f}-{(t + 1) * bin_ms:.0f} ms" if bin_ms else ""
                axes[r, t].set_title(f"t = {t + 1}{span}", fontsize=8)
        axes[r, 0].set_ylabel(labels[r], rotation=0, ha="right", va="center")
    bar = fig.colorbar(shown, ax=axes, shrink=0.9, aspect=15)
    bar.set_label(f"ON - OFF\n({unit or frame_unit()})", fontsize=8)
    bar.ax.tick_params(labelsize=7)
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
