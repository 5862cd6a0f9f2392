"""Where a run computes, in which precision, and how batches get there.

- ``base.device``: ``auto`` (CUDA if available), ``cpu``, ``cuda`` (the current GPU) or ``cuda:<index>``
  (one GPU of several: queued experiments each name their own, README "Parallel sweeps").
- ``train.precision``: ``fp32``, or ``bf16``: forward passes and losses under ``torch.autocast`` with
  bfloat16 (convolutions and linear layers in bfloat16, reductions and BN statistics in float32 as
  autocast decides; weights, gradients and the optimizer stay float32). bfloat16 has float32's range, so
  no loss scaling is needed. Spikes are 0/1 in either precision; membrane potentials lose precision.
- ``train.precision: auto`` and ``train.compile: auto`` (the presets) choose the GPU fast path where a run
  computes: bf16 and ``torch.compile`` on CUDA, fp32 and eager on the CPU (:func:`fast_path`). A run records,
  and its fingerprint holds, the choice made, not ``auto``.
- Transfers: on CUDA a batch assembled on the CPU is copied from pinned (page-locked) memory with
  ``non_blocking=True``, so the copy overlaps the GPU's work instead of stalling the Python thread.
"""

from __future__ import annotations

import contextlib

import torch

from tmkt.config import Params, Precision

DTYPES: dict[Precision, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}


def fast_path(params: Params, device: torch.device) -> Params:
    """``params`` with ``train.precision`` and ``train.compile`` of ``auto`` decided for ``device``: bf16 and
    compiled on CUDA, fp32 and eager elsewhere; values other than ``auto`` are kept."""
    cuda, train = device.type == "cuda", params.train
    update = {}
    if train.precision == "auto":
        update["precision"] = "bf16" if cuda else "fp32"
    if train.compile == "auto":
        update["compile"] = cuda
    return params.model_copy(update=dict(train=train.model_copy(update=update))) if update else params


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"base.device = {name!r} but no CUDA device is available; use 'auto' or 'cpu'")
    device = torch.device(name)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise RuntimeError(f"base.device = {name!r} but this machine has {torch.cuda.device_count()} GPUs")
    return device


def transfer(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; CPU tensors bound for CUDA go through pinned memory, without blocking."""
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def autocast(device: torch.device, precision: Precision):
    """The context a forward pass and its loss run in: plain float32, or bfloat16 autocast."""
    if DTYPES[precision] is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision])
