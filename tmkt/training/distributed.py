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
2 gloo processes against 1). One thing is per rank and stays so:

- **BatchNorm statistics**: on GPUs the trunk's BatchNorm layers become ``SyncBatchNorm`` (statistics
  over the whole batch, as on one device); on CPUs (gloo) torch has no SyncBatchNorm, and each rank
  normalises with its own B/W samples.

The CKA alignment (``loss.domain_alignment``) is not a mean over samples: CKA compares the two streams'
features across the samples of a batch. Every rank therefore gathers the features of the whole batch
(:meth:`World.gather`) and computes the single-process CKA; the gathering passes back to each rank its rows of
that (identical) gradient, so N processes train the loss of one (``tests/test_distributed.py``, alignment on).

An epoch's training means (loss, accuracies, spike rates, CKA, switch-step counts) are averaged over the
ranks before they enter the history, so a history reads the same on any number of processes. Rank 0
alone writes checkpoints, histories and metrics; every rank resumes from the same checkpoint.
Evaluation runs on every rank (the same model on the same data gives the same accuracy), so no rank waits
for another's result. Backends: NCCL where CUDA is available, gloo otherwise; rank r uses GPU
``LOCAL_RANK``.

The entry point that trains a cell with torchrun is :mod:`tmkt.training.torchrun`.
"""

from __future__ import annotations

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

    def gather(self, shares: torch.Tensor, batch: int) -> torch.Tensor:
        """The ranks' ``(T, n_r, ...)`` shares of a batch of ``batch`` samples as the whole ``(T, B, ...)``, in
        sample order, differentiable (:class:`GatherShares`); on one process, ``shares`` itself."""
        return shares if self.size == 1 else GatherShares.apply(shares, self, batch)


class GatherShares(torch.autograd.Function):
    """All ranks' shares of a batch, concatenated along dim 1, with a backward for a loss that every rank
    computes alike on the gathered batch (CKA).

    Every rank then holds the same gradient ``g`` of that loss with respect to the whole batch; the backward
    returns this rank's rows ``g_r`` times ``B / n_r``. The loop scales rank r's loss by ``W n_r / B``
    (:meth:`World.loss_scale`) and averages the ranks' parameter gradients (``1 / W``), so the feature path
    contributes ``(1 / W) sum_r (W n_r / B) (B / n_r) g_r dx_r/dθ = sum_r g_r dx_r/dθ``: the single-process
    gradient. (Parameters the loss reaches without the features, the step weights, get
    ``(1 / W) sum_r W n_r / B = 1`` times theirs, also the single-process gradient.)
    """

    @staticmethod
    def forward(ctx, shares: torch.Tensor, world: "World", batch: int) -> torch.Tensor:
        bounds = [World(rank, world.size).shard(batch) for rank in range(world.size)]
        widest = max(b.stop - b.start for b in bounds)
        padded = shares.new_zeros((shares.shape[0], widest, *shares.shape[2:]))
        padded[:, : shares.shape[1]] = shares
        gathered = [torch.empty_like(padded) for _ in range(world.size)]
        dist.all_gather(gathered, padded.contiguous())
        ctx.share, ctx.factor = bounds[world.rank], batch / shares.shape[1]
        return torch.cat([g[:, : b.stop - b.start] for g, b in zip(gathered, bounds)], dim=1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad[:, ctx.share] * ctx.factor, None, None


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
