"""The shared style of every figure: colours of the methods and of event polarity, and the event panel.

Event frames are shown as ON - OFF counts on a diverging colour map (red ON, blue OFF); images as the
HSV value channel in grey, which is what the network sees of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmkt.atomic import save_figure

EVENT_CMAP = "RdBu_r"
#: One colour per method, in every figure of the compendium.
METHOD_COLORS = {"event_only": "#7f7f7f", "finetune": "#9467bd", "joint": "#2ca02c", "he2024": "#1f77b4",
                 "tmkt": "#d62728", "sim2real": "#ff7f0e"}


def polarity_image(frames) -> np.ndarray:
    """OFF/ON frames ``(..., 2, H, W)`` -> ON - OFF ``(..., H, W)``."""
    frames = np.asarray(frames, dtype=np.float32)
    return frames[..., 1, :, :] - frames[..., 0, :, :]


def polarity_limit(frames) -> float:
    """Colour limit shared by event panels: :math:`\\max |\\mathrm{ON} - \\mathrm{OFF}|` over frames ``(..., 2, H, W)``.

    1.0 when every frame is empty, so that ``imshow`` still gets a valid symmetric range.
    """
    return float(np.abs(polarity_image(frames)).max(initial=0.0)) or 1.0


def event_panel(ax, frame, vmax: float):
    """An event frame (2, H, W) as ON - OFF on :data:`EVENT_CMAP`, symmetric about 0, without ticks; returns the
    image, for a colour bar (:func:`frame_unit` names its unit)."""
    shown = ax.imshow(polarity_image(frame), cmap=EVENT_CMAP, vmin=-vmax, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def frame_unit(frame_norm: str | None = None, clip_max: int | None = None) -> str:
    """The unit of converted event frames, for a colour bar: a frame holds events per pixel (of the H x W frame,
    after area resizing) per time bin, normalised by ``data.frame_norm`` (:func:`tmkt.data.frames.normalize`).

    ``None`` (the normalisation not known) names the count and says it may be normalised.
    """
    count = "events / pixel / bin"
    if frame_norm is None:
        return f"{count}, as normalised"
    if frame_norm == "raw":
        return count
    if frame_norm == "clip":
        if clip_max is None:
            raise ValueError("frame_norm 'clip' needs clip_max")
        return f"{count}, clipped at {clip_max}, ÷ {clip_max}"
    if frame_norm == "scale":
        return f"{count} ÷ the recording's peak"
    if frame_norm == "frame_max":
        return f"{count} ÷ the bin's peak per polarity"
    raise ValueError(f"unknown frame normalisation {frame_norm!r}")


def plain_number(value: float) -> str:
    """``value`` in plain decimal notation, to 12 significant digits (``0.0001``, ``3``, ``250``; never ``1e-04``)."""
    return np.format_float_positional(float(f"{value:.12g}"), trim="-")


def plain_log_axis(ax, which: str = "x", ticks=None) -> None:
    r"""Make an axis logarithmic, its major ticks labelled in plain decimals (``0.5``, ``2``, ``10``; never
    ``2×10^0``) and its minor ticks unlabelled.

    The major ticks are ``ticks`` where given (e.g. the values plotted), else the decades :math:`10^k` inside the
    axis when it spans a decade or more, else every :math:`m \cdot 10^k` (:math:`m = 1 \dots 9`) inside it (an axis
    narrower than a decade may hold no decade; where fewer than two of those fall inside, matplotlib's log locator
    places evenly spaced ticks instead, labelled the same way). Minor ticks stand at :math:`m \cdot 10^k`,
    :math:`m = 2 \dots 9`, unlabelled.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    low, high = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    if ticks is not None:
        axis.set_major_locator(FixedLocator([float(t) for t in ticks]))
    else:
        axis.set_major_locator(LogLocator(base=10.0, subs=(1.0,) if high >= 10 * low else np.arange(1.0, 10.0)))
    axis.set_minor_locator(LogLocator(base=10.0, subs=np.arange(2.0, 10.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: plain_number(value)))
    axis.set_minor_formatter(NullFormatter())


def save_shown(folder: str | Path, fig, name: str) -> Path:
    """``fig`` written to ``folder/<name>.png`` (atomically: ``tmkt.atomic.save_figure``), then shown and closed (a
    notebook displays it once); the path written."""
    import matplotlib.pyplot as plt

    path = Path(folder) / f"{name}.png"
    save_figure(path, fig)
    plt.show()
    plt.close(fig)
    return path


def spread(values: list[float], gap: float) -> list[float]:
    """``values`` moved apart to at least ``gap`` between neighbours, in their order and as little as possible (label
    positions that do not overlap): crowded neighbours form a run spaced ``gap`` apart and centred on their mean;
    runs that then collide merge, until none does."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    runs: list[list[float]] = []  # each: the original values of one run
    start = lambda run: sum(run) / len(run) - (len(run) - 1) * gap / 2  # noqa: E731
    for i in order:
        runs.append([values[i]])
        while len(runs) > 1 and start(runs[-1]) < start(runs[-2]) + len(runs[-2]) * gap:
            last = runs.pop()
            runs[-1] += last
    placed = [start(run) + k * gap for run in runs for k in range(len(run))]
    out = [0.0] * len(values)
    for k, i in enumerate(order):
        out[i] = placed[k]
    return out


def within_unit(values: list[float]) -> list[float]:
    """``values`` shifted together, as little as possible, into [0, 1] (where they fit: a span above 1 keeps its
    lowest value at 0): label positions in axes fractions that stay beside the axes."""
    shift = max(0.0, -min(values, default=0.0)) or min(0.0, 1.0 - max(values, default=1.0))
    return [v + shift for v in values]
