"""The convert notebook's figures of event frames carry a colour bar whose label names the frames' unit."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tmkt.data import frames as frames_mod  # noqa: E402
from tmkt.plots import data as data_plots  # noqa: E402
from tmkt.plots import style  # noqa: E402


def _recordings(n=2, steps=3, size=8, seed=0):
    counts = np.random.default_rng(seed).poisson(1.5, size=(n, steps, 2, size, size))
    return frames_mod.normalize(counts, "clip", 4)


def _colour_bars(fig):
    """The colour bar axes of a figure: those matplotlib made for ``fig.colorbar``."""
    return [ax for ax in fig.axes if hasattr(ax, "_colorbar")]


def test_frame_unit_names_the_normalisation():
    assert style.frame_unit("raw") == "events / pixel / bin"
    assert "clipped at 4" in style.frame_unit("clip", 4) and "÷ 4" in style.frame_unit("clip", 4)
    assert "recording's peak" in style.frame_unit("scale")
    assert "bin's peak" in style.frame_unit("frame_max")
    assert "normalised" in style.frame_unit()
    with pytest.raises(ValueError):
        style.frame_unit("clip")
    with pytest.raises(ValueError):
        style.frame_unit("log")


def test_time_bins_figure_has_one_colour_bar_in_the_frames_unit_spanning_the_shared_scale():
    recordings = _recordings()
    unit = style.frame_unit("clip", 4)
    fig = data_plots.time_bins_figure(recordings, ["a", "b"], bin_ms=100, unit=unit)
    try:
        bars = _colour_bars(fig)
        assert len(bars) == 1
        label = bars[0].get_ylabel()
        assert "ON - OFF" in label and unit in label
        limit = style.polarity_limit(recordings)
        assert bars[0]._colorbar.vmin == pytest.approx(-limit) and bars[0]._colorbar.vmax == pytest.approx(limit)
        assert len(fig.axes) == 2 * 3 + 1  # the panels and the bar
    finally:
        plt.close(fig)


def test_pairs_figure_puts_every_recording_on_one_scale_with_a_labelled_colour_bar():
    recordings = _recordings(n=3)
    recordings[0] *= 0.25  # a faint recording keeps its own brightness on the shared scale
    images = np.zeros((3, 8, 8), dtype=np.uint8)
    fig = data_plots.pairs_figure(images, recordings, ["x", "y", "z"], unit=style.frame_unit("raw"))
    try:
        (bar,) = _colour_bars(fig)
        assert "events / pixel / bin" in bar.get_ylabel()
        activity = data_plots.accumulated(recordings)
        assert bar._colorbar.vmax == pytest.approx(float(activity.max()))
        event_images = [ax.images[0] for ax in fig.axes if ax.images and ax.images[0].get_cmap().name == "magma"]
        assert len(event_images) == 3
        assert all(im.get_clim() == (0.0, pytest.approx(float(activity.max()))) for im in event_images)
    finally:
        plt.close(fig)


def test_alignment_figure_labels_the_share_of_the_peak():
    recordings = _recordings(n=2)
    images = np.full((2, 8, 8), 200, dtype=np.uint8)
    fig = data_plots.alignment_figure(images, recordings, ["a", "b"], [True, False])
    try:
        (bar,) = _colour_bars(fig)
        assert "peak" in bar.get_ylabel()
        assert (bar._colorbar.vmin, bar._colorbar.vmax) == (0.0, 1.0)
    finally:
        plt.close(fig)


def test_empty_recordings_still_give_a_valid_colour_bar():
    recordings = np.zeros((1, 2, 2, 4, 4), dtype=np.float32)
    fig = data_plots.time_bins_figure(recordings, ["empty"])
    try:
        (bar,) = _colour_bars(fig)
        assert (bar._colorbar.vmin, bar._colorbar.vmax) == (-1.0, 1.0)
        assert "normalised" in bar.get_ylabel()
    finally:
        plt.close(fig)
