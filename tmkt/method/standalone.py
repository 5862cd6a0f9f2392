"""The method for one's own training loop: the pieces of :mod:`tmkt.method` behind keyword arguments and the
batch-first layout of tonic and SpikingJelly, re-exported by ``import tmkt`` (docs/api.md).

Nothing here computes anything new: every piece calls the function the pipeline trains with, and the only work
added is the layout conversion. A batch-first tensor ``x (B, T, ...)`` is the time-first ``x.transpose(0, 1)``;
the method mixes, aligns and integrates over ``t`` on ``(T, B, ...)`` and the result is transposed back.

Time-step mixup at expected event ratio ``r_m``: every step switches with probability ``p = p(r_m)`` (the root
of ``r(p) = (1/T) sum_{k=1..T} (1 - (1 - p)^k) = r_m``), the first switch ``t0`` ends the appearance frames and
``x_m^t = x_a^t (t < t0), x_e^t (t >= t0)``.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from pydantic import ValidationError
from torch import Tensor, nn

from tmkt.config import Arch, Heads, MixupConfig, ModelConfig, Schedule, StepWeights
from tmkt.method.losses import DAOutput, DomainAlignment, linear_cka, tet_loss
from tmkt.method.mixup import MixedBatch, expected_event_ratio, mix, solve_p
from tmkt.method.mixup import ratio_schedule as _ratio_schedule
from tmkt.method.models import TwoStreamSNN, build_model, predict
from tmkt.method.neurons import MultiStepLIF

#: ``"BT"``: batch-first ``(B, T, ...)`` (tonic, SpikingJelly); ``"TB"``: time-first ``(T, B, ...)`` (this package).
Layout = Literal["BT", "TB"]
LAYOUTS: tuple[Layout, ...] = get_args(Layout)

__all__ = [
    "CKAAlignment", "DAOutput", "MixedBatch", "MultiStepLIF", "TimestepMixup", "TwoStreamSNN", "expected_event_ratio",
    "linear_cka", "predict", "ratio_schedule", "solve_p", "tet_loss", "two_stream_snn",
]


def _check_layout(layout: object, allow_none: bool = False) -> None:
    if layout is None and allow_none:
        return
    allowed = ", ".join(map(repr, LAYOUTS)) + (" or None (inferred from time_steps)" if allow_none else "")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be {allowed}, got {layout!r}")


def _time_first(x: Tensor, layout: Layout) -> Tensor:
    return x.transpose(0, 1) if layout == "BT" else x


class TimestepMixup(nn.Module):
    """Time-step mixup of an appearance batch with an event batch of the same shape, ``(B, T, C, H, W)``
    (``layout="BT"``) or ``(T, B, C, H, W)`` (``layout="TB"``).

    With ``layout=None`` the layout is read from the shape: time is the axis of length ``time_steps``; a shape
    with ``B == T`` (both axes could be time) or with neither axis of length ``time_steps`` is refused. ``r_m`` is
    the expected share of event frames (set it each step from :func:`ratio_schedule`); ``strategy="sample"``
    gives He et al.'s sample-level replacement instead. Returns a :class:`MixedBatch` whose ``frames`` and
    ``modality`` (``(B, T)`` or ``(T, B)``) keep the input's layout; ``ratio`` and ``switch_step`` are ``(B,)``.

    >>> mixup = TimestepMixup(time_steps=8, r_m=0.5)
    >>> mixed = mixup(images, events)            # images, events: (B, 8, 2, 48, 48)
    """

    def __init__(
        self,
        time_steps: int,
        r_m: float = 0.5,
        layout: Layout | None = None,
        strategy: Literal["timestep", "sample"] = "timestep",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if isinstance(time_steps, bool) or not isinstance(time_steps, int) or time_steps < 1:
            raise ValueError(f"time_steps must be an int >= 1, got {time_steps!r}")
        _check_layout(layout, allow_none=True)
        if strategy not in ("timestep", "sample"):
            raise ValueError(f"strategy must be 'timestep' (time-step mixup) or 'sample' (He et al.), got {strategy!r}")
        solve_p(r_m, time_steps)  # checks r_m in [0, 1]
        self.time_steps, self.r_m, self.layout, self.strategy, self.generator = (
            time_steps, r_m, layout, strategy, generator)

    def resolve_layout(self, x: Tensor) -> Layout:
        """The layout of ``x``: the one given, or the one whose time axis has length ``time_steps``."""
        if x.dim() != 5:
            raise ValueError(f"TimestepMixup expects 5-D frames (B, T, C, H, W) or (T, B, C, H, W), "
                             f"got {x.dim()}-D shape {tuple(x.shape)}")
        T = self.time_steps
        if self.layout is not None:
            found = self.layout
        elif x.shape[0] == x.shape[1] == T:
            raise ValueError(f"ambiguous layout: shape {tuple(x.shape)} has B == T == {T}, so either axis could be "
                             f"time; pass layout='BT' (batch-first) or layout='TB' (time-first)")
        elif x.shape[1] == T:
            found = "BT"
        elif x.shape[0] == T:
            found = "TB"
        else:
            raise ValueError(f"no axis of shape {tuple(x.shape)} has time_steps = {T} steps; pass layout='BT' or "
                             f"layout='TB', or the right time_steps")
        if x.shape[1 if found == "BT" else 0] != T:
            raise ValueError(f"layout {found!r} puts {x.shape[1 if found == 'BT' else 0]} steps on the time axis of "
                             f"shape {tuple(x.shape)}, expected time_steps = {T}")
        return found

    def forward(self, images: Tensor, events: Tensor, r_m: float | None = None) -> MixedBatch:
        """Mix ``images`` and ``events`` at ``r_m`` (``self.r_m`` when None)."""
        if images.shape != events.shape:
            raise ValueError(f"images {tuple(images.shape)} and events {tuple(events.shape)} must have the same shape")
        layout = self.resolve_layout(images)
        out = mix(self.strategy, _time_first(images, layout), _time_first(events, layout),
                  self.r_m if r_m is None else r_m, self.generator)
        if layout == "TB":
            return out
        return out._replace(frames=out.frames.transpose(0, 1), modality=out.modality.transpose(0, 1))

    def extra_repr(self) -> str:
        return f"time_steps={self.time_steps}, r_m={self.r_m}, layout={self.layout!r}, strategy={self.strategy!r}"


def ratio_schedule(schedule: Schedule, progress: float, power_k: float = 3.0, constant_ratio: float = 0.5) -> float:
    """``r_m`` at training progress ``s = progress in [0, 1]``: ``"power"`` ``s^k`` (k = ``power_k``; He et al.'s
    sliding schedule at k = 3), ``"linear"`` ``s``, ``"cosine"`` ``(1 - cos(pi s)) / 2``, ``"constant"`` ``c``.

    >>> ratio_schedule("power", 0.5)
    0.125
    """
    try:
        cfg = MixupConfig(schedule=schedule, power_k=power_k, constant_ratio=constant_ratio)
    except ValidationError as error:
        raise ValueError("ratio_schedule: " + "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())) from None
    return _ratio_schedule(cfg, progress)


class CKAAlignment(DomainAlignment):
    """CKA domain alignment ``L_DA = mean_t w_t (1 - CKA(F_t^m, F_t^e))`` of the mixed and event streams'
    features ``(T, B, ...)`` (``layout="TB"``, as :class:`TwoStreamSNN` gives them) or ``(B, T, ...)``
    (``layout="BT"``), with step weights ``w_t = sigmoid(eta_t)`` (``step_weights="learnable"``, ``eta_t``
    starting at ``eta_init``) or ``w_t = 1`` (``"fixed"``). Returns :class:`DAOutput` (loss, per-step CKA,
    weights); weight the event stream's per-step CE by ``1 - weights`` (:func:`tet_loss`'s ``ce_weights``).

    >>> align = CKAAlignment(time_steps=8)
    >>> align(out_mixed.features, out_event.features).loss
    """

    def __init__(self, time_steps: int, step_weights: StepWeights = "learnable", eta_init: float = 1.0,
                 layout: Layout = "TB") -> None:
        super().__init__(time_steps, step_weights, eta_init)
        _check_layout(layout)
        self.layout = layout

    def forward(self, feat_mixed: Tensor, feat_event: Tensor) -> DAOutput:
        if feat_mixed.dim() < 3 or feat_event.dim() < 3:
            raise ValueError(f"features must be at least 3-D ({self.layout[0]}, {self.layout[1]}, ...), "
                             f"got {tuple(feat_mixed.shape)} and {tuple(feat_event.shape)}")
        return super().forward(_time_first(feat_mixed, self.layout), _time_first(feat_event, self.layout))


def two_stream_snn(
    *,
    num_classes: int,
    time_steps: int,
    input_size: tuple[int, int],
    in_channels: int = 2,
    arch: Arch = "vgg_snn",
    width: float = 0.0625,
    blocks: int = 3,
    heads: Heads = "separate",
    **neuron,
) -> TwoStreamSNN:
    """The two-stream spiking network (one trunk shared by the mixed and event streams, a classifier per stream,
    the MAG and MRP heads) from keyword arguments, defaults those of ``params.yaml`` (``width=1.0, blocks=4`` is
    the paper's VGG-SNN). ``neuron``: the keywords of :meth:`MultiStepLIF.from_kwargs` (``tau_mem``, ``v_th``,
    ``method``, ``alpha``, ``reset_grad``, ``backend``), checked there. Its input is time-first
    ``(T, B, in_channels, H, W)`` with ``input_size = (H, W)``; its output a
    :class:`~tmkt.method.models.ModelOutput` with per-step ``logits (T, B, K)``.

    >>> net = two_stream_snn(num_classes=10, time_steps=8, input_size=(32, 32))
    >>> net(x.transpose(0, 1), head="mixed").logits   # x: (B, 8, 2, 32, 32)
    """
    lif = MultiStepLIF.from_kwargs(**neuron)  # the neuron's keywords, defaults and checks live there
    try:
        cfg = ModelConfig(arch=arch, width=width, blocks=blocks, heads=heads, tau=lif.tau, v_th=lif.v_th,
                          surrogate=lif.surrogate, surrogate_alpha=lif.alpha, reset_grad=lif.reset_grad,
                          lif=lif.backend)
    except ValidationError as error:
        problems = "; ".join(f"{e['loc'][0] if e['loc'] else 'arguments'}: {e['msg']}" for e in error.errors())
        raise ValueError(f"two_stream_snn: {problems}") from None
    return build_model(cfg, num_classes, time_steps, input_size, in_channels)
