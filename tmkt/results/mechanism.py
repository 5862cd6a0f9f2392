"""Mechanism of docs/method.md §7: how time-step mixup (TSM) and sample-level replacement spread the event
ratio and the gradient, at equal expected event ratio ``r_m``.

Event ratio. A mixed sequence takes the appearance frames before the switch step ``t0`` (0-based,
``t0 = T``: no switch) and the event frames from ``t0`` on, so ``rho = (T - t0) / T``. Both strategies
have ``E[rho] = r_m``; TSM's ``t0`` is truncated-geometric with the per-step switch probability
``p = solve_p(r_m, T)``, giving ``Var(rho) = ratio_variance(r_m, T, "timestep") <= r_m (1 - r_m)``,
while sample-level replacement has ``t0 in {0, T}``, ``rho ~ Bernoulli(r_m)`` and
``Var(rho) = r_m (1 - r_m)``. :func:`switch_and_ratio_samples` draws ``(t0, rho)`` with
:func:`tmkt.method.mixup.mix` itself, so the Monte-Carlo check exercises the training code's mixing rule.

Gradient variance across mini-batches. Fix one batch ``(x_a, x_e, y)`` and the parameters ``theta``.
Each of ``K`` independent mixings ``x_m^(k) = mix(strategy, x_a, x_e, r_m)`` gives the gradient
``g_k = grad_theta L_TET(f_theta(x_m^(k)), y)`` (all trainable parameters, flattened). The measured
variance is the trace of the sample covariance::

    Var_g = 1/(K-1) sum_k ||g_k - g_bar||^2,        g_bar = (1/K) sum_k g_k

The only randomness is the mixing draw: the model runs in eval mode (BatchNorm uses its running
statistics, so a draw cannot change another sample's normalisation) and ``.grad`` is left untouched
(gradients come from :func:`torch.autograd.grad`). At ``r_m in {0, 1}`` nothing is random and
``Var_g = 0`` for both strategies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from tmkt.method.losses import tet_loss
from tmkt.method.mixup import STRATEGIES, expected_shares, mix
from tmkt.method.models import Head, TwoStreamSNN
from tmkt.results.tables import mix_shares
from tmkt.results.trained import trained_model
from tmkt.training.methods import MethodSwitches


def switch_and_ratio_samples(
    r_m: float, T: int, strategy: str, n: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """``n`` Monte-Carlo draws of the switch step ``t0 (n,)`` (0-based, ``T``: none) and ``rho (n,)``.

    Mixes dummy streams (appearance 0, events 1, shape ``(T, n)``) with :func:`tmkt.method.mixup.mix`.
    """
    zeros = torch.zeros(T, n)
    mixed = mix(strategy, zeros, torch.ones_like(zeros), r_m, generator)
    return mixed.switch_step, mixed.ratio


def _flat_gradient(loss: Tensor, params: list[nn.Parameter]) -> Tensor:
    """``grad_theta loss`` flattened to one float64 vector (zeros for parameters the loss does not reach)."""
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat(
        [
            (torch.zeros_like(p) if g is None else g).reshape(-1).to(torch.float64)
            for g, p in zip(grads, params, strict=True)
        ]
    )


def total_variance(vectors: Tensor) -> float:
    """``1/(K-1) sum_k ||v_k - v_bar||^2`` of the rows of ``vectors (K, P)`` (trace of the covariance).

    Rows are first shifted by ``v_0`` (variance is shift-invariant): identical rows give exactly 0.
    """
    if vectors.shape[0] < 2:
        raise ValueError(f"need at least 2 vectors for a variance, got {vectors.shape[0]}")
    shifted = vectors - vectors[:1]
    return float((shifted - shifted.mean(dim=0)).pow(2).sum() / (vectors.shape[0] - 1))


def gradient_variance(
    model: TwoStreamSNN,
    images: Tensor,
    events: Tensor,
    labels: Tensor,
    r_m: float,
    strategy: str,
    draws: int,
    generator: torch.Generator | None,
    *,
    lam: float,
    phi: float,
    head: Head = "mixed",
) -> float:
    """Total variance of the TET-loss gradient (``lam``, ``phi``: :func:`tmkt.method.losses.tet_loss`) over
    ``draws`` mixings of one batch (module docstring).

    ``images``, ``events``: ``(T, B, C, H, W)``; ``labels (B,)``. The model runs in eval mode (BatchNorm
    running statistics) and every module's previous train/eval mode is restored afterwards; ``.grad``
    of the parameters is not touched.
    """
    if draws < 2:
        raise ValueError(f"draws must be >= 2, got {draws}")
    params = [p for p in model.parameters() if p.requires_grad]
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        vectors = []
        for _ in range(draws):
            mixed = mix(strategy, images, events, r_m, generator)
            loss = tet_loss(model(mixed.frames, head=head).logits, labels, lam=lam, phi=phi)
            vectors.append(_flat_gradient(loss, params))
    finally:
        for module, training in modes.items():
            module.training = training
    return total_variance(torch.stack(vectors))


def _generator(seed: int, ratio_index: int, strategy_index: int) -> torch.Generator:
    """An independent, reproducible CPU generator per (seed, ratio, strategy)."""
    state = np.random.SeedSequence([seed, ratio_index, strategy_index]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def gradient_variance_table(
    model: TwoStreamSNN,
    images: Tensor,
    events: Tensor,
    labels: Tensor,
    ratios: list[float] | tuple[float, ...],
    draws: int,
    seed: int,
    *,
    lam: float,
    phi: float,
) -> pd.DataFrame:
    """:func:`gradient_variance` for every ``r_m`` in ``ratios`` and both strategies.

    Columns ``r_m``, ``strategy``, ``grad_variance``; each (ratio, strategy) has its own generator
    seeded from ``(seed, ratio index, strategy index)``.
    """
    rows = [
        {
            "r_m": float(r_m),
            "strategy": strategy,
            "grad_variance": gradient_variance(
                model, images, events, labels, r_m, strategy, draws, _generator(seed, i, j), lam=lam, phi=phi
            ),
        }
        for i, r_m in enumerate(ratios)
        for j, strategy in enumerate(STRATEGIES)
    ]
    return pd.DataFrame(rows, columns=["r_m", "strategy", "grad_variance"])


def trained_gradient_variance(params, data, checkpoint: str | Path) -> pd.DataFrame:
    """:func:`gradient_variance_table` of a trained run: the network of ``checkpoint`` (its last epoch's
    weights), one fixed batch of ``figures.gradient_batch`` validation recordings (drawn with seed 0) and
    paired training images of their classes, mixed ``figures.gradient_draws`` times at each of ``figures.ratios``."""
    model = trained_model(params.model, data, checkpoint, weights="last")
    batch = data.rows("event", "val").sample(params.figures.gradient_batch, random_state=0)
    labels = batch["label"].to_numpy()
    events = data.event_frames(batch["row"].to_numpy())
    images = data.appearance(data.draw_images(labels, np.random.default_rng(0)))
    return gradient_variance_table(model, images, events, torch.tensor(labels), params.figures.ratios,
                                   draws=params.figures.gradient_draws, seed=0,
                                   lam=params.train.tet_mse_weight, phi=params.model.v_th)


def example_mixed_sequence(data, r_m: float = 0.5, candidates: int = 16) -> tuple[Tensor, Tensor, int, int]:
    """One sequence to show time-step mixup: the first validation recording, a training image of its class,
    and, of ``candidates`` switch steps drawn at ``r_m`` (seed 0), the one closest to the middle.

    Returns ``(image frames (T, 2, H, W), event frames (T, 2, H, W), t0 (0-based switch step), class id)``.
    """
    row = data.rows("event", "val").iloc[0]
    events = data.event_frames([row["row"]])
    images = data.appearance(data.draw_images([row["label"]], np.random.default_rng(1)))
    T = data.time_steps
    switch_steps, _ = switch_and_ratio_samples(r_m, T, "timestep", candidates, torch.Generator().manual_seed(0))
    t0 = int(min(switch_steps, key=lambda t: abs(int(t) - T // 2)))
    return images[:, 0], events[:, 0], t0, int(row["label"])


def mix_share_table(histories: pd.DataFrame, cell_params: dict, T: int) -> pd.DataFrame:
    """Per cell with a second stream: the realised shares of pure-image, time-step-mixed and pure-event sequences
    (``tmkt.results.tables.mix_shares``) beside the shares its schedule leads one to expect
    (``tmkt.method.mixup.expected_shares``; joint training: all image). ``cell_params`` maps ``(axis, cell)`` to the
    cell's parameters; ``histories`` carries a ``label`` column."""
    realised = mix_shares(histories)
    labels = histories.drop_duplicates(["axis", "cell"]).set_index(["axis", "cell"])["label"]
    rows = []
    for r in realised.itertuples(index=False):
        params = cell_params[(r.axis, r.cell)]
        strategy = MethodSwitches.of(params).strategy
        expected = expected_shares(strategy, params.mixup, T) if strategy else dict(image=1.0, mixed=0.0, event=0.0)
        rows.append(dict(axis=r.axis, cell=r.cell, label=labels[(r.axis, r.cell)], method=r.method,
                         schedule=params.mixup.schedule if strategy else "—", image=r.image, mixed=r.mixed,
                         event=r.event, expected_image=expected["image"], expected_mixed=expected["mixed"],
                         expected_event=expected["event"], sequences=r.sequences))
    return pd.DataFrame(rows)
