"""The on-disk layout of the compendium: every folder, file name and history column, and the loading of
finished runs. torch-free, so a results table never imports a network.

Paths are anchored at the repository root (:data:`ROOT`, found once at import by :func:`find_root`), the way
git and DVC find theirs: the nearest folder at or above the working directory that holds both ``params.yaml``
and ``dvc.yaml``. So ``dvc repro`` (papermill, from the root), JupyterLab (from ``notebooks/``) and the console
scripts of a non-editable install (``pip install .``) all find the clone they are run in. Inside a DVC stage
(DVC sets ``DVC_ROOT`` for every stage command) the root is the stage's working directory, where ``dvc.yaml``
is: a queued experiment (``dvc exp run --queue``) runs in a copy of the repository under ``.dvc/tmp/exps`` and
must read and write there, not in the workspace ``DVC_ROOT`` names. Run from outside any clone, an editable
install or a clone on ``sys.path`` falls back to the folder the package sits in; with neither, the root is the
working directory, and reading ``params.yaml`` says to run from inside a clone.

The tree the training stages write (``dvc.yaml`` spells the same folders for DVC)::

    reports/train/                       the reference cell (the train stage)
    reports/ablate/<axis>/<cell>/        one ablation cell (stage ablate-<axis>@<cell>)
        02_train.ipynb                   the executed training notebook (train stage: reports/notebooks/)
        metrics.json                     mean ± std over seeds (DVC metrics)
        runs/runs.csv                    one row of metrics per seed
        runs/seed_<s>/                   one run: checkpoint.pt, history.csv, metrics.json, confusion.json
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

#: The files that mark a clone of the repository (its root holds both).
ROOT_MARKERS: tuple[str, ...] = ("params.yaml", "dvc.yaml")


def find_root(start: Path, package_dir: Path, in_dvc_stage: bool) -> Path:
    """The repository root for a process started in ``start`` from the package installed in ``package_dir``
    (the folder holding ``tmkt/``): ``start`` itself inside a DVC stage; else the nearest folder at or above
    ``start`` that holds every :data:`ROOT_MARKERS` file; else ``package_dir`` if it holds ``params.yaml``
    (an editable install or a clone, run from elsewhere); else ``start``, where no ``params.yaml`` will be found.
    Every path returned is absolute."""
    start = start.resolve()
    if in_dvc_stage:
        return start
    for folder in (start, *start.parents):
        if all((folder / marker).is_file() for marker in ROOT_MARKERS):
            return folder
    package_dir = package_dir.resolve()
    return package_dir if (package_dir / ROOT_MARKERS[0]).is_file() else start


ROOT: Path = find_root(Path.cwd(), Path(__file__).parent.parent, in_dvc_stage=bool(os.environ.get("DVC_ROOT")))
PARAMS: Path = ROOT / "params.yaml"
DVC_YAML: Path = ROOT / "dvc.yaml"  #: the pipeline: each stage's command, inputs and the parameters it reads
DATA: Path = ROOT / "data"
PROCESSED: Path = DATA / "processed"
REPORTS: Path = ROOT / "reports"
NOTEBOOKS: Path = ROOT / "notebooks"
#: The executed notebooks of the convert, train and figures stages.
EXECUTED: str = "reports/notebooks"

# ------------------------------------------------------------------------------ processed data
#: The convert stage's output folder (``data/processed``), read by :mod:`tmkt.data.processed`.
EVENT_FRAMES: str = "events.npy"
IMAGE_VALUES: str = "images.npy"
MANIFEST: str = "manifest.csv"
META: str = "meta.json"
PROCESSED_FILES: tuple[str, ...] = (EVENT_FRAMES, IMAGE_VALUES, MANIFEST, META)
#: The simulator's recordings of the images, as event frames aligned with ``images.npy`` (``data.simulated_images``)
SIMULATED_FRAMES: str = "simulated_images.npy"

# ------------------------------------------------------------------------------ cells and runs
REFERENCE_CELL: str = "reports/train"  #: the train stage's folder
ABLATE: str = "reports/ablate"  #: the ablation cells' folders: ``<axis>/<cell>``
CELL_METRICS: str = "metrics.json"  #: in a cell folder: mean ± std over its seeds
RUNS: str = "runs"  #: in a cell folder: one folder per seed and the runs table
RUNS_TABLE: str = "runs.csv"  #: in a runs folder: one row of metrics per seed
CHECKPOINT: str = "checkpoint.pt"  #: in a seed folder: the latest epoch's state, for resuming
HISTORY: str = "history.csv"  #: in a seed folder: one row per epoch
RUN_METRICS: str = "metrics.json"  #: in a seed folder: the run's metrics (also its row of runs.csv)
CONFUSION: str = "confusion.json"  #: in a seed folder: test confusion matrix of the selected epoch


def resolve(path: str | Path) -> Path:
    """An absolute path: absolute inputs unchanged, relative ones taken from the repository root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else ROOT / path


def cell_folder(axis: str, name: str) -> str:
    """A cell's folder relative to the root: the reference's, or ``reports/ablate/<axis>/<name>``."""
    return REFERENCE_CELL if axis == "reference" else f"{ABLATE}/{axis}/{name}"


def seed_folder(runs_dir: str | Path, seed: int) -> Path:
    """The folder of one run inside a runs folder."""
    return Path(runs_dir) / f"seed_{seed}"


def seed_folders(runs_dir: str | Path) -> list[Path]:
    """The run folders inside a runs folder, whatever their seeds."""
    return sorted(Path(runs_dir).glob("seed_*"))


# ------------------------------------------------------------------------------ history columns
#: Per-time-step columns of ``history.csv``: ``<prefix><t>`` for t = 1..T (switch: t = 1..T+1, the last bin
#: counting sequences that never switch), and ``rate_<layer>`` per spiking layer.
CKA, SWITCH, DA_WEIGHT, RATE = "cka_t", "switch_t", "da_w_t", "rate_"
#: Epoch means of ``history.csv`` (NaN where a method has no such term): the total loss and each of its terms
#: (TET of the second and of the event stream, CKA alignment, MAG, MRP), MAG's and MRP's constant-predictor
#: baselines, the training accuracies, the event ratio ``r_m`` and the auxiliary heads' errors.
EPOCH_MEANS: tuple[str, ...] = (
    "loss", "tet_mixed", "tet_event", "da_loss", "mag_loss", "mag_base_loss", "mrp_loss", "mrp_base_loss",
    "train_acc", "mixed_acc", "r_m", "mag_acc", "mag_base_acc", "mrp_abs_err",
)


#: ``train.report_test_selected``: the test accuracy after each epoch (He et al.'s selection; never a choice of ours)
EPOCH_TEST: str = "epoch_test_acc"


def per_step(prefix: str, values) -> dict[str, Any]:
    """``{prefix1: values[0], prefix2: values[1], ...}``: a history row's per-time-step columns."""
    return {f"{prefix}{t + 1}": v for t, v in enumerate(values)}


def columns(table: pd.DataFrame, prefix: str) -> list[str]:
    """The columns of ``table`` written with ``prefix`` (time steps in order)."""
    found = [c for c in table.columns if c.startswith(prefix)]
    steps = [c.removeprefix(prefix) for c in found]
    return sorted(found, key=lambda c: int(c.removeprefix(prefix))) if all(s.isdigit() for s in steps) else found


# ------------------------------------------------------------------------------ finished runs
def load_runs(cells, root: str | Path | None = None) -> pd.DataFrame:
    """One row per (cell, seed) of ``cells`` (``tmkt.grid.Cell``: the reference and the grid's cells).

    Columns: axis, cell, label (how tables name the cell), event_fraction, folder, then the per-run metrics (method, seed, best_epoch, val_acc,
    test_acc, ...). A cell that has not run yet is an error naming its folder.
    """
    root = ROOT if root is None else Path(root)
    cells = list(cells)
    missing = [c.folder for c in cells if not (root / c.folder / RUNS / RUNS_TABLE).is_file()]
    if missing:
        raise FileNotFoundError(f"no {RUNS_TABLE} in {', '.join(missing)}: run their stages first (`dvc repro`)")
    tables = [
        pd.read_csv(root / c.folder / RUNS / RUNS_TABLE).assign(
            axis=c.axis, cell=c.name, label=c.label, event_fraction=c.event_fraction, folder=c.folder
        )
        for c in cells
    ]
    table = pd.concat(tables, ignore_index=True)
    first = ["axis", "cell", "label", "event_fraction", "folder"]
    return table[first + [c for c in table if c not in first]]


def run_file(folder: str | Path, seed: int, name: str, root: str | Path | None = None) -> Path:
    """A file of one run (``HISTORY``, ``CHECKPOINT``, ...) of the cell whose folder is ``folder``."""
    root = ROOT if root is None else Path(root)
    return seed_folder(root / folder / RUNS, seed) / name


def histories(runs: pd.DataFrame, root: str | Path | None = None) -> pd.DataFrame:
    """The per-epoch history of every run of a :func:`load_runs` table, with its axis, cell, label, method and seed."""
    tables = [
        pd.read_csv(run_file(run.folder, run.seed, HISTORY, root)).assign(
            axis=run.axis, cell=run.cell, label=run.label, method=run.method, seed=run.seed
        )
        for run in runs.itertuples()
    ]
    return pd.concat(tables, ignore_index=True)


def executed_notebooks(cells, root: str | Path | None = None) -> dict[str, Path]:
    """The executed notebooks that exist, by DVC stage: convert, then each of ``cells`` (train, ablate-…@…)."""
    root = ROOT if root is None else Path(root)
    found = {"convert": root / EXECUTED / "01_convert.ipynb"} | {c.stage: root / c.notebook for c in cells}
    return {stage: path for stage, path in found.items() if path.is_file()}
