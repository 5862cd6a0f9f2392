"""Data-parallel training over ``torch.distributed``: one run on several processes (``torchrun``).

Every process (rank) holds the whole model and draws the same batch from the same random streams: the
rows, the paired images and the mixing are decided for the whole batch B on every rank, and rank r then
takes its share, samples ``floor(r B/W) .. floor((r+1) B/W) - 1`` of the W ranks (any B: shares differ by one at
most, and each rank's loss is scaled by ``W n_r / B`` so that the average of the ranks' gradients weights every
sample alike). After the backward pass the gradients are averaged over the ranks with one all-reduce of all of
them flattened,
as ``DistributedDataParallel`` does; the step calls the model's ``forward_pair`` rather than its
``forward``, which the DDP wrapper cannot hook, so the averaging is done here. Because every loss term
that is a mean over samples (TET, MAG, MRP) then has the gradient of the whole batch, a run is the same
run on any number of processes up to floating-point summation order (``tests/test_distributed.py``:
2 gloo processes against 1). Two things are per rank and stay so:

- **BatchNorm statistics**: on GPUs the trunk's BatchNorm layers become ``SyncBatchNorm`` (statistics
  over the whole batch, as on one device); on CPUs (gloo) torch has no SyncBatchNorm, and each rank
  normalises with its own B/W samples.
- **The CKA alignment** (``loss.domain_alignment``): CKA compares the two streams' features across the
  samples of a batch, so each rank computes it on its share; its gradient is averaged like the others.

An epoch's training means (loss, accuracies, spike rates, CKA, switch-step counts) are averaged over the
ranks before they enter the history, so a history reads the same on any number of processes. Rank 0
alone writes checkpoints, histories and metrics; every rank resumes from the same checkpoint.
Evaluation runs on every rank (the same model on the same data gives the same accuracy), so no rank waits
for another's result. Backends: NCCL where CUDA is available, gloo otherwise; rank r uses GPU
``LOCAL_RANK``.

Entry point: ``torchrun --nproc_per_node=N -m tmkt.training.distributed [--axis A --cell C]`` trains a
cell's seeds one after another, each on all N processes, into the stage's runs folder; ``dvc repro``
then finds the finished runs (their checkpoints) and only writes the stage's outputs.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a run (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: int) -> slice:
        """This rank's samples of a batch of ``batch``: ``floor(r B/W) .. floor((r+1) B/W) - 1``."""
        if batch < self.size:
            raise ValueError(f"a batch of {batch} samples cannot be shared by {self.size} processes; "
                             "use fewer processes or a larger train.batch_size")
        return slice(self.rank * batch // self.size, (self.rank + 1) * batch // self.size)

    def loss_scale(self, batch: int) -> float:
        """``W n_r / B``: the factor that makes the mean of the ranks' gradients the whole batch's gradient."""
        share = self.shard(batch)
        return self.size * (share.stop - share.start) / batch


def current() -> World:
    """The world of this process: torchrun's environment, and that of an initialised process group."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def init() -> World:
    """Join the process group torchrun describes (NCCL with CUDA, else gloo); one process: nothing to join."""
    if int(os.environ.get("WORLD_SIZE", 1)) > 1 and not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if cuda else "gloo")
    return current()


def prepare(model: nn.Module, world: World) -> nn.Module:
    """``model`` ready for ``world``: SyncBatchNorm on GPUs, every rank starting from rank 0's parameters."""
    if world.size == 1:
        return model
    if next(model.parameters()).is_cuda:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for tensor in list(model.parameters()) + list(model.buffers()):
        dist.broadcast(tensor.data, src=0)
    return model


def average_gradients(parameters: list[nn.Parameter], world: World) -> None:
    """Replace every gradient by its mean over the ranks (one all-reduce of all gradients, flattened)."""
    if world.size == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world.size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def mean_over_ranks(values: dict[str, float], world: World) -> dict[str, float]:
    """Each value averaged over the ranks (all ranks hold the same keys): an epoch's training means of
    equal shares are then the means over the whole batches."""
    if world.size == 1:
        return values
    flat = torch.tensor([float(v) for v in values.values()], dtype=torch.float64)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    return dict(zip(values, (flat / world.size).tolist()))


def main(argv: list[str] | None = None) -> None:
    from tmkt import config, grid, layout
    from tmkt.data.processed import ProcessedData
    from tmkt.training.loop import Trainer

    parser = argparse.ArgumentParser(prog="python -m tmkt.training.distributed", description=__doc__.split("\n")[0])
    parser.add_argument("--params", default="params.yaml", help="parameter file (repository-relative)")
    parser.add_argument("--axis", default="reference", help="the cell's ablation axis (reference: the train stage)")
    parser.add_argument("--cell", default="reference", help="the cell's name on its axis")
    parser.add_argument("--overrides", default="", help='dotted overrides as a YAML mapping, "{train.epochs: 5}"')
    parser.add_argument("--processed", default=str(layout.PROCESSED), help="the convert stage's output folder")
    parser.add_argument("--reports-root", default=".", help="the folder the cells' reports/... folders are in")
    args = parser.parse_args(argv)
    try:
        cell, params = grid.cell_params(args.params, args.axis, args.cell, config.as_overrides(args.overrides))
    except (config.ParamsError, ValueError) as exc:  # a bad parameter or an unknown cell: say so, no traceback
        raise SystemExit(f"tmkt.training.distributed: {exc}") from None
    world = init()
    data = ProcessedData.load(layout.resolve(args.processed))
    runs_dir = layout.resolve(args.reports_root) / cell.folder / layout.RUNS
    for seed in grid.seeds_of(params, cell.seed_count):
        metrics = Trainer(params, data, layout.seed_folder(runs_dir, seed), seed).fit(progress=False)
        if world.main:
            print(f"[{cell.stage}] seed {seed} on {world.size} processes: best epoch {metrics['best_epoch']}, "
                  f"validation {metrics['val_acc']:.3f}", flush=True)
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
