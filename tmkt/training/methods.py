"""The four methods of the compendium: what each trains on and which loss terms it assembles (docs/method.md §8).

- ``event_only``: ``L = L_TET(event head, x_e)`` on the (scarce) recordings alone.
- ``finetune``: the first ``train.finetune_image_fraction`` of the epochs train on images
  (``L_TET(event head, x_a)``), the rest on recordings, as ``event_only``; one optimiser and LR schedule
  throughout.
- ``he2024``: He et al. (2024): sample-level sliding replacement (each sample all-event with probability
  ``r_m``, else all-image), ``L = L_TET(mixed head, x_m) + L_TET^{1-w}(event head, x_e) + lambda_DA L_DA``
  with learnable step weights ``w_t = sigmoid(eta_t)`` (the event CE of step t weighted by ``1 - w_t``).
- ``tmkt``: time-step mixup (docs/method.md §3) and ``L = L_TET(x_m) + L_TET(x_e) + lambda_DA L_DA
  + lambda_MAG L_MAG + lambda_MRP L_MRP``, each auxiliary term switchable in ``loss:``.

Each step function returns the event-stream output (whose accuracy is the training accuracy), the loss
and the diagnostics of the step; drawing the batch's images and the training loop stay in
:mod:`tmkt.training.loop`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from tmkt.config import Params
from tmkt.method.losses import DomainAlignment, mag_accuracy, mag_loss, mrp_loss, tet_loss, total_loss
from tmkt.method.mixup import mix
from tmkt.method.models import ModelOutput, TwoStreamSNN, predict
from tmkt.training.device import transfer


@dataclass(frozen=True)
class Method:
    """What a method switches on (derived from ``train.method`` and ``loss:``)."""

    name: str
    mixup: str | None  #: "timestep", "sample" or None (no mixed stream)
    image_phase: bool  #: the first epochs train on images (finetune)
    domain_alignment: bool
    da_weighting: str  #: CKA step weights: "learnable" (w_t = sigmoid(eta_t)) or "fixed" (w_t = 1)
    mag: bool
    mrp: bool

    @classmethod
    def of(cls, params: Params) -> "Method":
        name, loss = params.train.method, params.loss
        if name == "tmkt":
            return cls(name, "timestep", False, loss.domain_alignment, loss.da_step_weights, loss.mag, loss.mrp)
        if name == "he2024":
            return cls(name, "sample", False, True, "learnable", False, False)
        return cls(name, None, name == "finetune", False, "fixed", False, False)

    @property
    def weights_event_loss(self) -> bool:
        """Whether the event stream's TET terms are weighted by ``1 - w_t`` of the learnable step weights."""
        return self.da_weighting == "learnable" and self.domain_alignment


@dataclass
class Step:
    """One optimisation step's forward pass: the loss and what the epoch log records."""

    out: ModelOutput  #: event-head output whose predictions give the training accuracy
    loss: torch.Tensor
    values: dict[str, float | torch.Tensor] = field(default_factory=dict)  #: means over the epoch
    switch_step: torch.Tensor | None = None  #: per sample: the first event frame (mixed steps)
    cka: torch.Tensor | None = None  #: per time step: CKA of the two streams (mixed steps)


def single_stream_step(model: TwoStreamSNN, frames: torch.Tensor, labels: torch.Tensor, params: Params) -> Step:
    """The event head on one stream (recordings, or images in finetune's image phase): ``L_TET``."""
    out = model(frames, head="event")
    return Step(out, tet_loss(out.logits, labels, lam=params.train.tet_lambda, phi=params.model.v_th))


def mixed_step(
    method: Method,
    model: TwoStreamSNN,
    alignment: DomainAlignment,
    images: torch.Tensor,
    events: torch.Tensor,
    labels: torch.Tensor,
    r_m: float,
    gen: torch.Generator,
    params: Params,
    share: slice = slice(None),
) -> Step:
    """The mixed and the event stream (he2024, tmkt), on ``labels``' device; images and events on the CPU.

    The whole batch is mixed (the same draws on every process of a distributed run); the samples ``share``
    of it are trained on (``labels`` holds only those).

    The mixed sequence ``x_m`` (``tmkt.method.mixup.mix``, expected event ratio ``r_m``, draws from ``gen``)
    and the recordings ``x_e`` pass the shared trunk (``train.stream_batching``); the loss is
    ``L_TET(x_m) + L_TET^{(1-w)}(x_e) + lambda_DA L_DA + lambda_MAG L_MAG + lambda_MRP L_MRP`` with the terms
    ``method`` switches on.
    """
    device, loss_cfg, tet = labels.device, params.loss, dict(lam=params.train.tet_lambda, phi=params.model.v_th)
    whole = mix(method.mixup, images, events, r_m, gen)
    mixed = type(whole)(whole.frames[:, share], whole.modality[:, share], whole.ratio[share], whole.switch_step[share])
    events = events[:, share]
    out_m, out = model.forward_pair(transfer(mixed.frames, device), transfer(events, device),
                                    params.train.stream_batching)
    da = alignment(out_m.features, out.features)
    modality, ratio = transfer(mixed.modality, device), transfer(mixed.ratio, device)
    loss = total_loss(
        tet_loss(out_m.logits, labels, **tet),
        tet_loss(out.logits, labels, ce_weights=1.0 - da.weights if method.weights_event_loss else None, **tet),
        da=da.loss if method.domain_alignment else None,
        mag=mag_loss(out_m.mag_logits, modality) if method.mag else None,
        mrp=mrp_loss(out_m.ratio_pred, ratio, loss_cfg.mrp_loss) if method.mrp else None,
        lambda_da=loss_cfg.lambda_da,
        lambda_mag=loss_cfg.lambda_mag,
        lambda_mrp=loss_cfg.lambda_mrp,
    )
    values = dict(r_m=r_m, mixed_acc=(predict(out_m.logits) == labels).float().mean())
    if method.mag:
        values["mag_acc"] = mag_accuracy(out_m.mag_logits, modality)
    if method.mrp:
        values["mrp_abs_err"] = (out_m.ratio_pred - ratio).abs().mean()
    return Step(out, loss, values, mixed.switch_step, da.cka)
