"""The methods of the compendium: what each trains on and which loss terms it assembles (docs/method.md §8).

- ``event_only``: ``L = L_TET(event head, x_e)`` on the (scarce) recordings alone.
- ``joint`` (a control): ``L = L_TET(x_a) + L_TET(x_e)``, the images and the recordings of a batch as two
  streams, no mixing and no alignment: with one head shared by both streams (``model.heads``), this is
  "more labelled data through the tested classifier", which the mixing methods must beat to show that
  mixing itself helps.
- ``finetune``: the first ``train.finetune_image_fraction`` of the epochs train on images
  (``L_TET(event head, x_a)``), the rest on recordings, as ``event_only``; one optimiser and LR schedule
  throughout.
- ``sim2real`` (I2E-style sim-to-real transfer, a peer of mixing): ``finetune`` with the simulator's recordings
  of the images (``data.simulated_images``) in place of the images: pre-train on simulated events, then train
  on the recordings. ``train.finetune_image_fraction = 1`` trains on simulated events alone (train on
  simulated, test on real).
- ``he2024``: He et al. (2024): sample-level sliding replacement (each sample all-event with probability
  ``r_m``, else all-image), ``L = L_TET(mixed head, x_m) + L_TET^{1-w}(event head, x_e) + lambda_DA L_DA``
  with step weights ``w_t = sigmoid(eta_t)``, learnable (``loss.da_step_weights``; the event CE of step t
  weighted by ``1 - w_t``: their ``--regularization``) or fixed ``w_t = 1`` (their runs without it).
- ``tmkt``: time-step mixup (docs/method.md §3) and ``L = L_TET(x_m) + L_TET(x_e) + lambda_DA L_DA
  + lambda_MAG L_MAG + lambda_MRP L_MRP``, each auxiliary term switchable in ``loss:``.

The second stream of ``joint``, ``he2024`` and ``tmkt`` is made of the images or of the simulator's recordings of
them (``train.appearance``: time-step mixup of simulated and real events, say).

Every method augments the recordings it trains on alike (``train.crop_padding``, before any mixing).
Each step function returns the event-stream output (whose accuracy is the training accuracy), the loss
and the diagnostics of the step. The loop (:mod:`tmkt.training.loop`) draws the batch and its images and hands
:func:`mixed_step` the fraction of training done, ``s``; the step turns it into the expected event ratio
``r_m = ratio_schedule(mixup, s)`` (``mixup.schedule``) and mixes at that ratio.

Names: a *method* is a value of ``train.method`` (``tmkt.config.Method``); :class:`MethodSwitches` is what such a
method switches on; its ``strategy`` (``tmkt.method.mixup.Strategy``) is how its second stream mixes images with
events, and ``mixup:`` in ``params.yaml`` is the schedule of ``r_m`` that every mixing strategy follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from tmkt.config import Params
from tmkt.method.losses import (
    DomainAlignment, constant_accuracy, constant_bce, constant_regression_loss, mag_accuracy, mag_loss, mrp_loss,
    mean_ce_loss, tet_loss, total_loss,
)
from tmkt.method.mixup import Strategy, mix, ratio_schedule, unmixed
from tmkt.method.models import ModelOutput, TwoStreamSNN, predict
from tmkt.training.device import transfer
from tmkt.training.distributed import World


@dataclass(frozen=True)
class MethodSwitches:
    """What a method (``train.method``) switches on, derived from ``train.method`` and ``loss:``."""

    name: str
    two_streams: bool  #: a second (image or mixed) stream beside the recordings
    strategy: Strategy | None  #: how the second stream mixes images with events: "timestep", "sample" or None
    image_phase: bool  #: the first epochs train on images (finetune) or their simulated recordings (sim2real)
    appearance: str  #: what the images enter as: "images" or "simulated" (their simulator recordings)
    domain_alignment: bool
    da_weighting: str  #: CKA step weights: "learnable" (w_t = sigmoid(eta_t)) or "fixed" (w_t = 1)
    mag: bool
    mrp: bool

    @classmethod
    def of(cls, params: Params) -> "MethodSwitches":
        name, loss, second = params.train.method, params.loss, params.train.appearance
        if name == "tmkt":
            return cls(name, True, "timestep", False, second, loss.domain_alignment, loss.da_step_weights, loss.mag,
                       loss.mrp)
        if name == "he2024":  # --regularization on (their README's command) or off (most of their run scripts)
            return cls(name, True, "sample", False, second, True, loss.da_step_weights, False, False)
        if name == "joint":
            return cls(name, True, None, False, second, False, "fixed", False, False)
        image_phase = name in ("finetune", "sim2real")
        return cls(name, False, None, image_phase, "simulated" if name == "sim2real" else "images", False, "fixed",
                   False, False)

    @property
    def weights_event_loss(self) -> bool:
        """Whether the event stream's TET terms are weighted by ``1 - w_t`` of the learnable step weights."""
        return self.da_weighting == "learnable" and self.domain_alignment


def effective_config(params: Params) -> dict:
    """The parameters that shape a run of ``params``' method, and no others: a run's identity
    (``tmkt.training.checkpoints.fingerprint``). A knob the method does not read (TMKT's MAG weight for
    event-only training, the fine-tuning split for He et al., the schedule for joint training) is left out, so
    changing it retrains only the runs that read it."""
    switches, loss, mixup = MethodSwitches.of(params), params.loss, params.mixup
    train = params.train.model_dump(exclude={"method"} | (set() if switches.image_phase else {"finetune_image_fraction"})
                                    | (set() if switches.two_streams else {"stream_batching", "appearance"}))
    model = params.model.model_dump(exclude=set() if switches.two_streams else {"heads"})
    out = dict(method=switches.name, scarcity=params.scarcity.model_dump(), model=model, train=train)
    if switches.strategy is not None:
        out["mixup"] = dict(schedule=mixup.schedule) | (
            {"power_k": mixup.power_k} if mixup.schedule == "power" else
            {"constant_ratio": mixup.constant_ratio} if mixup.schedule == "constant" else {})
    terms = {}
    if switches.domain_alignment:
        terms |= dict(lambda_da=loss.lambda_da, da_step_weights=switches.da_weighting)
        if switches.da_weighting == "learnable":
            terms["da_eta_init"] = loss.da_eta_init
    if switches.mag:
        terms["lambda_mag"] = loss.lambda_mag
    if switches.mrp:
        terms |= dict(lambda_mrp=loss.lambda_mrp, mrp_loss=loss.mrp_loss)
    if switches.two_streams:
        out["loss"] = terms
    return out


@dataclass
class Step:
    """One optimisation step's forward pass: the loss and what the epoch log records."""

    out: ModelOutput  #: event-head output whose predictions give the training accuracy
    loss: torch.Tensor
    values: dict[str, float | torch.Tensor] = field(default_factory=dict)  #: means over the epoch
    switch_step: torch.Tensor | None = None  #: per sample: the first event frame (mixed steps)
    cka: torch.Tensor | None = None  #: per time step: CKA of the two streams (mixed steps)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, params: Params,
                        step_weights: torch.Tensor | None = None) -> torch.Tensor:
    """The classification term of one stream (``train.classification_loss``): TET with ``train.tet_mse_weight`` and
    ``phi = model.v_th``, its per-step CE (and with ``train.step_weights_on_mse`` its MSE) weighted by
    ``step_weights``; or the CE of the time-averaged logits (no step weights: the configuration forbids them)."""
    if params.train.classification_loss == "mean_ce":
        return mean_ce_loss(logits, labels)
    return tet_loss(logits, labels, lam=params.train.tet_mse_weight, phi=params.model.v_th, ce_weights=step_weights,
                    weights_on_mse=params.train.step_weights_on_mse)


def single_stream_step(model: TwoStreamSNN, frames: torch.Tensor, labels: torch.Tensor, params: Params,
                       recordings: bool = True) -> Step:
    """The event head on one stream (``recordings``, or the images in finetune's and sim2real's first phase):
    the classification term, logged as the event stream's term where the stream is the recordings."""
    out = model(frames, head="event")
    loss = classification_loss(out.logits, labels, params)
    return Step(out, loss, dict(tet_event=loss.detach()) if recordings else {})


def mixed_step(
    switches: MethodSwitches,
    model: TwoStreamSNN,
    alignment: DomainAlignment,
    images: torch.Tensor,
    events: torch.Tensor,
    labels: torch.Tensor,
    fraction_done: float,
    gen: torch.Generator,
    params: Params,
    world: World = World(),
) -> Step:
    """The second and the event stream (joint, he2024, tmkt), on ``labels``' device; images and events on the CPU.

    The whole batch is mixed (the same draws on every process of a distributed run); this process's share of
    it (``world.shard``) is trained on (``labels`` holds only those), and the CKA alignment compares the features
    of the whole batch, gathered from every process (``World.gather``).

    The mixed sequence ``x_m`` (``tmkt.method.mixup.mix`` with ``switches.strategy``, draws from ``gen``; the images
    unmixed for joint training) has the expected event ratio ``r_m = ratio_schedule(params.mixup, s)`` at the
    training progress ``s = fraction_done`` in ``[0, 1]`` (the loop's ``step / (total_steps - 1)``; the schedule draws
    nothing, so the draws from ``gen`` are those of the mixing alone),
    and the recordings ``x_e`` pass the shared trunk (``train.stream_batching``); the loss is
    ``L_TET(x_m) + L_TET^{(1-w)}(x_e) + lambda_DA L_DA + lambda_MAG L_MAG + lambda_MRP L_MRP`` with the terms
    ``switches`` turns on. Every term is also logged on its own, with, for MAG and MRP, the loss and accuracy of
    the best constant predictor of the batch (``tmkt.method.losses.constant_bce``): a head that does no better
    has learnt nothing beyond the batch's event share.
    """
    device, loss_cfg = labels.device, params.loss
    r_m = ratio_schedule(params.mixup, fraction_done) if switches.strategy else None
    whole = mix(switches.strategy, images, events, r_m, gen) if switches.strategy else unmixed(images)
    batch, share = events.shape[1], world.shard(events.shape[1])
    mixed = type(whole)(whole.frames[:, share], whole.modality[:, share], whole.ratio[share], whole.switch_step[share])
    events = events[:, share]
    out_m, out = model.forward_pair(transfer(mixed.frames, device), transfer(events, device),
                                    params.train.stream_batching)
    da = alignment(world.gather(out_m.features, batch), world.gather(out.features, batch))
    modality, ratio = transfer(mixed.modality, device), transfer(mixed.ratio, device)
    terms = dict(
        tet_mixed=classification_loss(out_m.logits, labels, params),
        tet_event=classification_loss(out.logits, labels, params, 1.0 - da.weights if switches.weights_event_loss else None),
        da_loss=da.loss if switches.domain_alignment else None,
        mag_loss=mag_loss(out_m.mag_logits, modality) if switches.mag else None,
        mrp_loss=mrp_loss(out_m.ratio_pred, ratio, loss_cfg.mrp_loss) if switches.mrp else None,
    )
    loss = total_loss(
        terms["tet_mixed"], terms["tet_event"], da=terms["da_loss"], mag=terms["mag_loss"], mrp=terms["mrp_loss"],
        lambda_da=loss_cfg.lambda_da,
        lambda_mag=loss_cfg.lambda_mag,
        lambda_mrp=loss_cfg.lambda_mrp,
    )
    values = dict(mixed_acc=(predict(out_m.logits) == labels).float().mean()) | ({} if r_m is None else dict(r_m=r_m))
    values |= {name: term.detach() for name, term in terms.items() if term is not None}
    if switches.mag:
        values |= dict(mag_acc=mag_accuracy(out_m.mag_logits, modality), mag_base_acc=constant_accuracy(modality),
                       mag_base_loss=constant_bce(modality))
    if switches.mrp:
        values |= dict(mrp_abs_err=(out_m.ratio_pred - ratio).abs().mean(),
                       mrp_base_loss=constant_regression_loss(ratio, loss_cfg.mrp_loss))
    return Step(out, loss, values, mixed.switch_step, da.cka)
