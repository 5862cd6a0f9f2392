"""The shared style of every figure: colours of the methods and of event polarity, and the event panel.

Event frames are shown as ON - OFF counts on a diverging colour map (red ON, blue OFF); images as the
HSV value channel in grey, which is what the network sees of them.
"""

from __future__ import annotations

import numpy as np

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


def event_panel(ax, frame, vmax: float) -> None:
    """An event frame (2, H, W) as ON - OFF on :data:`EVENT_CMAP`, symmetric about 0, without ticks."""
    ax.imshow(polarity_image(frame), cmap=EVENT_CMAP, vmin=-vmax, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
