"""Many runs at once: each in its own process, a cell's seeds into its runs folder (``tmkt.layout``).

Seeds run in parallel processes (``base.parallel_runs``, ``base.num_threads`` torch threads each); a
run's result does not depend on which process trains it or on the runs beside it.
"""

from __future__ import annotations

import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tmkt import io, layout
from tmkt.config import Params
from tmkt.data.processed import ProcessedData
from tmkt.stats import cell_metrics
from tmkt.training.loop import Trainer


def _worker_context() -> multiprocessing.context.BaseContext:
    """How seed workers start: from a fork server that has imported this module (and torch's lazily imported
    compiler, which the first optimizer pulls in) once per process, so a worker starts in milliseconds, not
    the ~5 s of imports a spawned one pays. The server never runs torch code, so forking from it is safe
    with CUDA and OpenMP. Where there is no fork server (Windows) workers are spawned."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "torch._dynamo"])
    return context


def _train_one(params: Params, data_dir: Path, run_dir: Path, seed: int, progress: bool) -> dict:
    """One run in a worker process (re-opens the memory-mapped data)."""
    return Trainer(params, ProcessedData.load(data_dir), run_dir, seed).fit(progress)


@dataclass(frozen=True)
class Run:
    """One training run: a configuration, a seed and the folder it writes (checkpoint, history, metrics)."""

    params: Params
    seed: int
    folder: Path


def train_runs(runs: list[Run], data: ProcessedData, workers: int, progress: bool = True) -> list[dict]:
    """Train ``runs``, up to ``workers`` at once, each in its own process (``_worker_context``); their metrics.

    A run's result does not depend on the process that trains it or on the runs beside it.
    """
    jobs = [(run.params, data.folder, Path(run.folder), run.seed, progress) for run in runs]
    workers = min(workers, len(jobs))
    if workers <= 1:
        return [_train_one(*job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=_worker_context()) as pool:
        return list(pool.map(_train_one, *zip(*jobs)))


def train_seeds(
    params: Params,
    data: ProcessedData,
    runs_dir: str | Path,
    metrics_path: str | Path,
    seeds: list[int] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Train the configuration once per seed (``seeds``, default ``base.seeds``) into ``runs_dir/seed_<s>``.

    Up to ``base.parallel_runs`` seeds train at once (:func:`train_runs`). Run folders of seeds no longer
    listed are removed. Writes ``runs_dir/runs.csv`` (one row per seed) and ``metrics_path``
    (:func:`tmkt.stats.cell_metrics`: mean ± std over seeds, what ``dvc metrics`` shows); returns the runs.
    """
    runs_dir = Path(runs_dir)
    seeds = list(params.base.seeds if seeds is None else seeds)
    wanted = {layout.seed_folder(runs_dir, seed) for seed in seeds}
    for stale in layout.seed_folders(runs_dir):
        if stale not in wanted:
            shutil.rmtree(stale)
    jobs = [Run(params, seed, layout.seed_folder(runs_dir, seed)) for seed in seeds]
    runs = pd.DataFrame(train_runs(jobs, data, params.base.parallel_runs, progress))
    io.write_csv(runs_dir / layout.RUNS_TABLE, runs.to_dict("records"))
    io.write_json(metrics_path, dict(method=params.train.method, **cell_metrics(runs)))
    return runs
