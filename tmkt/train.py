"""Training one configuration with one seed: the four methods of the compendium.

Methods (``train.method``):

- ``event_only``: ``L = L_TET(event head, x_e)`` on the (scarce) recordings alone.
- ``finetune``: the first ``finetune_image_fraction`` of the epochs train on images
  (``L_TET(event head, x_a)``), the rest on recordings; one optimiser and LR schedule throughout.
- ``he2024``: He et al. (2024): sample-level sliding replacement (each sample all-event with probability
  ``r_m``, else all-image), ``L = L_TET(mixed head, x_m) + L_TET^{1-w}(event head, x_e) + lambda_DA L_DA``
  with learnable step weights ``w_t = sigmoid(eta_t)`` (the event CE of step t weighted by ``1 - w_t``).
- ``tmkt``: time-step mixup (METHOD.md §3) and ``L = L_TET(x_m) + L_TET(x_e) + lambda_DA L_DA
  + lambda_MAG L_MAG + lambda_MRP L_MRP``, each auxiliary term switchable in ``loss:``.

``r_m`` follows ``mixup.schedule`` over training progress ``s = step / (total_steps - 1)``.
Every event sample is paired with a fresh random training image of its class at every use.

Reproducibility: the model is initialised from ``seed``; all sampling of epoch ``e`` (batches, paired
images, mixup draws) comes from generators seeded with ``(seed, e)``, so a run killed after epoch ``e``
and restarted from its checkpoint ends exactly like an uninterrupted run (CPU).

Model selection: the epoch with the best *validation* accuracy (earliest on ties). The test split is
read twice per run, after training: with the weights of that epoch (``test_acc``, the reported number)
and with the last epoch's (``test_acc_last``). It never sees a per-epoch evaluation, so no choice can
lean on it.

Seeds run in parallel processes (``base.parallel_runs``, ``base.num_threads`` torch threads each); a
run's result does not depend on which process trains it.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from tmkt import io, paths
from tmkt.config import Params
from tmkt.losses import DomainAlignment, mag_accuracy, mag_loss, mrp_loss, tet_loss, total_loss
from tmkt.mixup import mix, ratio_schedule
from tmkt.models import TwoStreamSNN, build_model, predict
from tmkt.processed import FILES as PROCESSED_FILES
from tmkt.processed import ProcessedData
from tmkt.provenance import closure
from tmkt.splits import scarce_event_train

CHECKPOINT = "checkpoint.pt"
RUNS_TABLE = "runs.csv"  #: one row of metrics per seed, in the runs folder


@dataclass(frozen=True)
class Recipe:
    """What a method switches on (derived from ``train.method`` and ``loss:``)."""

    mixup: str | None  #: "timestep", "sample" or None (no mixed stream)
    domain_alignment: bool
    step_weights: str
    mag: bool
    mrp: bool

    @classmethod
    def of(cls, params: Params) -> "Recipe":
        method, loss = params.train.method, params.loss
        if method == "tmkt":
            return cls("timestep", loss.domain_alignment, loss.da_step_weights, loss.mag, loss.mrp)
        if method == "he2024":
            return cls("sample", True, "learnable", False, False)
        return cls(None, False, "fixed", False, False)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("base.device = 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(name)


def warmup_cosine(warmup_steps: int, total_steps: int):
    """LR factor: linear warm-up to 1 over ``warmup_steps``, then cosine decay to 0 at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def fingerprint(params: Params, seed: int, data_folder: str | Path) -> str:
    """Identity of a run: the parameters that shape it, the seed, the processed data and the code that trains it.

    The code is every package file this module reaches through its imports (``tmkt.provenance``), so an edit of
    a plotting or results module keeps every checkpoint. A checkpoint resumes only the very run that wrote it;
    after a change of parameters, data or training code the run starts afresh (``base.device`` and
    ``base.num_threads`` do not count).
    """
    keys = ("data", "simulator", "scarcity", "model", "train", "mixup", "loss")
    digest = hashlib.sha256()
    digest.update(json.dumps({k: getattr(params, k).model_dump() for k in keys} | {"seed": seed}, sort_keys=True).encode())
    for source in closure({__name__}):
        digest.update(str(source).encode() + (paths.ROOT / source).read_bytes())
    for name in PROCESSED_FILES:
        with open(Path(data_folder) / name, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()[:16]


def epoch_batches(rows: np.ndarray, batch_size: int, steps: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``steps`` batches of ``min(batch_size, len(rows))`` rows: consecutive random permutations, cycled."""
    size = min(batch_size, len(rows))
    order = np.concatenate([rng.permutation(rows) for _ in range(math.ceil(steps * size / len(rows)))])
    return [order[i * size : (i + 1) * size] for i in range(steps)]


@dataclass
class EpochLog:
    """Running sums of one epoch's diagnostics."""

    time_steps: int
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    switch_hist: np.ndarray | None = None
    cka: list[np.ndarray] = field(default_factory=list)
    spike_rates: dict[str, list[float]] = field(default_factory=dict)

    def add(self, **values: float) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v.detach() if isinstance(v, torch.Tensor) else v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def mean(self, key: str) -> float:
        return self.sums[key] / self.counts[key] if key in self.sums else float("nan")

    def record_switch(self, switch_step: torch.Tensor) -> None:
        counts = np.bincount(switch_step.cpu().numpy(), minlength=self.time_steps + 1)
        self.switch_hist = counts if self.switch_hist is None else self.switch_hist + counts

    def record_rates(self, rates: dict[str, float]) -> None:
        for name, rate in rates.items():
            self.spike_rates.setdefault(name, []).append(rate)


class Trainer:
    """Trains ``params``' configuration with ``seed`` on processed data, checkpointing every epoch."""

    def __init__(self, params: Params, data: ProcessedData, out_dir: str | Path, seed: int):
        self.params, self.data, self.seed = params, data, seed
        self.out_dir = Path(out_dir)
        self.recipe = Recipe.of(params)
        self.device = resolve_device(params.base.device)
        torch.set_num_threads(params.base.num_threads)
        cfg = params.train
        T = data.time_steps
        torch.manual_seed(seed)
        self.model: TwoStreamSNN = build_model(params.model, len(data.classes), T, data.frame_size).to(self.device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.alignment = DomainAlignment(T, self.recipe.step_weights, params.loss.da_eta_init).to(self.device)
        self.optimizer = torch.optim.AdamW(
            list(self.model.parameters()) + list(self.alignment.parameters()), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.train_events = scarce_event_train(data.manifest, params.scarcity)
        self.steps_per_epoch = cfg.steps_per_epoch or math.ceil(len(self.train_events) / cfg.batch_size)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_cosine(cfg.warmup_epochs * self.steps_per_epoch, self.total_steps)
        )
        self.image_epochs = round(cfg.epochs * cfg.finetune_image_fraction) if cfg.method == "finetune" else 0
        self.history: list[dict] = []
        self.best: dict = {"val_acc": -1.0}
        self.fingerprint = fingerprint(params, seed, data.folder)

    # ------------------------------------------------------------------ checkpoints
    def _state(self) -> dict:
        return dict(
            fingerprint=self.fingerprint,
            epochs_done=len(self.history),
            model=self.model.state_dict(),
            alignment=self.alignment.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            history=self.history,
            best=self.best,
        )

    def save_checkpoint(self) -> None:
        with io.atomic_path(self.out_dir / CHECKPOINT) as tmp:
            torch.save(self._state(), tmp)

    def try_resume(self) -> bool:
        """Load this run's checkpoint if there is one; a checkpoint of another configuration is ignored."""
        path = self.out_dir / CHECKPOINT
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state.get("fingerprint") != self.fingerprint:
            return False
        self.model.load_state_dict(state["model"])
        self.alignment.load_state_dict(state["alignment"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.history, self.best = state["history"], state["best"]
        return True

    # ------------------------------------------------------------------ one step
    def _step(self, rows: np.ndarray, epoch: int, step: int, rng, gen, log: EpochLog) -> None:
        p, data, recipe = self.params, self.data, self.recipe
        manifest = data.manifest
        class_ids = manifest.loc[rows, "label"].to_numpy()
        labels = torch.tensor(class_ids, device=self.device)
        frame_rows = manifest.loc[rows, "row"].to_numpy()
        tet = dict(lam=p.train.tet_lambda, phi=p.model.v_th)
        self.model.train()

        if epoch < self.image_epochs:  # finetune, image phase
            images = data.appearance(data.draw_images(class_ids, rng)).to(self.device)
            out = self.model(images, head="event")
            loss = tet_loss(out.logits, labels, **tet)
        else:
            events = data.event_frames(frame_rows)  # mixed on the CPU, moved to the device once
            if recipe.mixup is None:
                out = self.model(events.to(self.device), head="event")
                loss = tet_loss(out.logits, labels, **tet)
            else:
                s = (epoch * self.steps_per_epoch + step) / max(1, self.total_steps - 1)
                r_m = ratio_schedule(p.mixup.schedule, s, p.mixup.power_k, p.mixup.constant_ratio)
                images = data.appearance(data.draw_images(class_ids, rng))
                mixed = mix(recipe.mixup, images, events, r_m, gen)
                out_m, out = self.model.forward_pair(
                    mixed.frames.to(self.device), events.to(self.device), p.train.stream_batching
                )
                da = self.alignment(out_m.features, out.features)
                weights = 1.0 - da.weights if recipe.step_weights == "learnable" and recipe.domain_alignment else None
                modality, ratio = mixed.modality.to(self.device), mixed.ratio.to(self.device)
                loss = total_loss(
                    tet_loss(out_m.logits, labels, **tet),
                    tet_loss(out.logits, labels, step_weights=weights, **tet),
                    da=da.loss if recipe.domain_alignment else None,
                    mag=mag_loss(out_m.mag_logits, modality) if recipe.mag else None,
                    mrp=mrp_loss(out_m.ratio_pred, ratio, p.loss.mrp_loss) if recipe.mrp else None,
                    lambda_da=p.loss.lambda_da,
                    lambda_mag=p.loss.lambda_mag,
                    lambda_mrp=p.loss.lambda_mrp,
                )
                log.add(r_m=r_m, mixed_acc=(predict(out_m.logits) == labels).float().mean())
                log.record_switch(mixed.switch_step)
                log.cka.append(da.cka.cpu().numpy())
                if recipe.mag:
                    log.add(mag_acc=mag_accuracy(out_m.mag_logits, modality))
                if recipe.mrp:
                    log.add(mrp_abs_err=(out_m.ratio_pred - ratio).abs().mean())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        log.add(loss=loss.detach(), train_acc=(predict(out.logits) == labels).float().mean())
        log.record_rates(out.spike_rates)

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def predict_split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(true labels, predicted labels) of the event head on a split's recordings."""
        self.model.eval()
        rows = self.data.rows("event", split)
        preds = []
        size = self.params.train.eval_batch_size
        for start in range(0, len(rows), size):
            chunk = rows.iloc[start : start + size]
            out = self.model(self.data.event_frames(chunk["row"].to_numpy()).to(self.device), head="event")
            preds.append(predict(out.logits).cpu().numpy())
        return rows["label"].to_numpy(), np.concatenate(preds)

    def accuracy(self, split: str) -> float:
        truth, pred = self.predict_split(split)
        return float((truth == pred).mean())

    # ------------------------------------------------------------------ the run
    def fit(self, progress: bool = True, stop_after: int | None = None) -> dict:
        """Train all epochs (resuming from a checkpoint), write history/metrics; returns the metrics.

        ``progress`` shows a bar over each epoch's steps; a one-line summary is printed after every epoch.

        ``stop_after`` ends the run after that many epochs in this call (used to test resumption).
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        resumed = self.try_resume()
        cfg = self.params.train
        start = time.perf_counter()
        for epoch in range(len(self.history), cfg.epochs):
            if stop_after is not None and epoch >= stop_after:
                return {}
            rng = np.random.default_rng([self.seed, epoch])
            gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
            if epoch < self.image_epochs:
                pool = self.data.rows("image", "train")
                source = pool.index.to_numpy()
            else:
                source = self.train_events.index.to_numpy()
            log = EpochLog(self.data.time_steps)
            bar = tqdm(
                epoch_batches(source, cfg.batch_size, self.steps_per_epoch, rng),
                desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress, leave=False,
            )
            for step, rows in enumerate(bar):
                self._step(rows, epoch, step, rng, gen, log)
                bar.set_postfix(loss=f"{log.mean('loss'):.3f}", acc=f"{log.mean('train_acc'):.2f}")
            self._end_epoch(epoch, log)
            h = self.history[-1]
            print(f"seed {self.seed} epoch {epoch + 1}/{cfg.epochs}: loss {h['loss']:.3f} train {h['train_acc']:.3f} "
                  f"val {h['val_acc']:.3f}", flush=True)
        return self._finish(time.perf_counter() - start, resumed)

    def _end_epoch(self, epoch: int, log: EpochLog) -> None:
        row = dict(epoch=epoch + 1, phase="image" if epoch < self.image_epochs else "event",
                   lr=self.scheduler.get_last_lr()[0])
        row |= {k: log.mean(k) for k in ("loss", "train_acc", "mixed_acc", "r_m", "mag_acc", "mrp_abs_err")}
        row["val_acc"] = self.accuracy("val")
        if log.cka:
            row |= {f"cka_t{t + 1}": v for t, v in enumerate(np.mean(log.cka, axis=0))}
        if log.switch_hist is not None:
            row |= {f"switch_t{t + 1}": int(c) for t, c in enumerate(log.switch_hist)}
        row |= {f"rate_{name}": float(np.mean(v)) for name, v in log.spike_rates.items()}
        if self.recipe.step_weights == "learnable" and self.recipe.domain_alignment:
            row |= {f"da_w_t{t + 1}": float(w) for t, w in enumerate(self.alignment.step_weights().detach().cpu())}
        self.history.append(row)
        if row["val_acc"] > self.best["val_acc"]:
            self.best = dict(val_acc=row["val_acc"], epoch=epoch + 1,
                             model={k: v.detach().clone() for k, v in self.model.state_dict().items()})
        self.save_checkpoint()

    def _finish(self, seconds: float, resumed: bool) -> dict:
        history = pd.DataFrame(self.history)
        test_acc_last = self.accuracy("test")
        self.model.load_state_dict(self.best["model"])
        truth, pred = self.predict_split("test")
        k = len(self.data.classes)
        confusion = np.bincount(truth * k + pred, minlength=k * k).reshape(k, k)
        metrics = dict(
            method=self.params.train.method,
            seed=self.seed,
            best_epoch=int(self.best["epoch"]),
            val_acc=float(self.best["val_acc"]),
            test_acc=float((truth == pred).mean()),
            test_acc_last=test_acc_last,
            n_event_train=int(len(self.train_events)),
            n_image_pool=int(len(self.data.rows("image", "train"))),
            epochs=int(len(history)),
            steps_per_epoch=int(self.steps_per_epoch),
            train_seconds=float(seconds),
            resumed=bool(resumed),
        )
        with io.atomic_path(self.out_dir / "history.csv") as tmp:
            history.to_csv(tmp, index=False)
        io.write_json(self.out_dir / "confusion.json", dict(classes=self.data.classes, matrix=confusion.tolist()))
        io.write_json(self.out_dir / "metrics.json", metrics)
        return metrics


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
    (:func:`tmkt.metrics.summarize`: mean ± std over seeds, what ``dvc metrics`` shows); returns the runs.
    """
    from tmkt.metrics import summarize

    runs_dir = Path(runs_dir)
    seeds = list(params.base.seeds if seeds is None else seeds)
    wanted = {f"seed_{seed}" for seed in seeds}
    for stale in runs_dir.glob("seed_*"):
        if stale.name not in wanted:
            shutil.rmtree(stale)
    jobs = [Run(params, seed, runs_dir / f"seed_{seed}") for seed in seeds]
    runs = pd.DataFrame(train_runs(jobs, data, params.base.parallel_runs, progress))
    io.write_csv(runs_dir / RUNS_TABLE, runs.to_dict("records"))
    io.write_json(metrics_path, dict(method=params.train.method, **summarize(runs).iloc[0].to_dict()))
    return runs
