"""Time-step Mixup (TSM) and He et al.'s sample-level replacement, on time-first tensors ``(T, B, ...)``.

Time-step mixup (docs/method.md §3)
------------------------------
Draw ``u_t ~ U(0, 1)`` i.i.d. for ``t = 0 .. T-1`` (0-based here) and let the switch step be the first
``t`` with ``u_t < p`` (``t0 = T`` when there is none). The mixed sequence keeps the appearance frames
before ``t0`` and takes the event frames from ``t0`` on ("truncation replacement": once events start
they stay)::

    x_m^t = x_a^t  (t < t0),    x_m^t = x_e^t  (t >= t0),    m_t = 1[t >= t0],    rho = mean_t m_t

``t0`` is truncated-geometric: ``P(t0 = t) = p q^t`` for ``t < T`` and ``P(t0 = T) = q^T`` with
``q = 1 - p``, so ``P(t0 >= t) = q^t``. ``t0`` is docs/method.md's ``t* - 1``.

Expected event ratio. The number of event frames is ``N_e = T - t0`` and ``P(N_e >= k) = 1 - q^(T-k+1)``::

    r(p) = E[N_e] / T = (1/T) sum_{k=1..T} (1 - q^k) = (T - q (1 - q^T) / p) / T,   r(0) = 0, r(1) = 1

Every term rises strictly with ``p``, so ``r`` is strictly increasing and ``r(p) = r_m`` is solved by
bisection. (The sum is evaluated with ``expm1``/``log1p``, which stays accurate for tiny ``p`` where the
closed form cancels.)

Variance of the event ratio. With ``rho = (T - t0) / T``, ``Var(rho) = Var(t0) / T^2`` and::

    E[t0]   = sum_{t=1..T} P(t0 >= t)          = sum_{t=1..T} q^t           = q (1 - q^T) / p
    E[t0^2] = sum_{t=1..T} (2t - 1) P(t0 >= t) = sum_{t=1..T} (2t - 1) q^t
            = 2 q (1 - (T+1) q^T + T q^(T+1)) / p^2 - q (1 - q^T) / p
    Var(rho) = (E[t0^2] - E[t0]^2) / T^2

(the sums are what is evaluated: exact and free of the ``1/p^2`` cancellation). For sample-level
replacement ``rho`` is Bernoulli(r_m), so ``Var(rho) = r_m (1 - r_m)``, the largest variance any
``rho`` in ``[0, 1]`` with mean ``r_m`` can have (docs/method.md §7).

Sample-level replacement (He et al. 2024)
-----------------------------------------
Each sample is the event sequence with probability ``r_m`` and the appearance sequence otherwise:
``t0 in {0, T}``.

Schedules of ``r_m`` over training progress ``s in [0, 1]`` [recon]: ``power`` ``s^k`` (He2024's sliding
schedule, ``k = 3``), ``linear`` ``s``, ``cosine`` ``(1 - cos(pi s)) / 2``, ``constant`` ``c``.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple, get_args

import torch

from tmkt.config import MixupConfig, Schedule

#: How a mixed sequence is built: time-step mixup (TMKT) or sample-level replacement (He et al. 2024).
Strategy = Literal["timestep", "sample"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
SCHEDULES: tuple[Schedule, ...] = get_args(Schedule)


class MixedBatch(NamedTuple):
    """A mixed batch: ``frames (T, B, ...)``, ``modality (T, B)`` 0 = appearance / 1 = event,
    ``ratio (B,)`` = mean_t modality, ``switch_step (B,)`` = first event frame ``t0`` (``T``: none)."""

    frames: torch.Tensor
    modality: torch.Tensor
    ratio: torch.Tensor
    switch_step: torch.Tensor


def _check_time_steps(T: int) -> None:
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T (number of time steps) must be an int >= 1, got {T!r}")


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")


def expected_event_ratio(p: float, T: int) -> float:
    """r(p): expected fraction of event frames when each step switches with probability ``p``."""
    _check_unit("p (per-step switch probability)", p)
    _check_time_steps(T)
    if p == 1.0:
        return 1.0
    log_q = math.log1p(-p)
    return sum(-math.expm1(k * log_q) for k in range(1, T + 1)) / T


def solve_p(r_m: float, T: int, tol: float = 1e-12) -> float:
    """The per-step switch probability ``p`` with ``r(p) = r_m``, by bisection to ``|error in p| <= tol``."""
    _check_unit("r_m (expected event ratio)", r_m)
    _check_time_steps(T)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    if r_m in (0.0, 1.0):
        return float(r_m)
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if expected_event_ratio(mid, T) < r_m:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def ratio_schedule(cfg: MixupConfig, s: float) -> float:
    """r_m at training progress ``s in [0, 1]`` for ``mixup.schedule``: ``power`` s^k (k = ``mixup.power_k``),
    ``linear`` s, ``cosine`` (1 - cos(pi s)) / 2, ``constant`` c (``mixup.constant_ratio``)."""
    name, power_k, constant_ratio = cfg.schedule, cfg.power_k, cfg.constant_ratio
    _check_unit("s (training progress)", s)
    if name == "power":
        if not power_k > 0:
            raise ValueError(f"power_k must be > 0, got {power_k!r}")
        return s**power_k
    if name == "linear":
        return s
    if name == "cosine":
        return 0.5 * (1.0 - math.cos(math.pi * s))
    if name == "constant":
        _check_unit("constant_ratio", constant_ratio)
        return constant_ratio
    raise ValueError(f"unknown mixup schedule {name!r}; expected one of {', '.join(SCHEDULES)}")


def sample_switch_step(p: float, T: int, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Switch steps ``t0 (B,)`` (int64, on the generator's device): first ``t`` with ``u_t < p``, else ``T``."""
    _check_unit("p (per-step switch probability)", p)
    _check_time_steps(T)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    device = generator.device if generator is not None else None
    switched = torch.rand((T, batch_size), generator=generator, device=device) < p
    first = switched.to(torch.uint8).argmax(dim=0)  # index of the first maximum, i.e. the first switch
    return torch.where(switched.any(dim=0), first, torch.full_like(first, T))


def timestep_mixup(images: torch.Tensor, events: torch.Tensor, t0: torch.Tensor) -> MixedBatch:
    """Appearance frames before ``t0``, event frames from ``t0`` on, per sample (``t0 (B,)`` in 0..T)."""
    if images.shape != events.shape:
        raise ValueError(f"images {tuple(images.shape)} and events {tuple(events.shape)} must have the same shape")
    if images.dim() < 2:
        raise ValueError(f"images and events must be time-first (T, B, ...), got shape {tuple(images.shape)}")
    T, B = images.shape[:2]
    if t0.shape != (B,):
        raise ValueError(f"t0 must have shape (B,) = ({B},), got {tuple(t0.shape)}")
    if t0.dtype.is_floating_point or t0.dtype == torch.bool:
        raise ValueError(f"t0 must be an integer tensor, got {t0.dtype}")
    if bool(((t0 < 0) | (t0 > T)).any()):
        raise ValueError(f"t0 must lie in 0..T = 0..{T}, got values {t0.min().item()}..{t0.max().item()}")
    t0 = t0.to(images.device)
    is_event = torch.arange(T, device=images.device)[:, None] >= t0[None, :]  # (T, B)
    frames = torch.where(is_event.view(T, B, *([1] * (images.dim() - 2))), events, images)
    dtype = images.dtype if images.dtype.is_floating_point else torch.float32
    modality = is_event.to(dtype)
    return MixedBatch(frames=frames, modality=modality, ratio=modality.mean(dim=0), switch_step=t0)


def unmixed(images: torch.Tensor) -> MixedBatch:
    """The appearance sequence as it is (joint training's second stream): ``t0 = T`` for every sample."""
    if images.dim() < 2:
        raise ValueError(f"images must be time-first (T, B, ...), got shape {tuple(images.shape)}")
    T, B = images.shape[:2]
    return timestep_mixup(images, images, torch.full((B,), T, dtype=torch.int64))


def sample_replacement(
    images: torch.Tensor, events: torch.Tensor, r_m: float, generator: torch.Generator | None = None
) -> MixedBatch:
    """He et al. 2024: each sample is all-event with probability ``r_m``, else all-appearance."""
    _check_unit("r_m (expected event ratio)", r_m)
    if images.dim() < 2:
        raise ValueError(f"images and events must be time-first (T, B, ...), got shape {tuple(images.shape)}")
    T, B = images.shape[:2]
    device = generator.device if generator is not None else None
    all_event = torch.rand(B, generator=generator, device=device) < r_m
    t0 = torch.where(all_event, 0, T)
    return timestep_mixup(images, events, t0)


def mix(
    strategy: Strategy,
    images: torch.Tensor,
    events: torch.Tensor,
    r_m: float,
    generator: torch.Generator | None = None,
) -> MixedBatch:
    """Mix a batch at expected event ratio ``r_m`` with ``'timestep'`` (TSM) or ``'sample'`` (He2024)."""
    if strategy == "timestep":
        if images.dim() < 2:
            raise ValueError(f"images and events must be time-first (T, B, ...), got shape {tuple(images.shape)}")
        T, B = images.shape[:2]
        t0 = sample_switch_step(solve_p(r_m, T), T, B, generator)
        return timestep_mixup(images, events, t0)
    if strategy == "sample":
        return sample_replacement(images, events, r_m, generator)
    raise ValueError(f"unknown mixup strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")


def ratio_variance(r_m: float, T: int, strategy: Strategy) -> float:
    """Analytic Var(rho) of the event ratio at expected ratio ``r_m`` (formulas in the module docstring)."""
    _check_unit("r_m (expected event ratio)", r_m)
    _check_time_steps(T)
    if strategy == "sample":
        return r_m * (1.0 - r_m)
    if strategy != "timestep":
        raise ValueError(f"unknown mixup strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    q = 1.0 - solve_p(r_m, T)
    mean_t0 = sum(q**t for t in range(1, T + 1))
    mean_t0_sq = sum((2 * t - 1) * q**t for t in range(1, T + 1))
    return max(mean_t0_sq - mean_t0**2, 0.0) / T**2


def expected_shares(strategy: Strategy, cfg: MixupConfig, T: int, points: int = 1001) -> dict[str, float]:
    """The expected shares of pure-image (``t0 = T``), time-step-mixed (``0 < t0 < T``) and pure-event (``t0 = 0``)
    sequences over a whole run whose ``r_m`` follows ``cfg``'s schedule, training progress ``s`` uniform on
    ``points`` steps of [0, 1].

    Time-step mixup at ``p = p(r_m)``: ``P(t0 = T) = q^T``, ``P(t0 = 0) = p``, the rest switch inside the sequence;
    sample-level replacement: ``1 - r_m`` image, ``r_m`` event, nothing mixed.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown mixup strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    image = event = 0.0
    for i in range(points):
        r_m = ratio_schedule(cfg, i / (points - 1))
        if strategy == "sample":
            image, event = image + 1.0 - r_m, event + r_m
        else:
            p = solve_p(r_m, T)
            image, event = image + (1.0 - p) ** T, event + p
    image, event = image / points, event / points
    return dict(image=image, mixed=max(0.0, 1.0 - image - event), event=event)
