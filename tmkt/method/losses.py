"""Losses of TMKT (docs/method.md §4), on time-first tensors.

TET (Deng et al. 2022, as used by He2024), logits ``O_t (T, B, K)``, labels ``y``, step weights ``w_t``::

    L_TET = (1 - lam) * mean_t w_t CE(O_t, y) + lam * mean_t MSE(O_t, phi)

``MSE(O_t, phi)`` is the mean over the batch and classes of ``(O_t - phi)^2``; ``phi = V_th``.
``w_t = 1`` by default. He2024 weights the *event* stream's CE terms by ``1 - w_t``, where ``w_t`` are
the domain-alignment step weights: pass ``ce_weights = 1 - DAOutput.weights`` for that stream. This
trade-off is what keeps learnable ``w_t`` from collapsing to 0 (which would switch alignment off).

Linear CKA (Kornblith et al. 2019) between ``X (B, Dx)`` and ``Y (B, Dy)`` with column-centred
``Xc, Yc``::

    CKA(X, Y) = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) = <K, L>_F / (||K||_F ||L||_F)

with the ``B x B`` Gram matrices ``K = Xc Xc^T``, ``L = Yc Yc^T`` (``||Yc^T Xc||_F^2 = tr(K L)``). The
Gram form costs ``O(B^2 D)`` instead of ``O(B D^2)`` and is used whenever ``B`` is below the feature
widths (the usual case: B = 64, D = thousands). CKA lies in ``[0, 1]``, is 1 for ``X = Y`` and is
invariant to orthogonal transforms and isotropic scaling of either argument. Each argument is divided
by its Frobenius norm first (free by the scale invariance) so the products stay O(1); a constant
argument gives CKA 0 with finite gradients.

Domain alignment: ``L_DA = mean_t w_t (1 - CKA(F_t^m, F_t^e))`` over the per-step penultimate features
of the mixed and event streams, ``w_t = sigmoid(eta_t)`` learnable (He2024, ``eta_t`` init 1.0) or 1.

MAG (Modality Aware Guidance): binary CE with logits of the per-frame modality ``m_t`` (0 appearance,
1 event). MRP (Mixup Ratio Perception): MSE (or L1) between the predicted ratio (a sigmoid output) and
``rho = mean_t m_t``.

Constant-predictor baselines. A MAG or MRP head that ignores its input can still reach the loss of the best
constant for the batch: with the batch's event share ``pi = mean m_t``, the binary CE of predicting ``pi`` for
every frame is the entropy ``H(pi) = -pi log pi - (1 - pi) log(1 - pi)`` and its accuracy ``max(pi, 1 - pi)``;
for MRP the best constant is the batch mean of ``rho`` (MSE: ``Var(rho)``) or its median (L1: the mean absolute
deviation from it). Only a head below these has learnt something from the frames.

Total: ``L = L_TET(mixed) + L_TET(event) + lambda_DA L_DA + lambda_MAG L_MAG + lambda_MRP L_MRP``.
"""

from __future__ import annotations

from typing import NamedTuple, get_args

import torch
import torch.nn.functional as F
from torch import nn

from tmkt.config import MrpLoss, StepWeights


def tet_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    lam: float,
    phi: float,
    ce_weights: torch.Tensor | None = None,
    weights_on_mse: bool = False,
) -> torch.Tensor:
    """TET loss of per-step logits ``(T, B, K)`` against class labels ``(B,)``; optional ``w_t (T,)`` on the CE
    (and, with ``weights_on_mse``, on the MSE of each step too, as He et al.'s code weights both):

        L = (1 - lam) (1/T) sum_t w_t CE(O_t, y) + lam (1/T) sum_t [w_t] mean_b,k (O_t - phi)^2
    """
    if logits.dim() != 3:
        raise ValueError(f"logits must have shape (T, B, K), got {tuple(logits.shape)}")
    T, B, K = logits.shape
    if target.shape != (B,):
        raise ValueError(f"target must have shape (B,) = ({B},), got {tuple(target.shape)}")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam (weight of the MSE term) must lie in [0, 1], got {lam!r}")
    ce_per_step = F.cross_entropy(logits.reshape(T * B, K), target.repeat(T), reduction="none").view(T, B).mean(1)
    if ce_weights is not None:
        if ce_weights.shape != (T,):
            raise ValueError(f"ce_weights must have shape (T,) = ({T},), got {tuple(ce_weights.shape)}")
        ce_per_step = ce_weights * ce_per_step
    if weights_on_mse and ce_weights is not None:
        mse = (ce_weights * (logits - phi).pow(2).mean(dim=(1, 2))).mean()
    else:
        mse = (logits - phi).pow(2).mean()
    return (1.0 - lam) * ce_per_step.mean() + lam * mse


def mean_ce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the time-averaged logits ``(1/T) sum_t O_t`` (He et al.'s runs without TET)."""
    if logits.dim() != 3:
        raise ValueError(f"logits must have shape (T, B, K), got {tuple(logits.shape)}")
    return F.cross_entropy(logits.mean(0), target)


def linear_cka(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Linear CKA over the batch between ``x (..., B, Dx)`` and ``y (..., B, Dy)``; shape ``(...)``."""
    if x.dim() < 2 or y.dim() < 2 or x.shape[:-1] != y.shape[:-1]:
        raise ValueError(
            f"x and y must have shapes (..., B, Dx) and (..., B, Dy) with equal leading dims, "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.shape[-2] < 2:
        raise ValueError(f"CKA needs a batch of at least 2 samples, got B = {x.shape[-2]}")
    xc = x - x.mean(dim=-2, keepdim=True)
    yc = y - y.mean(dim=-2, keepdim=True)
    xc = xc / (xc.flatten(-2).norm(dim=-1)[..., None, None] + eps)
    yc = yc / (yc.flatten(-2).norm(dim=-1)[..., None, None] + eps)
    batch = x.shape[-2]
    if batch <= max(x.shape[-1], y.shape[-1]):
        gram_x = xc @ xc.transpose(-1, -2)
        gram_y = yc @ yc.transpose(-1, -2)
        cross = (gram_x * gram_y).sum(dim=(-2, -1))
        self_x = gram_x.pow(2).sum(dim=(-2, -1))
        self_y = gram_y.pow(2).sum(dim=(-2, -1))
    else:
        cross = (yc.transpose(-1, -2) @ xc).pow(2).sum(dim=(-2, -1))
        self_x = (xc.transpose(-1, -2) @ xc).pow(2).sum(dim=(-2, -1))
        self_y = (yc.transpose(-1, -2) @ yc).pow(2).sum(dim=(-2, -1))
    return cross / torch.sqrt(self_x * self_y + eps**2)


class DAOutput(NamedTuple):
    """Domain-alignment result: ``loss`` (scalar), ``cka (T,)`` detached, ``weights (T,)`` w_t (with grad
    when learnable, so the event stream's CE can be weighted by ``1 - weights``)."""

    loss: torch.Tensor
    cka: torch.Tensor
    weights: torch.Tensor


class DomainAlignment(nn.Module):
    """``L_DA = mean_t w_t (1 - CKA(F_t^m, F_t^e))`` with ``w_t = sigmoid(eta_t)`` ('learnable') or 1 ('fixed')."""

    def __init__(
        self, time_steps: int, weighting: StepWeights, eta_init: float
    ) -> None:
        super().__init__()
        if isinstance(time_steps, bool) or not isinstance(time_steps, int) or time_steps < 1:
            raise ValueError(f"time_steps must be an int >= 1, got {time_steps!r}")
        if weighting not in get_args(StepWeights):
            raise ValueError(f"weighting must be one of {get_args(StepWeights)}, got {weighting!r}")
        self.time_steps = time_steps
        self.eta: nn.Parameter | None = (
            nn.Parameter(torch.full((time_steps,), float(eta_init))) if weighting == "learnable" else None
        )

    def weights(self) -> torch.Tensor:
        """The current ``w_t (T,)``."""
        if self.eta is None:
            return torch.ones(self.time_steps)
        return torch.sigmoid(self.eta)

    def forward(self, feat_mixed: torch.Tensor, feat_event: torch.Tensor) -> DAOutput:
        """Features ``(T, B, ...)`` of the mixed and event streams (trailing dims are flattened)."""
        if feat_mixed.shape[:2] != feat_event.shape[:2] or feat_mixed.dim() < 3:
            raise ValueError(
                f"feat_mixed and feat_event must have shapes (T, B, ...) with equal T and B, "
                f"got {tuple(feat_mixed.shape)} and {tuple(feat_event.shape)}"
            )
        if feat_mixed.shape[0] != self.time_steps:
            raise ValueError(f"features have T = {feat_mixed.shape[0]} steps, module built for {self.time_steps}")
        cka = linear_cka(feat_mixed.flatten(2), feat_event.flatten(2))
        weights = self.weights().to(device=cka.device, dtype=cka.dtype)
        loss = (weights * (1.0 - cka)).mean()
        return DAOutput(loss=loss, cka=cka.detach(), weights=weights)

    def extra_repr(self) -> str:
        return f"time_steps={self.time_steps}, weighting={'learnable' if self.eta is not None else 'fixed'}"


def _check_modality(logits: torch.Tensor, modality: torch.Tensor) -> None:
    if logits.shape != modality.shape or logits.dim() != 2:
        raise ValueError(
            f"MAG logits and modality must both have shape (T, B), got {tuple(logits.shape)} and "
            f"{tuple(modality.shape)}"
        )


def mag_loss(logits: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
    """Binary CE (with logits) of the per-frame modality prediction ``(T, B)`` against ``m_t`` in {0, 1}."""
    _check_modality(logits, modality)
    return F.binary_cross_entropy_with_logits(logits, modality.to(logits.dtype))


def mag_accuracy(logits: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
    """Fraction of frames whose modality is predicted right (logit > 0 means event); scalar."""
    _check_modality(logits, modality)
    return ((logits > 0) == (modality > 0.5)).float().mean()


def constant_bce(modality: torch.Tensor) -> torch.Tensor:
    """``H(pi)``: the binary CE of the best constant prediction of the modalities ``(T, B)`` (nats, scalar)."""
    pi = modality.double().mean()
    return -(torch.special.xlogy(pi, pi) + torch.special.xlogy(1 - pi, 1 - pi)).float()  # 0 log 0 = 0


def constant_accuracy(modality: torch.Tensor) -> torch.Tensor:
    """``max(pi, 1 - pi)``: the accuracy of predicting the majority modality for every frame (scalar)."""
    pi = modality.float().mean()
    return torch.maximum(pi, 1 - pi)


def constant_regression_loss(ratio: torch.Tensor, kind: MrpLoss) -> torch.Tensor:
    """The MRP loss of the best constant prediction of ``rho (B,)``: its variance (mse) or mean absolute deviation
    from its median (l1)."""
    ratio = ratio.float()
    if kind == "mse":
        return ((ratio - ratio.mean()) ** 2).mean()
    if kind == "l1":
        return (ratio - ratio.median()).abs().mean()
    raise ValueError(f"unknown MRP loss kind {kind!r}; expected one of {get_args(MrpLoss)}")


def mrp_loss(pred_ratio: torch.Tensor, ratio: torch.Tensor, kind: MrpLoss) -> torch.Tensor:
    """MRP loss between the predicted event ratio ``(B,)`` (a sigmoid output) and the true ``rho (B,)``."""
    if pred_ratio.shape != ratio.shape or pred_ratio.dim() != 1:
        raise ValueError(
            f"pred_ratio and ratio must both have shape (B,), got {tuple(pred_ratio.shape)} and {tuple(ratio.shape)}"
        )
    target = ratio.to(pred_ratio.dtype)
    if kind == "mse":
        return F.mse_loss(pred_ratio, target)
    if kind == "l1":
        return F.l1_loss(pred_ratio, target)
    raise ValueError(f"unknown MRP loss kind {kind!r}; expected one of {get_args(MrpLoss)}")


def total_loss(
    tet_mixed: torch.Tensor,
    tet_event: torch.Tensor,
    da: torch.Tensor | None = None,
    mag: torch.Tensor | None = None,
    mrp: torch.Tensor | None = None,
    *,
    lambda_da: float,
    lambda_mag: float,
    lambda_mrp: float,
) -> torch.Tensor:
    """``L_TET(mixed) + L_TET(event) + lambda_DA L_DA + lambda_MAG L_MAG + lambda_MRP L_MRP``; ``None`` = off.

    The weights are ``loss.lambda_da``, ``loss.lambda_mag`` and ``loss.lambda_mrp`` of ``params.yaml``, passed by the
    caller (no defaults here, so the values live in one place)."""
    total = tet_mixed + tet_event
    for name, term, weight in (("da", da, lambda_da), ("mag", mag, lambda_mag), ("mrp", mrp, lambda_mrp)):
        if weight < 0:
            raise ValueError(f"lambda_{name} must be >= 0, got {weight!r}")
        if term is not None:
            total = total + weight * term
    return total
