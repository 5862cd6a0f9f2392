"""Simulated against real recordings, crosswise: each trained network tested on the real test recordings and on
the simulator's recordings of the test split's images (``data.simulated_images``).

A network trained on simulated recordings alone (``sim2real`` with ``train.finetune_image_fraction = 1``) and
tested on real ones measures how far the simulator is from the sensor for the classifier (train on simulated, test
on real); one trained on real recordings (``event_only``) and tested on simulated ones measures the reverse. Both
test sets hold the same digits: the test split's recordings and the images they record (split by identity). Per
cell: mean and t-interval over its seeds (``tmkt.stats.mean_interval``), from each run's best-validation weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tmkt import layout
from tmkt.method.models import predict
from tmkt.results.trained import trained_model
from tmkt.stats import mean_interval


def _accuracy(model, frames: torch.Tensor, labels: np.ndarray, size: int = 250) -> float:
    """Accuracy of the event head on ``frames`` (T, N, 2, H, W)."""
    with torch.inference_mode():
        preds = [predict(model(frames[:, i : i + size], head="event").logits).numpy()
                 for i in range(0, frames.shape[1], size)]
    return float((np.concatenate(preds) == labels).mean())


def test_sets(data) -> dict[str, tuple[torch.Tensor, np.ndarray]]:
    """``real``: the test split's recordings; ``simulated``: the simulator's recordings of its images."""
    data.require_simulated()
    events, images = data.rows("event", "test"), data.rows("image", "test")
    return {"real": (data.event_frames(events["row"].to_numpy()), events["label"].to_numpy()),
            "simulated": (data.appearance(images["row"].to_numpy(), "simulated"), images["label"].to_numpy())}


def transfer_runs(cells: dict[str, tuple[Path, object]], data) -> pd.DataFrame:
    """One row per run of ``cells`` (label -> (runs folder, the cell's ``model:`` section)) and test set."""
    sets, rows = test_sets(data), []
    for label, (runs_dir, model_cfg) in cells.items():
        for run in layout.seed_folders(runs_dir):
            model = trained_model(model_cfg, data, run / layout.CHECKPOINT)
            seed = json.loads((run / layout.RUN_METRICS).read_text())["seed"]
            rows += [dict(cell=label, seed=seed, tested_on=name,
                          test_acc=_accuracy(model, frames, labels)) for name, (frames, labels) in sets.items()]
    return pd.DataFrame(rows)


def transfer_table(runs: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per cell and test set: seeds, mean and t-interval of the accuracy (%)."""
    out = []
    for (cell, tested_on), group in runs.groupby(["cell", "tested_on"], sort=False):
        low, high = mean_interval(group["test_acc"], confidence)
        out.append({"cell": cell, "tested on": tested_on, "seeds": len(group),
                    "accuracy (%)": f"{100 * group['test_acc'].mean():.1f}",
                    f"{100 * confidence:g} % CI": f"{100 * low:.1f} to {100 * high:.1f}"})
    return pd.DataFrame(out)
