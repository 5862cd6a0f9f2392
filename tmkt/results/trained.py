"""A finished run's network, rebuilt from its checkpoint (``tmkt.layout.CHECKPOINT``) for the figures stage."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from tmkt.method.models import TwoStreamSNN, build_model


def trained_model(model_cfg, data, checkpoint: str | Path, weights: str = "best") -> TwoStreamSNN:
    """The network of ``checkpoint`` in eval mode: its selected (best-validation) weights, or with ``weights="last"``
    those of its last epoch. ``model_cfg`` is the run's ``model:`` section, ``data`` its processed data."""
    if weights not in ("best", "last"):
        raise ValueError(f"weights must be 'best' or 'last', got {weights!r}")
    state = _load(Path(checkpoint))
    model = build_model(model_cfg, len(data.classes), data.time_steps, data.frame_size)
    model.load_state_dict(state["best"]["model"] if weights == "best" else state["model"])
    return model.eval()


def _load(checkpoint: Path) -> dict:
    """The checkpoint's content, read with ``weights_only=True``; a clear error for one that needs more."""
    try:
        return torch.load(checkpoint, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise RuntimeError(f"{checkpoint} does not load with torch.load(weights_only=True): it was written by an "
                           "older version of tmkt/training/checkpoints.py; re-run the stage that trained it "
                           "(`dvc repro`) to rewrite it") from None


def test_batches(data, size: int = 250):
    """The test split's event frames ``(T, B, C, H, W)``, ``size`` recordings at a time, in manifest order."""
    rows = data.rows("event", "test")["row"].to_numpy()
    return (data.event_frames(rows[i : i + size]) for i in range(0, len(rows), size))
