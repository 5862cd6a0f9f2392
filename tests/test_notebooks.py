"""Smoke runs of the pipeline notebooks through papermill on tiny parameters (the way dvc.yaml runs them)."""

from __future__ import annotations

import json

import numpy as np
import papermill as pm
import pytest

from tmkt import paths
from tmkt.processed import ProcessedData

pytestmark = pytest.mark.notebook

TINY_DATA = (
    "{data.max_per_class: 6, data.time_bins: 3, data.height: 16, data.width: 16,"
    " simulator.saccade_ms: 20.0, simulator.step_ms: 2.0}"
)
TINY_TRAIN = (
    "{base.seeds: [3], base.num_threads: 1, train.epochs: 2, train.steps_per_epoch: 2, train.batch_size: 8,"
    " train.warmup_epochs: 0, model.width: 0.0625, model.blocks: 2, scarcity.event_fraction: 0.5}"
)


def run(notebook: str, out, **parameters) -> dict:
    return pm.execute_notebook(
        str(paths.NOTEBOOKS / f"{notebook}.ipynb"), str(out), parameters=parameters, kernel_name="python3",
        progress_bar=False, cwd=str(paths.ROOT),
    )


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nb")
    run("01_convert", folder / "01.ipynb", overrides=TINY_DATA, out_dir=str(folder / "processed"), workers=1)
    return folder


def test_convert_notebook_writes_processed_data(processed):
    data = ProcessedData.load(processed / "processed")
    assert data.events.shape == (60, 3, 2, 16, 16)
    assert data.images.shape == (60, 16, 16)
    assert set(data.manifest["split"]) == {"train", "val", "test"}
    assert np.isfinite(np.asarray(data.events, dtype=np.float32)).all()


def test_train_notebook_trains_and_writes_metrics(processed):
    metrics_file = processed / "metrics.json"
    run("02_train", processed / "02.ipynb", overrides=TINY_TRAIN, processed_dir=str(processed / "processed"),
        runs_dir=str(processed / "runs"), metrics_file=str(metrics_file))
    summary = json.loads(metrics_file.read_text())
    assert summary["method"] == "tmkt" and len(summary["runs"]) == 1
    assert 0.0 <= summary["test_acc_mean"] <= 1.0
    assert (processed / "runs" / "seed_3" / "history.csv").is_file()
