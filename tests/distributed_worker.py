"""What one process of the 2-process gloo tests runs (a module of its own, so that spawned processes import it)."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist

from tmkt import config
from tmkt.data.processed import ProcessedData
from tmkt.training.loop import EpochLog, Trainer


def one_step(params: config.Params, data_dir: str, out_dir: str, rows: list[int]) -> dict[str, torch.Tensor]:
    """The gradients of one training step on ``rows`` (after averaging over the processes, if several)."""
    trainer = Trainer(params, ProcessedData.load(data_dir), out_dir, seed=11)
    rng = np.random.default_rng(5)
    trainer._step(np.asarray(rows), 0, 0, rng, torch.Generator().manual_seed(3), EpochLog(trainer.data.time_steps))
    names = [n for n, _ in trainer.model.named_parameters()] + [f"alignment.{n}" for n, _ in trainer.alignment.named_parameters()]
    return {name: p.grad.detach().clone() for name, p in zip(names, trainer.parameters) if p.grad is not None}


def rank_main(rank: int, world: int, port: int, params: config.Params, data_dir: str, out_dir: str, rows: list[int],
              epochs_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    grads = one_step(params, data_dir, os.path.join(out_dir, f"rank{rank}"), rows)
    if rank == 0:
        torch.save(grads, os.path.join(out_dir, "grads.pt"))
    Trainer(params, ProcessedData.load(data_dir), epochs_dir, seed=11).fit(progress=False)
    interrupted = os.path.join(out_dir, "interrupted")
    assert Trainer(params, ProcessedData.load(data_dir), interrupted, seed=11).fit(progress=False, stop_after=1) == {}
    Trainer(params, ProcessedData.load(data_dir), interrupted, seed=11).fit(progress=False)  # resumes epoch 2
    dist.destroy_process_group()
