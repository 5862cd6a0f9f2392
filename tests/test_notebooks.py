"""Smoke runs of the pipeline notebooks through papermill on tiny parameters (the way dvc.yaml runs them)."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import papermill as pm
import pytest

import pandas as pd
import yaml

from tmkt import config, grid, layout, stages
from tmkt.data.processed import ProcessedData
from tmkt.training.runs import train_seeds

pytestmark = pytest.mark.notebook

TINY_DATA = (
    "{data.max_per_class: 6, data.time_bins: 3, data.height: 16, data.width: 16,"
    " simulator.saccade_ms: 20.0, simulator.step_ms: 2.0, base.parallel_runs: 1}"
)
TINY_TRAIN = (
    "{base.seeds: [3, 4], ablate.seeds_per_cell: 2, base.num_threads: 1, train.epochs: 2, train.steps_per_epoch: 2, train.batch_size: 8,"
    " train.warmup_epochs: 0, model.width: 0.0625, model.blocks: 2, scarcity.event_fraction: 0.5}"
)


def run(notebook: str, out, **parameters) -> dict:
    return pm.execute_notebook(
        str(layout.NOTEBOOKS / f"{notebook}.ipynb"), str(out), parameters=parameters, kernel_name="python3",
        progress_bar=False, cwd=str(layout.ROOT),
    )


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nb")
    run("01_convert", folder / "01.ipynb", overrides=TINY_DATA, out_dir=str(folder / "processed"))
    return folder


def test_convert_notebook_writes_processed_data(processed):
    data = ProcessedData.load(processed / "processed")
    assert data.events.shape == (60, 3, 2, 16, 16)
    assert data.images.shape == (60, 16, 16)
    assert set(data.manifest["split"]) == {"train", "val", "test"}
    assert np.isfinite(np.asarray(data.events, dtype=np.float32)).all()


@pytest.fixture(scope="module")
def reference(processed):
    """The train notebook's run, where the figures stage looks for the reference: <root>/reports/train."""
    (processed / layout.EXECUTED).mkdir(parents=True)
    run("02_train", processed / layout.EXECUTED / "02_train.ipynb", overrides=TINY_TRAIN,
        processed_dir=str(processed / "processed"), reports_root=str(processed))
    return processed / layout.REFERENCE_CELL


def test_train_notebook_trains_and_writes_metrics(reference):
    summary = json.loads((reference / "metrics.json").read_text())
    assert summary["method"] == "tmkt" and summary["seeds"] == 2 and set(summary) == {"method", "seeds", "test_acc", "val_acc"}
    assert 0.0 <= summary["test_acc"]["mean"] <= 1.0 and summary["test_acc"]["std"] >= 0.0
    assert (reference / "runs" / "seed_3" / "history.csv").is_file()
    assert len(pd.read_csv(reference / "runs" / "runs.csv")) == 2


def test_figures_notebook_reads_every_cell(processed, reference):
    """The figures notebook on a small grid with a cell on every axis, whose cells the test trains in-process."""
    raw = config.apply_overrides(config.load().model_dump(), yaml.safe_load(TINY_TRAIN) | {
        "ablate.method": ["event_only", "he2024"], "ablate.control": ["joint"],
        "ablate.schedule": {"methods": ["he2024", "tmkt"], "schedules": ["constant"]},
        "ablate.variant": {"tmkt_shared": {"model": {"heads": "shared"}}},
        "ablate.event_ratio": {"methods": ["event_only", "tmkt"], "fractions": [1.0]},
        "figures.ratios": [0.5], "figures.monte_carlo_samples": 200, "figures.gradient_draws": 3,
        "figures.gradient_batch": 4,
    })
    params_file = processed / "params.yaml"
    params_file.write_text(yaml.safe_dump(raw))
    params = config.load(params_file)
    data = ProcessedData.load(processed / "processed")
    for cell in grid.cells(params):
        _, cell_params = grid.cell_params(str(params_file), cell.axis, cell.name)
        train_seeds(cell_params, data, processed / cell.folder / layout.RUNS, processed / cell.folder / layout.CELL_METRICS,
                    seeds=grid.seeds_of(params, cell.seed_count), progress=False)
    figures = processed / "figures"
    run("03_figures", processed / "03.ipynb", params_file=str(params_file), processed_dir=str(processed / "processed"),
        figures_dir=str(figures), models_dir=str(processed / "models"), reports_root=str(processed),
        dvc_dir=str(processed / "dvc"))
    table = pd.read_csv(figures / "results.csv")
    assert len(table) == 1 + len(grid.cells(params)) and (table["seeds"] == 2).all()
    assert set(table["axis"]) == {"reference", "method", "control", "schedule", "variant", "event_ratio"}
    # the comparison family: one row per comparison of the grid, Holm never below the raw p, one sentence each
    family = pd.read_csv(figures / "comparisons.csv")
    assert list(family["comparison"]) == [c.name for c in grid.comparisons(params)]
    assert {"tmkt − he2024", "tmkt (constant) − he2024 (constant)", "tmkt_shared − tmkt",
            "tmkt at 100 % − event_only at 100 %", "he2024 − joint"} <= set(family["comparison"])
    assert (family["p_holm"] >= family["p"] - 1e-12).all() and set(family["verdict"]) <= {"above", "below", "not distinguishable"}
    assert len((figures / "findings.md").read_text().splitlines()) == len(family)
    # what DVC's views read: one curve file per cell (mean and every seed per epoch), one effect per comparison
    curves = sorted((processed / "dvc" / "curves").glob("*.csv"))
    assert len(curves) == 1 + len(grid.cells(params))
    curve = pd.read_csv(processed / "dvc" / "curves" / "tmkt.csv")
    assert {"epoch", "val_acc", "val_acc_seed3", "val_acc_seed4"} <= set(curve.columns)
    assert curve["val_acc"].tolist() == pytest.approx(curve[["val_acc_seed3", "val_acc_seed4"]].mean(axis=1).tolist())
    effects = json.loads((processed / "dvc" / "effects.json").read_text())
    assert len(effects) == len(family) and {"difference", "holm_low", "holm_high", "seeds", "verdict"} == set(
        effects["tmkt_vs_he2024"])
    # the realised mixing: sample-level replacement mixes no sequence inside, joint draws images only
    shares = pd.read_csv(figures / "mix_shares.csv").set_index("label")
    assert shares.loc["he2024", "mixed"] == 0 and shares.loc["joint", "image"] == 1
    assert shares.loc["tmkt (constant)", "mixed"] > 0
    # one row per run with the scarce subset it drew: a seed draws the same recordings in every cell at a fraction
    per_seed = pd.read_csv(figures / "per_seed.csv")
    at_headline = per_seed[per_seed["event_fraction"] == params.scarcity.event_fraction]
    assert (at_headline.groupby("seed")["subset"].nunique() == 1).all() and at_headline["subset"].nunique() == 2
    cells = pd.read_csv(figures / "convergence.csv")
    assert len(cells) == 2 * len(table)
    assert (figures / "convergence.md").read_text().startswith(("**All", "**⚠"))
    assert (figures / "conclusions.md").read_text().startswith("## What these results show and what they do not")
    for name in ("forest", "event_ratio", "learning_curves", "cka_spike_rates", "gradient_variance", "mixed_sequence",
                 "accuracy_energy", "epoch_difference_reference", "step_weights", "loss_terms", "auxiliary_baselines"):
        assert (figures / f"{name}.png").stat().st_size > 1000, name
    assert "tmkt" in (figures / "headline.md").read_text()
    assert (processed / "models" / "reference.nir").stat().st_size > 1000
    assert "gives the trained network's prediction on 100.0 % of the" in (figures / "nir.md").read_text()
    times = pd.read_csv(figures / "stage_times.csv")
    assert list(times["stage"]) == ["train"]  # the one notebook papermill executed into reports/


def test_a_training_stage_tells_the_terminal_how_it_goes(processed, tmp_path):
    """The train stage's own dvc.yaml command, as `dvc repro` runs it: one line per epoch with the time left, no
    kernel transport warning; started again, it says which runs it resumes."""
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    (work / "data/processed").symlink_to(processed / "processed")
    command = stages.relocated_command("train", work) + f' -p overrides "{TINY_TRAIN}"'
    first = subprocess.run(command, shell=True, cwd=layout.ROOT, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    terminal = first.stdout + first.stderr
    assert "[train] 2 runs of 2 epochs, 2 at a time" in terminal
    epochs = re.findall(r"\[train\] seed (\d) · epoch (\d)/2 · val \d\.\d{3} · \S+ elapsed, (?:about \S+ left|estimating the time left|done)", terminal)
    assert sorted(epochs) == [("3", "1"), ("3", "2"), ("4", "1"), ("4", "2")]
    assert "without encryption" not in terminal and "Executing" not in terminal
    again = subprocess.run(command, shell=True, cwd=layout.ROOT, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stderr.count("already trained (2 epochs in its checkpoint)") == 2
