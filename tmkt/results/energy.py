"""Operations and energy of one inference of a trained network, counted from the spikes it fires.

Counted with forward hooks on every convolution, linear and average-pooling layer of the trunk and on the event
head, while the network classifies recordings (``T`` steps each; everything is per recording, summed over the
steps). Inference: BatchNorm is folded into the convolution before it (no operations of its own), and the MAG
and MRP heads do not run. The convention:

- **Event-driven layers** (every layer but the first) perform one accumulate (AC) per synapse a non-zero input
  drives. A convolution with ``C_out`` output channels and input ``x`` does
  ``AC = C_out · Σ_p Σ_{q in field(p)} 1[x_q ≠ 0]`` (``p`` over output positions, ``q`` over the inputs of its
  receptive field, padding excluded), which equals ``C_out`` times the sum of an all-ones convolution of
  ``1[x ≠ 0]``. A linear layer does ``out_features · #{x ≠ 0}``, an average pooling one AC per non-zero input.
  Inputs are spikes, or pooled spikes (multiples of 1/4): zeros cost nothing, whatever the value of a
  non-zero.
- **Layers that read analog values** do dense multiply-accumulates, ``MAC = #outputs · C_in · k_h · k_w``
  per step: the first layer (it reads frames), and the heads of a trunk whose output is not spiking (the
  pre-activation ResNet's pooled, batch-normalised feature; its final BN folds into the head).
- **The same network as an ANN** (one pass, no time steps): the dense MACs of every convolution and linear
  layer, and one addition (counted with the AC energy) per input of every pooling.
- **Energy** at the 45 nm figures of Horowitz (ISSCC 2014), ``energy.e_ac_pj`` per AC and ``energy.e_mac_pj``
  per MAC (32-bit float; the values and their source are in ``params.yaml``): ``E_SNN = e_AC · AC + e_MAC · MAC_dense`` and
  ``E_ANN = e_MAC · MAC_ANN + e_AC · ADD_ANN``. Memory access and neuron updates are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tmkt import layout
from tmkt.method.models import TwoStreamSNN
from tmkt.results.trained import test_batches, trained_model


@dataclass
class Operations:
    """Operation counts of one network over some recordings (totals; divide by ``recordings`` for one)."""

    recordings: int = 0
    ac: dict[str, float] = field(default_factory=dict)  #: event-driven accumulates, per layer
    dense_macs: float = 0.0  #: dense MACs of the layers that read analog values (all steps)
    ann_macs: float = 0.0  #: the ANN's dense MACs (one pass)
    ann_adds: float = 0.0  #: the ANN's pooling additions (one pass)

    def per_recording(self, e_ac_pj: float, e_mac_pj: float) -> dict[str, float]:
        """Counts and energies (µJ) of one recording."""
        n = max(1, self.recordings)
        ac, macs = sum(self.ac.values()) / n, self.dense_macs / n
        ann_macs, ann_adds = self.ann_macs / n, self.ann_adds / n
        return dict(
            synops=ac,
            dense_macs=macs,
            energy_uj=(e_ac_pj * ac + e_mac_pj * macs) * 1e-6,
            ann_macs=ann_macs,
            ann_energy_uj=(e_mac_pj * ann_macs + e_ac_pj * ann_adds) * 1e-6,
        )


def _conv_synops(x: Tensor, conv: nn.Conv2d) -> float:
    """Σ over output channels and positions of the non-zero inputs in the receptive field (padding excluded)."""
    if conv.groups != 1:
        raise NotImplementedError("grouped convolutions are not counted")
    active = (x != 0).to(torch.float32)
    ones = torch.ones(1, conv.in_channels, *conv.kernel_size, dtype=torch.float32, device=x.device)
    reached = F.conv2d(active, ones, stride=conv.stride, padding=conv.padding, dilation=conv.dilation)
    return float(reached.sum()) * conv.out_channels


def _dense_macs(x: Tensor, out: Tensor, layer: nn.Module) -> float:
    if isinstance(layer, nn.Conv2d):
        return float(out.numel()) * layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
    return float(out.numel()) * layer.in_features


class _Counter:
    """Forward hooks that add one batch's operations to an :class:`Operations`."""

    def __init__(self, model: TwoStreamSNN, ops: Operations, time_steps: int):
        self.ops, self.time_steps = ops, time_steps
        counted = (nn.Conv2d, nn.Linear, nn.AvgPool2d)
        layers = [(name, m) for name, m in model.trunk.named_modules() if isinstance(m, counted)]
        layers.append(("head_event", model.head_event))
        first = next(name for name, m in layers if isinstance(m, (nn.Conv2d, nn.Linear)))
        self.analog = {first} | (set() if model.trunk.spiking_output else {"head_event"})
        self.handles = [m.register_forward_hook(self._hook(name)) for name, m in layers]

    def _hook(self, name: str):
        def count(layer: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> None:
            x = inputs[0]
            # inputs fold time into the batch: T·B frames; the ANN sees each recording once (1/T of them)
            if isinstance(layer, nn.AvgPool2d):
                self.ops.ac[name] = self.ops.ac.get(name, 0.0) + float((x != 0).sum())
                self.ops.ann_adds += float(x.numel()) / self.time_steps
                return
            dense = _dense_macs(x, out, layer)
            self.ops.ann_macs += dense / self.time_steps
            if name in self.analog:
                self.ops.dense_macs += dense
            elif isinstance(layer, nn.Conv2d):
                self.ops.ac[name] = self.ops.ac.get(name, 0.0) + _conv_synops(x, layer)
            else:
                self.ops.ac[name] = self.ops.ac.get(name, 0.0) + float((x != 0).sum()) * layer.out_features

        return count

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


@torch.no_grad()
def count_operations(model: TwoStreamSNN, batches) -> Operations:
    """The operations of ``model`` (eval mode, event head) classifying every batch ``(T, B, C, H, W)`` of ``batches``."""
    ops = Operations()
    counter = _Counter(model, ops, model.time_steps)
    model.eval()
    try:
        for frames in batches:
            model(frames, head="event")
            ops.recordings += frames.shape[1]
    finally:
        counter.close()
    return ops


def run_operations(params, data, checkpoint, e_ac_pj: float, e_mac_pj: float, batch_size: int = 250) -> dict:
    """Per-recording counts and energies of a trained run on the test split, with its selected (best-validation)
    weights from ``checkpoint``."""
    model = trained_model(params.model, data, checkpoint)
    return count_operations(model, test_batches(data, batch_size)).per_recording(e_ac_pj, e_mac_pj)


def operations_table(runs: pd.DataFrame, measure) -> pd.DataFrame:
    """``runs`` (one row per run) with the columns of :meth:`Operations.per_recording`, ``measure(run)`` each."""
    return pd.concat([runs.reset_index(drop=True), pd.DataFrame([measure(run) for run in runs.itertuples()])], axis=1)


def measure_runs(runs: pd.DataFrame, cell_params: dict, data, root, energy) -> pd.DataFrame:
    """:func:`operations_table` of every run of ``runs`` (columns ``axis``, ``cell``, ``folder``, ``seed``), each
    with its cell's parameters (``cell_params[(axis, cell)]``) and its checkpoint under ``root``; ``energy``: the
    ``energy:`` section."""
    def measure(run) -> dict:
        checkpoint = layout.run_file(run.folder, run.seed, layout.CHECKPOINT, root)
        return run_operations(cell_params[(run.axis, run.cell)], data, checkpoint, energy.e_ac_pj, energy.e_mac_pj)

    return operations_table(runs, measure)
