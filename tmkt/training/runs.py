"""Many runs at once: each in its own process, a cell's seeds into its runs folder (``tmkt.layout``).

Seeds run in parallel processes (``base.parallel_runs``, ``base.num_threads`` torch threads each); a
run's result does not depend on which process trains it or on the runs beside it. Every run reports its start
and its epochs (``tmkt.training.loop.RunEvent``) to the stage's process, which writes one terminal line each
(:class:`StageReport`), with the time the stage has left.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tmkt import atomic, layout, parallel
from tmkt.config import Params
from tmkt.data.processed import ProcessedData
from tmkt.stats import cell_metrics
from tmkt.terminal import StageClock, say
from tmkt.training.loop import RunEvent, Trainer

#: What a seed worker's fork server imports once (:func:`tmkt.parallel.context`): this module and torch's lazily
#: imported compiler, which the first optimizer pulls in, so a worker starts in milliseconds, not after ~5 s of imports.
PRELOAD = (__name__, "torch._dynamo")


def _train_one(params: Params, data_dir: Path, run_dir: Path, seed: int, progress: bool,
               report: Callable[[RunEvent], None] | None = None) -> dict:
    """One run (re-opens the memory-mapped data), reporting its start and epochs to ``report``."""
    return Trainer(params, ProcessedData.load(data_dir), run_dir, seed).fit(progress, report=report)


def _train_reporting_to(events, job: tuple) -> dict:
    """One run in a worker process, reporting to the stage's queue ``events``."""
    return _train_one(*job, report=events.put)


class StageReport:
    """The terminal lines of a stage's runs (``tmkt.terminal``): which runs resume and from where, and one line
    per finished epoch with the seed, the validation accuracy, the time elapsed and the time the stage has left."""

    def __init__(self, label: str, runs: list["Run"], workers: int):
        self.label = label
        self.clock = StageClock(total=sum(run.params.train.epochs for run in runs), warmup=workers)
        lengths = sorted({run.params.train.epochs for run in runs})
        epochs = " or ".join(map(str, lengths)) if len(lengths) > 1 else str(lengths[0])
        say(f"[{label}] {len(runs)} run{'s' * (len(runs) != 1)} of {epochs} epochs, {workers} at a time")

    def __call__(self, event: RunEvent) -> None:
        if event.val_acc is not None:
            say(f"[{self.label}] seed {event.seed} · epoch {event.epoch}/{event.epochs} · val {event.val_acc:.3f} · "
                f"{self.clock.tick()}")
            return
        self.clock.skipped += event.epoch
        if event.start == "resumed" and event.epoch == event.epochs:
            say(f"[{self.label}] seed {event.seed}: already trained ({event.epochs} epochs in its checkpoint), evaluating it")
        elif event.start == "resumed":
            say(f"[{self.label}] seed {event.seed}: resuming from its checkpoint after epoch {event.epoch} of {event.epochs}")
        elif event.start == "restarted":
            say(f"[{self.label}] seed {event.seed}: its checkpoint is of another configuration, data or code; starting afresh")


@dataclass(frozen=True)
class Run:
    """One training run: a configuration, a seed and the folder it writes (checkpoint, history, metrics)."""

    params: Params
    seed: int
    folder: Path


def train_runs(
    runs: list[Run], data: ProcessedData, workers: int, progress: bool = False, label: str = "train"
) -> list[dict]:
    """Train ``runs``, up to ``workers`` at once, each in its own process (:mod:`tmkt.parallel`); their metrics.

    A run's result does not depend on the process that trains it or on the runs beside it. Terminal lines are
    prefixed with ``label`` (the DVC stage).
    """
    jobs = [(run.params, data.folder, Path(run.folder), run.seed, progress) for run in runs]
    workers = min(workers, len(jobs))
    report = StageReport(label, runs, max(1, workers))
    if workers <= 1:
        return [_train_one(*job, report=report) for job in jobs]
    events = parallel.context(PRELOAD).Queue()
    listener = threading.Thread(target=lambda: [report(e) for e in iter(events.get, None)], daemon=True)
    listener.start()
    try:
        return parallel.map_in_processes(_train_reporting_to, jobs, workers, shared=events, preload=PRELOAD,
                                         label="runs")
    finally:
        events.put(None)
        listener.join()


@dataclass(frozen=True)
class CellJob:
    """One configuration to train once per seed into ``runs_dir/seed_<s>``, summarised into ``metrics_path``."""

    params: Params
    seeds: list[int]
    runs_dir: Path
    metrics_path: Path


def train_cells(
    cells: list[CellJob], data: ProcessedData, workers: int, progress: bool = False, label: str = "train"
) -> list[pd.DataFrame]:
    """Train every seed of every cell in one pool of ``workers`` processes (:func:`train_runs`), so the pool stays
    full across cells; per cell, the run folders of seeds no longer listed are removed, and ``runs_dir/runs.csv``
    (one row per seed) and ``metrics_path`` (:func:`tmkt.stats.cell_metrics`: mean ± std over seeds, what
    ``dvc metrics`` shows) are written. Returns each cell's runs."""
    jobs = []
    for cell in cells:
        wanted = {layout.seed_folder(cell.runs_dir, seed) for seed in cell.seeds}
        for stale in layout.seed_folders(cell.runs_dir):
            if stale not in wanted:
                shutil.rmtree(stale)
        jobs += [Run(cell.params, seed, layout.seed_folder(cell.runs_dir, seed)) for seed in cell.seeds]
    metrics = iter(train_runs(jobs, data, workers, progress, label))
    out = []
    for cell in cells:
        runs = pd.DataFrame([next(metrics) for _ in cell.seeds])
        atomic.write_csv(Path(cell.runs_dir) / layout.RUNS_TABLE, runs.to_dict("records"))
        atomic.write_json(cell.metrics_path, dict(method=cell.params.train.method,
                                              **cell_metrics(runs, cell.params.base.confidence)))
        out.append(runs)
    return out


def train_seeds(
    params: Params,
    data: ProcessedData,
    runs_dir: str | Path,
    metrics_path: str | Path,
    seeds: list[int] | None = None,
    progress: bool = False,
    label: str = "train",
) -> pd.DataFrame:
    """Train the configuration once per seed (``seeds``, default ``base.seeds``) into ``runs_dir/seed_<s>``, up to
    ``base.parallel_runs`` seeds at once; writes the cell's runs table and metrics (:func:`train_cells`)."""
    seeds = list(params.base.seeds if seeds is None else seeds)
    job = CellJob(params, seeds, Path(runs_dir), Path(metrics_path))
    return train_cells([job], data, params.base.parallel_runs, progress, label)[0]
