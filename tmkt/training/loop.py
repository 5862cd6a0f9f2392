"""One run: one configuration trained with one seed, epoch by epoch, on processed data.

What each method trains on and which loss terms it assembles is :mod:`tmkt.training.methods`; this module
draws the batches and the paired images, runs the optimiser and the LR schedule, evaluates, and writes the
run's files (``tmkt.layout``: history, metrics, confusion matrix, checkpoint).

The loop hands each mixed step the fraction of training done, ``s = step / (total_steps - 1)`` in ``[0, 1]``; the method's
step (:func:`tmkt.training.methods.mixed_step`) turns it into ``r_m`` by ``mixup.schedule``.
Every event sample is paired with a fresh random training image of its class at every use. The recordings
a run trains on are the scarce subset its seed draws (``tmkt.data.splits.scarce_event_train``), batched as
random permutations or class-balanced draws (``train.sampler``) and augmented at every use (``train.crop_padding``,
``train.flip``, ``train.rotation_deg``: ``tmkt.data.augment``). The optimiser and the learning-rate schedule are
:mod:`tmkt.training.optim`.

Reproducibility: the model is initialised from ``seed``; all sampling of epoch ``e`` (batches, paired
images, mixup draws) comes from generators seeded with ``(seed, e)``, so a run killed after epoch ``e``
and restarted from its checkpoint (``tmkt.training.checkpoints``) ends exactly like an uninterrupted run (CPU).

Model selection: the epoch with the best *validation* accuracy (earliest on ties). The test split is
read twice per run, after training: with the weights of that epoch (``test_acc``, the reported number)
and with the last epoch's (``test_acc_last``). No choice leans on it. With ``train.report_test_selected``
(the presets) it is also read after every epoch (``layout.EPOCH_TEST`` in the history), only to report He et
al.'s number beside ours: the best of those accuracies (``test_acc_test_selected``, earliest epoch on ties),
the epoch their code would keep, because it selects on the test set (docs/method.md §9).

Progress: every finished epoch is one INFO record of the logger ``tmkt.training.loop`` (seed, epoch, the epoch's
mean loss and loss terms, training and validation accuracy, seconds). The package configures no handler, so the
records stay silent until the program asks for them (``logging.basicConfig(level=logging.INFO)``) and never
flood an executed notebook; a stage's own terminal lines come from the ``report`` callback
(:class:`tmkt.training.runs.StageReport`). A per-step tqdm bar is drawn only on request (``progress``, when
working interactively).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from tmkt import atomic, layout
from tmkt.config import Params
from tmkt.data.processed import ProcessedData
from tmkt.data.augment import augment
from tmkt.data.splits import scarce_event_train, subset_id
from tmkt.method.losses import DomainAlignment
from tmkt.method.models import TwoStreamSNN, build_model, predict
from tmkt.training import checkpoints, distributed
from tmkt.training.device import autocast, fast_path, resolve_device, transfer
from tmkt.training.methods import MethodSwitches, Step, mixed_step, single_stream_step
from tmkt.training.optim import adamw, lr_factor

logger = logging.getLogger(__name__)
#: The loss terms an epoch's log line shows where the run has them (``layout.EPOCH_MEANS``).
LOGGED_TERMS = ("tet_mixed", "tet_event", "da_loss", "mag_loss", "mrp_loss")


@dataclass(frozen=True)
class RunEvent:
    """What a run reports as it goes: its start (``val_acc`` None; ``epoch`` = epochs already done and ``start``
    how it begins) and every finished epoch (``epoch`` 1-based, with its validation accuracy)."""

    seed: int
    epoch: int
    epochs: int
    val_acc: float | None = None
    start: str = ""  #: "fresh", "resumed" (from this run's checkpoint) or "restarted" (a checkpoint of another run)


def epoch_batches(rows: np.ndarray, batch_size: int, steps: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``steps`` batches of ``min(batch_size, len(rows))`` rows: consecutive random permutations, cycled."""
    size = min(batch_size, len(rows))
    order = np.concatenate([rng.permutation(rows) for _ in range(math.ceil(steps * size / len(rows)))])
    return [order[i * size : (i + 1) * size] for i in range(steps)]


def balanced_batches(rows: np.ndarray, labels: np.ndarray, batch_size: int, steps: int,
                     rng: np.random.Generator) -> list[np.ndarray]:
    """``steps`` batches of ``min(batch_size, len(rows))`` rows drawn with replacement, row ``i`` with probability
    proportional to ``1 / n_{labels[i]}``: every class equally likely (He et al.'s ``WeightedRandomSampler``)."""
    size = min(batch_size, len(rows))
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    drawn = rng.choice(rows, size=steps * size, replace=True, p=weights / weights.sum())
    return [drawn[i * size : (i + 1) * size] for i in range(steps)]


def epoch_line(seed: int, epochs: int, row: dict, seconds: float) -> str:
    """One epoch's log line from its history ``row``: ``seed 1 · epoch 2/3 · loss 1.234 (tet_mixed 0.600,
    tet_event 0.634) · train 0.500 · val 0.333 · 1.2s``; a loss term the run does not have (NaN) is left out."""
    terms = ", ".join(f"{name} {row[name]:.3f}" for name in LOGGED_TERMS
                      if name in row and math.isfinite(row[name]))
    return (f"seed {seed} · epoch {row['epoch']}/{epochs} · loss {row['loss']:.3f}" + (f" ({terms})" if terms else "")
            + f" · train {row['train_acc']:.3f} · val {row['val_acc']:.3f} · {seconds:.1f}s")


@dataclass
class EpochLog:
    """Running sums of one epoch's diagnostics."""

    time_steps: int
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    switch_hist: np.ndarray | None = None
    cka: list[np.ndarray] = field(default_factory=list)
    spike_rates: dict[str, list[float]] = field(default_factory=dict)

    def add(self, weight: float = 1.0, **values: float) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + weight * float(v.detach() if isinstance(v, torch.Tensor) else v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def mean(self, key: str) -> float:
        return self.sums[key] / self.counts[key] if key in self.sums else float("nan")

    def record_switch(self, switch_step: torch.Tensor) -> None:
        counts = np.bincount(switch_step.cpu().numpy(), minlength=self.time_steps + 1)
        self.switch_hist = counts if self.switch_hist is None else self.switch_hist + counts

    def record_rates(self, rates: dict[str, float], weight: float = 1.0) -> None:
        for name, rate in rates.items():
            self.spike_rates.setdefault(name, []).append(weight * rate)

    def record(self, step: Step, labels: torch.Tensor, weight: float = 1.0) -> None:
        """Everything one step reports: its method's diagnostics, the loss, the training accuracy, spike rates.

        ``weight``: ``W n_r / B`` on rank r of W sharing a batch of B (``World.loss_scale``; 1 on one process),
        so that the ranks' plain mean of an epoch's means (``distributed.mean_over_ranks``) weights every
        sample alike, for shares of unequal sizes too."""
        self.add(weight, **step.values)
        if step.switch_step is not None:
            self.record_switch(step.switch_step)
        if step.cka is not None:
            self.cka.append(weight * step.cka.float().cpu().numpy())
        self.add(weight, loss=step.loss.detach(), train_acc=(predict(step.out.logits) == labels).float().mean())
        self.record_rates(step.out.spike_rates, weight)


class Trainer:
    """Trains ``params``' configuration with ``seed`` on processed data, checkpointing every epoch."""

    def __init__(self, params: Params, data: ProcessedData, out_dir: str | Path, seed: int):
        self.data, self.seed = data, seed
        self.out_dir = Path(out_dir)
        self.switches = MethodSwitches.of(params)
        if self.switches.appearance == "simulated":
            data.require_simulated()
        self.world = distributed.current()  # one process, or this rank of a torchrun run
        self.device = resolve_device(params.base.device)
        if self.device.type == "cuda" and self.world.size > 1:
            self.device = torch.device("cuda", self.world.local_rank)
        self.params = params = fast_path(params, self.device)  # precision and compile decided where "auto"
        torch.set_num_threads(params.base.num_threads)
        cfg = params.train
        T = data.time_steps
        torch.manual_seed(seed)
        self.model: TwoStreamSNN = build_model(params.model, len(data.classes), T, data.frame_size).to(self.device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model = distributed.prepare(self.model, self.world)
        if cfg.compile:
            # in place, so the state dict keeps its keys and checkpoints stay portable; static shapes (the
            # dynamic-shape path fails in inductor on this network), one compilation per batch shape
            self.model.trunk.compile(dynamic=False)
        self.alignment = DomainAlignment(T, self.switches.da_weighting, params.loss.da_eta_init).to(self.device)
        self.parameters = list(self.model.parameters()) + list(self.alignment.parameters())
        self.optimizer = adamw(self.parameters, cfg)
        self.train_events = scarce_event_train(data.manifest, params.scarcity, seed)
        # null: one pass over the whole training split, so that a scarce cell trains as many steps as a full one
        self.steps_per_epoch = cfg.steps_per_epoch or math.ceil(len(data.rows("event", "train")) / cfg.batch_size)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_factor(cfg, self.steps_per_epoch)
        )
        self.image_epochs = round(cfg.epochs * cfg.finetune_image_fraction) if self.switches.image_phase else 0
        self.history: list[dict] = []
        self.best: dict = {"val_acc": -1.0}
        self.fingerprint = checkpoints.fingerprint(params, seed, data.folder, self.world.size)

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

    def try_resume(self) -> bool:
        """Load this run's checkpoint if there is one; a checkpoint of another configuration is ignored."""
        state = checkpoints.load(self.out_dir, self.fingerprint, self.device)
        if state is None:
            return False
        self.model.load_state_dict(state["model"])
        self.alignment.load_state_dict(state["alignment"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.history, self.best = state["history"], state["best"]
        return True

    # ------------------------------------------------------------------ one step
    def _step(self, rows: np.ndarray, epoch: int, step: int, rng, gen, log: EpochLog) -> None:
        """One optimisation step on the batch ``rows`` of the manifest (images in finetune's image phase)."""
        data, manifest = self.data, self.data.manifest
        class_ids = manifest.loc[rows, "label"].to_numpy()
        share = self.world.shard(len(rows))  # every draw is made for the whole batch, then this rank's share
        labels = transfer(torch.tensor(class_ids[share]), self.device)
        self.model.train()
        with autocast(self.device, self.params.train.precision):
            if epoch < self.image_epochs:
                images = data.appearance(data.draw_images(class_ids, rng), self.switches.appearance)[:, share]
                result = single_stream_step(self.model, transfer(images, self.device), labels, self.params,
                                            recordings=False)
            else:
                events = data.event_frames(manifest.loc[rows, "row"].to_numpy())  # mixed on the CPU, moved once
                events = augment(events, self.params.train, rng)
                if not self.switches.two_streams:
                    result = single_stream_step(self.model, transfer(events[:, share], self.device), labels, self.params)
                else:
                    fraction_done = (epoch * self.steps_per_epoch + step) / max(1, self.total_steps - 1)
                    images = data.appearance(data.draw_images(class_ids, rng), self.switches.appearance)
                    result = mixed_step(self.switches, self.model, self.alignment, images, events, labels,
                                        fraction_done, gen, self.params, self.world)
        self.optimizer.zero_grad(set_to_none=True)
        weight = self.world.loss_scale(len(rows))
        (result.loss * weight if self.world.size > 1 else result.loss).backward()
        distributed.average_gradients(self.parameters, self.world)
        self.optimizer.step()
        self.scheduler.step()
        log.record(result, labels, weight)

    # ------------------------------------------------------------------ evaluation
    @torch.inference_mode()
    def predict_split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(true labels, predicted labels) of the event head on a split's recordings (no autograd state)."""
        self.model.eval()
        rows = self.data.rows("event", split)
        preds = []
        size = self.params.train.eval_batch_size
        for start in range(0, len(rows), size):
            chunk = rows.iloc[start : start + size]
            with autocast(self.device, self.params.train.precision):
                out = self.model(transfer(self.data.event_frames(chunk["row"].to_numpy()), self.device), head="event")
            preds.append(predict(out.logits).cpu().numpy())
        return rows["label"].to_numpy(), np.concatenate(preds)

    def accuracy(self, split: str) -> float:
        truth, pred = self.predict_split(split)
        return float((truth == pred).mean())

    # ------------------------------------------------------------------ the run
    def fit(
        self, progress: bool = False, stop_after: int | None = None, report: Callable[[RunEvent], None] | None = None
    ) -> dict:
        """Train all epochs (resuming from a checkpoint), write history/metrics; returns the metrics.

        ``progress`` draws a tqdm bar over each epoch's steps (working interactively, in JupyterLab say); every
        epoch is also one INFO record of this module's logger (:func:`epoch_line`). ``report`` receives a
        :class:`RunEvent` at the start and after every epoch. ``stop_after`` ends the run after that many epochs
        in this call (used to test resumption).
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        had_checkpoint = (self.out_dir / layout.CHECKPOINT).is_file()
        resumed = self.try_resume()
        cfg = self.params.train
        report = report or (lambda event: None)
        report(RunEvent(self.seed, len(self.history), cfg.epochs,
                        start="resumed" if resumed else "restarted" if had_checkpoint else "fresh"))
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
            if cfg.sampler == "class_balanced" and epoch >= self.image_epochs:
                labels = self.train_events["label"].to_numpy()
                batches = balanced_batches(source, labels, cfg.batch_size, self.steps_per_epoch, rng)
            else:
                batches = epoch_batches(source, cfg.batch_size, self.steps_per_epoch, rng)
            epoch_start = time.perf_counter()
            bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False) if progress else batches
            for step, rows in enumerate(bar):
                self._step(rows, epoch, step, rng, gen, log)
                if progress:
                    bar.set_postfix(loss=f"{log.mean('loss'):.3f}", acc=f"{log.mean('train_acc'):.2f}")
            self._end_epoch(epoch, log)
            if logger.isEnabledFor(logging.INFO):
                logger.info(epoch_line(self.seed, cfg.epochs, self.history[-1], time.perf_counter() - epoch_start))
            report(RunEvent(self.seed, epoch + 1, cfg.epochs, val_acc=self.history[-1]["val_acc"]))
        return self._finish(time.perf_counter() - start, resumed)

    def _end_epoch(self, epoch: int, log: EpochLog) -> None:
        row = dict(epoch=epoch + 1, phase="image" if epoch < self.image_epochs else "event",
                   lr=self.scheduler.get_last_lr()[0])
        row |= {k: log.mean(k) for k in layout.EPOCH_MEANS}
        row["val_acc"] = self.accuracy("val")
        if self.params.train.report_test_selected:
            row[layout.EPOCH_TEST] = self.accuracy("test")
        if log.cka:
            row |= layout.per_step(layout.CKA, np.mean(log.cka, axis=0))
        if log.switch_hist is not None:
            row |= layout.per_step(layout.SWITCH, [int(c) for c in log.switch_hist])
        row |= {f"{layout.RATE}{name}": float(np.mean(v)) for name, v in log.spike_rates.items()}
        if self.switches.weights_event_loss:
            row |= layout.per_step(layout.DA_WEIGHT, [float(w) for w in self.alignment.weights().detach().cpu()])
        if self.world.size > 1:  # the means of the whole batches, not of this rank's shares
            trained = {k: v for k, v in row.items() if k not in ("epoch", "phase", "lr", "val_acc", layout.EPOCH_TEST)}
            averaged = distributed.mean_over_ranks(trained, self.world)
            row |= {k: v * self.world.size if k.startswith(layout.SWITCH) else v for k, v in averaged.items()}
        self.history.append(row)
        if row["val_acc"] > self.best["val_acc"]:
            self.best = dict(val_acc=row["val_acc"], epoch=epoch + 1,
                             model={k: v.detach().clone() for k, v in self.model.state_dict().items()})
        if self.world.main:
            checkpoints.save(self.out_dir, self._state())

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
            subset=subset_id(self.train_events),
            n_image_pool=int(len(self.data.rows("image", "train"))),
            epochs=int(len(history)),
            steps_per_epoch=int(self.steps_per_epoch),
            world_size=int(self.world.size),
            precision=self.params.train.precision,
            compile=bool(self.params.train.compile),
            train_seconds=float(seconds),
            resumed=bool(resumed),
        )
        if self.params.train.report_test_selected:  # He et al.'s selection, reported beside, never used
            chosen = int(history[layout.EPOCH_TEST].to_numpy().argmax())
            metrics |= dict(test_acc_test_selected=float(history[layout.EPOCH_TEST].iloc[chosen]),
                            test_selected_epoch=chosen + 1)
        if self.world.main:
            with atomic.atomic_path(self.out_dir / layout.HISTORY) as tmp:
                history.to_csv(tmp, index=False)
            atomic.write_json(self.out_dir / layout.CONFUSION, dict(classes=self.data.classes, matrix=confusion.tolist()))
            atomic.write_json(self.out_dir / layout.RUN_METRICS, metrics)
        return metrics


