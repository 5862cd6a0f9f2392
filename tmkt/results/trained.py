"""A finished run's network, rebuilt from its checkpoint (``tmkt.layout.CHECKPOINT``) for the figures stage."""

from __future__ import annotations

from pathlib import Path

import torch

from tmkt.method.models import TwoStreamSNN, build_model


def trained_model(model_cfg, data, checkpoint: str | Path, weights: str = "best") -> TwoStreamSNN:
    """The network of ``checkpoint`` in eval mode: its selected (best-validation) weights, or with ``weights="last"``
    those of its last epoch. ``model_cfg`` is the run's ``model:`` section, ``data`` its processed data."""
    if weights not in ("best", "last"):
        raise ValueError(f"weights must be 'best' or 'last', got {weights!r}")
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = build_model(model_cfg, len(data.classes), data.time_steps, data.frame_size)
    model.load_state_dict(state["best"]["model"] if weights == "best" else state["model"])
    return model.eval()


def test_batches(data, size: int = 250):
    """The test split's event frames ``(T, B, C, H, W)``, ``size`` recordings at a time, in manifest order."""
    rows = data.rows("event", "test")["row"].to_numpy()
    return (data.event_frames(rows[i : i + size]) for i in range(0, len(rows), size))
