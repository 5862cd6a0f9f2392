"""Figures of the mixing mechanism (docs/method.md §3, §7): schedules of r_m, the switch-step and event-ratio
distributions, p(r_m), Var(rho), the measured gradient variance and one mixed sequence.

Every function returns the matplotlib figure. Time-step mixup (TSM) and sample-level replacement keep
the colours of :data:`STRATEGY_COLORS` throughout. Display convention: the switch step is docs/method.md's
1-based ``t* = t0 + 1`` with ``t* = T + 1`` shown as "none" (no event frame).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from tmkt.results.mechanism import switch_and_ratio_samples
from tmkt.method.mixup import SCHEDULES, STRATEGIES, ratio_schedule, ratio_variance, solve_p, timestep_mixup
from tmkt.config import MixupConfig
from tmkt.plots.style import event_panel, plain_log_axis, polarity_limit

STRATEGY_COLORS: dict[str, str] = {"timestep": "#1b9e77", "sample": "#d95f02"}
STRATEGY_LABELS: dict[str, str] = {"timestep": "time-step mixup (TSM)", "sample": "sample-level (He2024)"}


def schedules_figure(mixup: MixupConfig) -> plt.Figure:
    """``r_m(s)`` over training progress ``s in [0, 1]`` for every schedule of :data:`tmkt.method.mixup.SCHEDULES`,
    with ``mixup``'s ``power_k`` and ``constant_ratio``."""
    s = np.linspace(0.0, 1.0, 201)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for name in SCHEDULES:
        cfg = mixup.model_copy(update={"schedule": name})
        r = [ratio_schedule(cfg, float(x)) for x in s]
        label = {"power": f"power ($s^{{{mixup.power_k:g}}}$)", "constant": f"constant ({mixup.constant_ratio:g})"}.get(name, name)
        ax.plot(s, r, label=label)
    ax.set(xlabel="training progress s (fraction)", ylabel="expected event ratio $r_m$ (fraction)", ylim=(-0.02, 1.02))
    ax.set_title("Mixup-ratio schedules")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _paired_bars(ax, positions: np.ndarray, heights: dict[str, np.ndarray]) -> None:
    """Bars of both strategies side by side at ``positions``."""
    width = 0.4
    for offset, strategy in zip((-width / 2, width / 2), STRATEGIES, strict=True):
        ax.bar(
            positions + offset,
            heights[strategy],
            width,
            color=STRATEGY_COLORS[strategy],
            label=STRATEGY_LABELS[strategy],
        )


def switch_distribution_figure(
    T: int, ratios: list[float] | tuple[float, ...], n: int, seed: int = 0
) -> plt.Figure:
    """Monte-Carlo distribution of the switch step ``t*`` (top row) and of ``rho`` (bottom row) per ``r_m``, from
    ``n`` draws per strategy and ``r_m`` (``figures.monte_carlo_samples``)."""
    fig, axes = plt.subplots(2, len(ratios), figsize=(3.3 * len(ratios), 5.4), squeeze=False)
    steps, rho_values = np.arange(T + 1), np.arange(T + 1) / T
    for col, r_m in enumerate(ratios):
        switch, rho = {}, {}
        for j, strategy in enumerate(STRATEGIES):
            generator = torch.Generator().manual_seed(seed + 1000 * col + j)
            t0, ratio = switch_and_ratio_samples(r_m, T, strategy, n, generator)
            switch[strategy] = np.bincount(t0.numpy(), minlength=T + 1) / n
            rho[strategy] = np.bincount(np.rint(ratio.numpy() * T).astype(int), minlength=T + 1) / n
        top, bottom = axes[0, col], axes[1, col]
        _paired_bars(top, steps, switch)
        ticks = sorted(set(range(0, T + 1, max(1, math.ceil(T / 6)))) | {T})  # thinned; always ends at T
        top.set_xticks(ticks, [str(t + 1) if t < T else "none" for t in ticks])
        top.set(xlabel="switch step $t^*$ (first event frame)", ylabel="probability (fraction)")
        top.set_title(f"$r_m$ = {r_m:g}")
        _paired_bars(bottom, rho_values * T, rho)
        bottom.set_xticks(ticks, [f"{rho_values[t]:.2g}" for t in ticks])
        bottom.set(xlabel=r"event ratio $\rho$ (fraction)", ylabel="probability (fraction)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Switch step and event ratio, T = {T} ({n} draws)")
    fig.tight_layout()
    return fig


def p_versus_ratio_figure(Ts: tuple[int, ...] = (4, 6, 10, 16)) -> plt.Figure:
    """The per-step switch probability ``p`` solving ``r(p) = r_m``, against ``r_m``, for several ``T``."""
    r = np.linspace(0.0, 1.0, 101)
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for T in Ts:
        ax.plot(r, [solve_p(float(x), T, tol=1e-9) for x in r], label=f"T = {T}")
    ax.set(xlabel="expected event ratio $r_m$ (fraction)", ylabel="per-step switch probability p")
    ax.set_title("TSM: p with r(p) = $r_m$")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def ratio_variance_figure(T: int, ratios: list[float] | tuple[float, ...], n: int, seed: int = 0) -> plt.Figure:
    """Analytic ``Var(rho)`` (lines) for TSM and sample-level ``r_m (1 - r_m)``, with Monte-Carlo points of ``n``
    draws each (``figures.monte_carlo_samples``)."""
    grid = np.linspace(0.0, 1.0, 101)
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    for j, strategy in enumerate(STRATEGIES):
        color = STRATEGY_COLORS[strategy]
        ax.plot(
            grid,
            [ratio_variance(float(x), T, strategy) for x in grid],
            color=color,
            label=f"{STRATEGY_LABELS[strategy]}, analytic",
        )
        generator = torch.Generator().manual_seed(seed + j)
        mc = [switch_and_ratio_samples(r_m, T, strategy, n, generator)[1].var().item() for r_m in ratios]
        ax.plot(ratios, mc, "o", color=color, mfc="none", label=f"{STRATEGY_LABELS[strategy]}, Monte Carlo")
    ax.set(xlabel="expected event ratio $r_m$ (fraction)", ylabel=r"Var($\rho$) (fraction$^2$)")
    ax.set_title(f"Variance of the event ratio, T = {T}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def gradient_variance_figure(table: pd.DataFrame) -> plt.Figure:
    """Measured gradient variance (columns ``r_m``, ``strategy``, ``grad_variance``) against ``r_m``."""
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for strategy, rows in table.sort_values("r_m").groupby("strategy", sort=False):
        ax.plot(
            rows["r_m"],
            rows["grad_variance"],
            marker="o",
            color=STRATEGY_COLORS.get(strategy),
            label=STRATEGY_LABELS.get(strategy, strategy),
        )
    positive = table["grad_variance"][table["grad_variance"] > 0]
    if len(positive) == len(table):
        plain_log_axis(ax, "y")
    elif len(positive):  # zeros (r_m = 0 or 1) stay visible on the linear part of a symlog axis
        ax.set_yscale("symlog", linthresh=float(positive.min()))
    ax.set(xlabel="expected event ratio $r_m$ (fraction)", ylabel=r"gradient variance $\mathrm{tr\,Cov}(g)$")
    ax.set_title("Gradient variance across mixings")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def mixed_sequence_figure(image_frames, event_frames, t0: int, title: str | None = None) -> plt.Figure:
    """One sample's mixed sequence (:func:`tmkt.method.mixup.timestep_mixup`): image for ``t < t0``, events from ``t0``.

    ``image_frames``, ``event_frames``: ``(T, 2, H, W)``; ``t0`` 0-based (``T``: all image; panel titles
    are 1-based). Image panels show the value channel in grey (0..1, or 0..255 for raw values), event
    panels ON - OFF (:func:`tmkt.plots.style.event_panel`).
    """
    images = torch.as_tensor(np.asarray(image_frames, dtype=np.float32))
    events = torch.as_tensor(np.asarray(event_frames, dtype=np.float32))
    mixed = timestep_mixup(images[:, None], events[:, None], torch.tensor([int(t0)]))
    frames, is_event = mixed.frames[:, 0].numpy(), mixed.modality[:, 0].numpy() > 0.5
    T = frames.shape[0]
    vmax = polarity_limit(event_frames)
    grey_max = 1.0 if float(images.max()) <= 1.0 else 255.0
    fig, axes = plt.subplots(1, T, figsize=(1.5 * T, 1.9), squeeze=False)
    for t, ax in enumerate(axes[0]):
        if is_event[t]:
            event_panel(ax, frames[t], vmax)
        else:
            ax.imshow(frames[t, 0], cmap="gray", vmin=0.0, vmax=grey_max)
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(f"t={t + 1} · {'events' if is_event[t] else 'image'}", fontsize=8)
        ax.set_xlabel("ON − OFF" if is_event[t] else "value V", fontsize=7)
    axes[0, 0].set_ylabel(f"switch $t^*$ = {int(t0) + 1 if int(t0) < T else 'none'}", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
