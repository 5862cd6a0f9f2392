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

Two implementations of that loop (``model.lif``):

- ``norse``: the loop around ``LIFBoxCell``, the neuron's reference definition. Autograd records every
  element-wise operation of every step (a dozen graph nodes per step and layer).
- ``fused``: :class:`FusedLIF`, one autograd node for all T steps. Its forward runs the same arithmetic
  as norse's cell (``u_t = v + k (I_t - v)``, ``k = dt · tau_mem_inv``; spikes ``u_t - V_th > 0``) without
  recording a graph and keeps ``u_t``; its backward runs the chain rule through time by hand, from
  ``t = T-1`` down to 0, with ``x_t = u_t - V_th``, the surrogate derivative ``s_t = H'(x_t)`` and
  ``g_v`` the gradient arriving at ``v_t`` (from step t+1 and, with ``record_membrane``, from outside)::

      dL/du_t     = dL/dz_t s_t + g_v (1 - z_t)  [+ g_v (v_reset - u_t) s_t  with reset_grad: pass]
      dL/dI_t     = k dL/du_t
      g_v(t - 1)  = (1 - k) dL/du_t  (+ the outside gradient at v_{t-1})

  On the CPU both passes are compiled loops (:mod:`tmkt.method.lif_kernels`, one pass over memory per
  step); on CUDA and in bfloat16 they are torch operations. ``tests/test_neurons.py`` holds both to norse
  in spikes, membranes (bit for bit) and input gradients, for every surrogate and both reset options.
"""

from __future__ import annotations

from typing import get_args

import numpy as np
import torch
from norse.torch.functional.lif_box import LIFBoxFeedForwardState, LIFBoxParameters
from norse.torch.functional.reset import reset_value
from norse.torch.module.lif_box import LIFBoxCell
from pydantic import ValidationError
from torch import Tensor, nn

from tmkt.config import NORSE_SURROGATES, LifBackend, ModelConfig, ResetGrad, Surrogate
from tmkt.method import lif_kernels

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
    if surrogate not in NORSE_SURROGATES:  # He et al.'s: the fused LIF computes it; norse's cell never runs
        surrogate = "triangle"
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


def surrogate_derivative(x: Tensor, method: Surrogate, alpha: float) -> Tensor:
    """The surrogate derivative ``H'(x)`` of ``method``: norse's (the backward of ``norse.torch.functional.threshold``)
    or He et al.'s, ``qgate``: ``alpha max(0, 1 - alpha |x|)`` (QGateGrad, peak alpha, support 1/alpha) and
    ``rectangle``: ``1[|x| < alpha / 2]`` (BackEIGateGrad at alpha = 1)."""
    if method == "triangle":
        return alpha * torch.relu(1 - x.abs())
    if method == "super":
        return 1 / (x.abs() + 1.0).pow(2)
    if method == "tanh":
        return 1 - (x * alpha).tanh().pow(2)
    if method == "circ":
        r2 = alpha**2 + x.pow(2)
        return (-(x.pow(2) / (2 * r2.pow(1.5))) + 1 / (2 * r2.sqrt())) * 2 * alpha
    if method == "heavi_erfc":
        return 2 * torch.exp(-(alpha * x).pow(2)) / torch.as_tensor(torch.pi).sqrt()
    if method == "qgate":
        return alpha * torch.relu(1 - alpha * x.abs())
    if method == "rectangle":
        return (x.abs() < alpha / 2).to(x.dtype)
    raise ValueError(f"surrogate must be one of {get_args(Surrogate)}, got {method!r}")


def heaviside(x: Tensor) -> Tensor:
    """``H(x)``: 1 where ``x > 0``, else 0 (norse's strict step), as ``max(sign(x), 0)`` in float arithmetic."""
    return torch.sign(x).clamp_(min=0)


def _time_major(tensor: Tensor) -> tuple[Tensor, list[int]]:
    """``tensor`` (T, ...) and the dimension order in which its memory is contiguous with time first, so that
    ``tensor.permute(order)`` is a contiguous view (a copy is made only for a tensor not laid out that way)."""
    order = sorted(range(tensor.dim()), key=lambda d: (-tensor.stride(d), d))
    if order[0] != 0 or not tensor.permute(order).is_contiguous():
        tensor, order = tensor.contiguous(), list(range(tensor.dim()))
    return tensor, order


def _steps_by_neurons(tensor: Tensor, order: list[int]) -> np.ndarray:
    """The (T, N) numpy view of ``tensor`` in the memory order ``order`` (a copy if it is laid out otherwise)."""
    flat = tensor.detach().permute(order).contiguous()
    return flat.view(flat.shape[0], -1).numpy()


def compiled_loops(currents: Tensor) -> bool:
    """Whether :class:`FusedLIF` runs the compiled CPU loops on ``currents`` (float32 on the CPU)."""
    return currents.device.type == "cpu" and currents.dtype == torch.float32


class FusedLIF(torch.autograd.Function):
    """All T steps of the hard-reset LIF as one autograd node (module doc); returns spikes and membranes.

    On the CPU in float32 both passes are the compiled loops of :mod:`tmkt.method.lif_kernels` (one pass over
    memory per step). Elsewhere (CUDA, bfloat16) they are torch operations: only the recursion runs step by
    step, and spikes, membranes, surrogate derivatives and the input gradient are formed for all T steps at
    once; everything is float arithmetic (on CPU a bool mask and ``torch.where`` cost several multiplies)."""

    @staticmethod
    def forward(ctx, currents: Tensor, k: float, v_th: float, v_reset: float, method: str, alpha: float,
                reset_grad: str, record: bool = True) -> tuple[Tensor, Tensor]:
        ctx.k, ctx.v_th, ctx.v_reset, ctx.method, ctx.alpha, ctx.reset_grad = k, v_th, v_reset, method, alpha, reset_grad
        ctx.set_materialize_grads(False)  # an unused membrane output gets None, not a tensor of zeros
        ctx.compiled = compiled_loops(currents)
        if ctx.compiled:
            currents, order = _time_major(currents)
            charged, spikes = torch.empty_like(currents), torch.empty_like(currents)
            membranes = torch.empty_like(currents) if record else currents.new_empty((0,) * currents.dim())
            outputs = [x.permute(order).view(x.shape[0], -1).numpy() for x in (charged, spikes)]
            outputs.append(membranes.permute(order).view(membranes.shape[0], -1).numpy() if record
                           else np.zeros((0, 0), dtype=np.float32))
            lif_kernels.forward(_steps_by_neurons(currents, order), np.float32(k), np.float32(v_th),
                                np.float32(v_reset), *outputs)
            ctx.order = order
            ctx.save_for_backward(charged, spikes)
            return spikes, membranes
        charged = torch.empty_like(currents)
        v, drive = torch.zeros_like(currents[0]), torch.empty_like(currents[0])
        for t in range(currents.shape[0]):
            torch.sub(currents[t], v, out=drive)  # norse's (I + v_leak) - v with v_leak = 0: the same u_t
            u = torch.add(v, drive.mul_(k), out=charged[t])
            z = heaviside(u - v_th)
            v = torch.addcmul(u, z, u, value=-1)  # (1 - z) u: the reset to v_reset = 0
            if v_reset != 0:
                v = v + z * v_reset
        spikes = heaviside(charged - v_th)
        ctx.save_for_backward(charged, spikes)
        return spikes, (1 - spikes) * charged + spikes * v_reset

    @staticmethod
    def backward(ctx, grad_spikes: Tensor | None, grad_membranes: Tensor | None):
        charged, spikes = ctx.saved_tensors
        k, v_reset = ctx.k, ctx.v_reset
        if ctx.compiled:
            order = ctx.order
            grad_currents = torch.empty_like(charged)
            none = np.zeros((0, 0), dtype=np.float32)
            lif_kernels.backward(
                lif_kernels.SURROGATES[ctx.method],  # its code
                _steps_by_neurons(grad_spikes, order) if grad_spikes is not None else
                np.zeros(_steps_by_neurons(charged, order).shape, dtype=np.float32),
                _steps_by_neurons(grad_membranes, order) if grad_membranes is not None else none,
                _steps_by_neurons(charged, order), np.float32(k), np.float32(ctx.v_th),
                np.float32(v_reset), np.float32(ctx.alpha),
                ctx.reset_grad == "pass", grad_currents.permute(order).view(charged.shape[0], -1).numpy())
            return grad_currents, None, None, None, None, None, None, None
        slope = surrogate_derivative(charged - ctx.v_th, ctx.method, ctx.alpha)
        through_v = 1 - spikes  # dv_t/du_t
        if ctx.reset_grad == "pass":
            through_v = through_v + (v_reset - charged) * slope
        # the spike's share; the membrane's is added step by step below
        grad_u = grad_spikes * slope if grad_spikes is not None else torch.zeros_like(charged)
        g_v = torch.zeros_like(charged[0])
        for t in range(charged.shape[0] - 1, -1, -1):
            if grad_membranes is not None:
                g_v = g_v + grad_membranes[t]
            grad_u[t].addcmul_(g_v, through_v[t])
            g_v = grad_u[t] * (1 - k)
        return grad_u.mul_(k), None, None, None, None, None, None, None


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
        self.surrogate, self.alpha = cfg.surrogate, float(cfg.surrogate_alpha)
        self.backend: LifBackend = cfg.lif
        self.record_membrane = record_membrane
        self.membrane: Tensor | None = None
        self.spike_rate: Tensor | None = None

    @classmethod
    def from_kwargs(
        cls,
        *,
        tau_mem: float = 2.0,
        v_th: float = 0.5,
        method: Surrogate = "triangle",
        alpha: float = 1.0,
        reset_grad: ResetGrad = "detach",
        backend: LifBackend = "fused",
        record_membrane: bool = False,
    ) -> "MultiStepLIF":
        """The layer from keyword arguments named as norse's (``method``, ``alpha``: the surrogate and its
        sharpness), defaults those of ``params.yaml``'s ``model`` section. ``tau_mem`` is the membrane time
        constant in time steps, ``v += (I - v) / tau_mem`` (norse's ``tau_mem_inv = 1 / (tau_mem dt)``).

        The :class:`~tmkt.config.ModelConfig` built here checks every value; its network fields (``arch``,
        ``width``, ``blocks``, ``heads``) hold fixed values the neuron never reads."""
        names = dict(tau="tau_mem", v_th="v_th", surrogate="method", surrogate_alpha="alpha", reset_grad="reset_grad",
                     lif="backend")
        try:
            cfg = ModelConfig(arch="vgg_snn", width=1.0, blocks=4, heads="separate", tau=tau_mem, v_th=v_th,
                              surrogate=method, surrogate_alpha=alpha, reset_grad=reset_grad, lif=backend)
        except ValidationError as error:
            problems = "; ".join(
                f"{names.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else 'arguments'}: {e['msg']}"
                for e in error.errors())
            raise ValueError(f"MultiStepLIF.from_kwargs: {problems}") from None
        return cls(cfg, record_membrane=record_membrane)

    def forward(self, currents: Tensor) -> Tensor:
        if currents.dim() < 2:
            raise ValueError(
                f"MultiStepLIF expects a time-first tensor (T, B, ...), got shape {tuple(currents.shape)}"
            )
        if self.backend == "fused":
            p = self.cell.p
            k = float(DT * p.tau_mem_inv)  # the float32 product norse's cell forms, exactly
            out, membrane = FusedLIF.apply(currents, k, float(p.v_th), float(p.v_reset), self.surrogate, self.alpha,
                                           self.reset_grad, self.record_membrane)
            self.spike_rate = out.detach().mean()
            self.membrane = membrane if self.record_membrane else None
            return out
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
        return (
            f"tau={self.tau}, v_th={self.v_th}, surrogate={self.surrogate!r}, alpha={self.alpha}, "
            f"reset_grad={self.reset_grad!r}, backend={self.backend!r}, record_membrane={self.record_membrane}"
        )
