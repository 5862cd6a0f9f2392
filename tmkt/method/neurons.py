"""A multi-step leaky integrate-and-fire (LIF) layer over norse's ``LIFBoxCell``.

The neuron of docs/method.md §5 [He2024]: for the input current ``I_t`` (a BN output) at steps ``t = 0..T-1``,

    charge:  u_t = v_{t-1} + (I_t - v_{t-1}) / tau          (v_{-1} = 0: fresh state per call)
    fire:    z_t = H(u_t - V_th),   H(x) = 1 if x > 0 else 0
    reset:   v_t = (1 - z_t) u_t + z_t v_reset,   v_reset = 0  (hard reset)

norse's ``LIFBoxCell`` integrates ``dv = dt tau_mem_inv (v_leak - v + I)``; with ``v_leak = 0``,
``tau_mem_inv = 1 / (tau dt)`` and ``dt = 1e-3`` one cell step is exactly the update above. The step
function ``H`` is strict: ``u_t = V_th`` does not fire, in norse as in He2024's BrainCog neuron
(``(mem - threshold).gt(0)``). In the backward pass ``H'`` is replaced by norse's surrogate derivative
(``triangle``: ``alpha max(0, 1 - |x|)``; ``super``: ``1 / (|x| + 1)^2``, which ignores ``alpha``;
``tanh``, ``circ``, ``heavi_erfc``).

The reset's gradient is an option (``reset_grad``):

- ``pass`` (norse's ``reset_value``): ``dv_t/du_t = (1 - z_t) - u_t H'(u_t - V_th)`` — the spike in the
  reset term is differentiated too;
- ``detach`` (He2024: ``mem * (1 - spike.detach())``): ``dv_t/du_t = 1 - z_t``.

A cell is one time step: a ``(T, B, ...)`` tensor handed to a cell would be read as a batch of ``T``
samples with no time at all. :class:`MultiStepLIF` takes ``(T, B, ...)`` and loops over ``t`` itself,
carrying the state; each call starts from ``v = 0`` (states are reset between the two streams and
between batches).
"""

from __future__ import annotations

from typing import get_args

import torch
from norse.torch.functional.lif_box import LIFBoxFeedForwardState, LIFBoxParameters
from norse.torch.functional.reset import reset_value
from norse.torch.module.lif_box import LIFBoxCell
from torch import Tensor, nn

from tmkt.config import ModelConfig, ResetGrad, Surrogate

#: norse's integration step; only the product ``dt * tau_mem_inv = 1 / tau`` matters.
DT: float = 1e-3


def reset_value_detached(z: Tensor, v: Tensor, v_reset: Tensor, v_th: Tensor) -> Tensor:
    """Hard reset ``(1 - z) v + z v_reset`` with the spike ``z`` cut from the graph (He2024)."""
    z = z.detach()
    return (1 - z) * v + z * v_reset


#: ``model.reset_grad`` -> norse's reset function.
RESET_METHODS: dict[ResetGrad, object] = {"detach": reset_value_detached, "pass": reset_value}


def lif_parameters(cfg: ModelConfig) -> LIFBoxParameters:
    """norse parameters of the docs/method.md §5 neuron (``v += (I - v) / tau``, hard reset to 0): ``model.tau``,
    ``model.v_th``, ``model.surrogate``, ``model.surrogate_alpha``, ``model.reset_grad``."""
    tau, v_th, surrogate, alpha, reset_grad = cfg.tau, cfg.v_th, cfg.surrogate, cfg.surrogate_alpha, cfg.reset_grad
    if tau <= 1:
        raise ValueError(f"tau must be > 1 (v += (I - v) / tau), got {tau}")
    if surrogate not in get_args(Surrogate):
        raise ValueError(f"surrogate must be one of {get_args(Surrogate)}, got {surrogate!r}")
    if reset_grad not in RESET_METHODS:
        raise ValueError(f"reset_grad must be one of {tuple(RESET_METHODS)}, got {reset_grad!r}")
    return LIFBoxParameters(
        tau_mem_inv=torch.as_tensor(1.0 / (tau * DT)),
        v_leak=torch.as_tensor(0.0),
        v_th=torch.as_tensor(float(v_th)),
        v_reset=torch.as_tensor(0.0),
        method=surrogate,
        alpha=float(alpha),
        reset_method=RESET_METHODS[reset_grad],
    )


class MultiStepLIF(nn.Module):
    """LIF neurons over a time-first input: currents ``(T, B, ...)`` -> spikes ``(T, B, ...)``.

    After each call ``spike_rate`` holds the mean spike rate (detached 0-d tensor) and, with
    ``record_membrane``, ``membrane`` holds the post-reset membrane potentials ``v_t`` ``(T, B, ...)``
    (in the graph; He2024 reads this as the penultimate feature of the last spiking layer).
    """

    def __init__(self, cfg: ModelConfig, record_membrane: bool = False) -> None:
        super().__init__()
        self.cell = LIFBoxCell(lif_parameters(cfg), dt=DT)
        self.tau, self.v_th, self.reset_grad = cfg.tau, cfg.v_th, cfg.reset_grad
        self.record_membrane = record_membrane
        self.membrane: Tensor | None = None
        self.spike_rate: Tensor | None = None

    def forward(self, currents: Tensor) -> Tensor:
        if currents.dim() < 2:
            raise ValueError(
                f"MultiStepLIF expects a time-first tensor (T, B, ...), got shape {tuple(currents.shape)}"
            )
        state = LIFBoxFeedForwardState(v=torch.zeros_like(currents[0]))
        spikes, membranes = [], []
        for current in currents.unbind(0):
            z, state = self.cell(current, state)
            spikes.append(z)
            if self.record_membrane:
                membranes.append(state.v)
        out = torch.stack(spikes)
        self.spike_rate = out.detach().mean()
        self.membrane = torch.stack(membranes) if self.record_membrane else None
        return out

    def extra_repr(self) -> str:
        p = self.cell.p
        return (
            f"tau={self.tau}, v_th={self.v_th}, surrogate={p.method!r}, alpha={p.alpha}, "
            f"reset_grad={self.reset_grad!r}, record_membrane={self.record_membrane}"
        )
