"""Tests of tmkt.method.mixup: reference values from docs/method.md, the switch-step distribution, Monte-Carlo moments."""

from __future__ import annotations

import math

import pytest
import torch

from tmkt import config
from tmkt.method.mixup import (
    expected_event_ratio,
    expected_shares,
    mix,
    ratio_schedule,
    ratio_variance,
    sample_replacement,
    sample_switch_step,
    solve_p,
    timestep_mixup,
)

N_MC = 200_000


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _streams(T: int, B: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Appearance frames all 0, event frames all 1: a mixed frame's value is its modality."""
    return torch.zeros(T, B, 2, 3, 3), torch.ones(T, B, 2, 3, 3)


# ------------------------------------------------------------------------------ r(p) and its inverse
@pytest.mark.parametrize("p, expected", [(0.05, 0.237600), (0.13, 0.497022), (0.5, 0.900098)])
def test_expected_event_ratio_matches_method_reference(p: float, expected: float) -> None:
    assert expected_event_ratio(p, 10) == pytest.approx(expected, abs=1e-6)


def test_expected_event_ratio_ends_and_monotone() -> None:
    assert expected_event_ratio(0.0, 10) == 0.0
    assert expected_event_ratio(1.0, 10) == 1.0
    values = [expected_event_ratio(p / 100, 7) for p in range(101)]
    assert all(a < b for a, b in zip(values, values[1:]))


def test_expected_event_ratio_with_one_step_is_p() -> None:
    # T = 1: the single frame is an event frame with probability p.
    assert expected_event_ratio(0.3, 1) == pytest.approx(0.3, abs=1e-15)


@pytest.mark.parametrize("r_m, T, expected", [(0.5, 10, 0.1312), (0.5, 6, 0.1954), (0.5, 12, 0.1126)])
def test_solve_p_matches_method_reference(r_m: float, T: int, expected: float) -> None:
    assert solve_p(r_m, T) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize("r_m", [1e-6, 0.1, 0.37, 0.9, 1 - 1e-6])
def test_solve_p_inverts_r(r_m: float) -> None:
    p = solve_p(r_m, 10)
    assert 0 < p < 1
    assert expected_event_ratio(p, 10) == pytest.approx(r_m, rel=1e-9, abs=1e-12)


def test_solve_p_edges_and_errors() -> None:
    assert solve_p(0.0, 10) == 0.0
    assert solve_p(1.0, 10) == 1.0
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match="r_m"):
            solve_p(bad, 10)
    with pytest.raises(ValueError, match="T"):
        solve_p(0.5, 0)


# ------------------------------------------------------------------------------------- schedules
def schedule(name: str, **knobs):
    return config.section("mixup", schedule=name, **knobs)


def test_ratio_schedules() -> None:
    assert ratio_schedule(schedule("power", power_k=3.0), 0.5) == pytest.approx(0.125)
    assert ratio_schedule(schedule("power", power_k=2.0), 0.5) == pytest.approx(0.25)
    assert ratio_schedule(schedule("linear"), 0.3) == pytest.approx(0.3)
    assert ratio_schedule(schedule("cosine"), 0.25) == pytest.approx((1 - math.sqrt(0.5)) / 2)
    assert ratio_schedule(schedule("cosine"), 1.0) == pytest.approx(1.0)
    assert ratio_schedule(schedule("constant", constant_ratio=0.2), 0.9) == 0.2
    for name in ("power", "linear", "cosine"):
        assert ratio_schedule(schedule(name), 0.0) == pytest.approx(0.0)
        assert ratio_schedule(schedule(name), 1.0) == pytest.approx(1.0)


def test_ratio_schedule_errors() -> None:
    with pytest.raises(ValueError, match="s"):
        ratio_schedule(schedule("linear"), 1.5)
    with pytest.raises(ValueError, match="unknown mixup schedule 'step'"):
        ratio_schedule(schedule("linear").model_copy(update={"schedule": "step"}), 0.5)
    with pytest.raises(config.ParamsError, match="mixup.schedule"):
        schedule("step")


# ------------------------------------------------------------------------------ switch-step law
def test_switch_step_distribution_is_truncated_geometric() -> None:
    p, T = 0.2, 5
    t0 = sample_switch_step(p, T, N_MC, _generator(1))
    assert t0.dtype == torch.int64 and t0.shape == (N_MC,)
    counts = torch.bincount(t0, minlength=T + 1).double() / N_MC
    q = 1 - p
    expected = [p * q**t for t in range(T)] + [q**T]
    for t, prob in enumerate(expected):
        standard_error = math.sqrt(prob * (1 - prob) / N_MC)
        assert abs(counts[t].item() - prob) < 5 * standard_error, (t, counts[t].item(), prob)


def test_switch_step_edges() -> None:
    assert torch.equal(sample_switch_step(0.0, 6, 100, _generator()), torch.full((100,), 6))
    assert torch.equal(sample_switch_step(1.0, 6, 100, _generator()), torch.zeros(100, dtype=torch.int64))


# ---------------------------------------------------------------------------------- mixing itself
def test_timestep_mixup_by_hand() -> None:
    T, B = 4, 3
    images = torch.arange(T * B, dtype=torch.float32).view(T, B, 1)
    events = -images - 1
    out = timestep_mixup(images, events, torch.tensor([0, 2, 4]))
    expected_modality = torch.tensor([[1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0]], dtype=torch.float32)
    assert torch.equal(out.modality, expected_modality)
    assert torch.equal(out.frames, torch.where(expected_modality.bool()[..., None], events, images))
    assert torch.allclose(out.ratio, torch.tensor([1.0, 0.5, 0.0]))
    assert torch.equal(out.switch_step, torch.tensor([0, 2, 4]))


def test_timestep_mixup_errors() -> None:
    images, events = _streams(4, 2)
    with pytest.raises(ValueError, match="same shape"):
        timestep_mixup(images, events[:3], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="0..T"):
        timestep_mixup(images, events, torch.tensor([0, 5]))
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        timestep_mixup(images, events, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="unknown mixup strategy"):
        mix("frame", images, events, 0.5, _generator())


@pytest.mark.parametrize("strategy", ["timestep", "sample"])
def test_truncation_and_frame_consistency(strategy: str) -> None:
    T, B = 6, 500
    images, events = _streams(T, B)
    out = mix(strategy, images, events, 0.5, _generator(2))
    m = out.modality
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    assert bool((m[1:] >= m[:-1]).all()), "once events start they must stay"
    assert torch.equal(out.frames, m.view(T, B, 1, 1, 1).expand_as(images))
    assert torch.equal(m, (torch.arange(T)[:, None] >= out.switch_step[None, :]).float())
    assert torch.allclose(out.ratio, m.mean(0))
    if strategy == "sample":
        assert set(out.switch_step.tolist()) <= {0, T}


@pytest.mark.parametrize("strategy", ["timestep", "sample"])
def test_edge_ratios_give_pure_streams(strategy: str) -> None:
    images, events = _streams(5, 64)
    all_image = mix(strategy, images, events, 0.0, _generator())
    all_event = mix(strategy, images, events, 1.0, _generator())
    assert torch.equal(all_image.frames, images) and torch.equal(all_image.ratio, torch.zeros(64))
    assert torch.equal(all_event.frames, events) and torch.equal(all_event.ratio, torch.ones(64))


@pytest.mark.parametrize("strategy", ["timestep", "sample"])
def test_generator_seeding_is_deterministic(strategy: str) -> None:
    images, events = _streams(8, 256)
    first = mix(strategy, images, events, 0.4, _generator(7))
    again = mix(strategy, images, events, 0.4, _generator(7))
    other = mix(strategy, images, events, 0.4, _generator(8))
    assert torch.equal(first.switch_step, again.switch_step)
    assert torch.equal(first.frames, again.frames)
    assert not torch.equal(first.switch_step, other.switch_step)


# ------------------------------------------------------------------------- variance of the ratio
@pytest.mark.parametrize(
    "r_m, expected", [(0.1, 0.061), (0.3, 0.132), (0.5, 0.138), (0.7, 0.090), (0.9, 0.020)]
)
def test_ratio_variance_matches_method_reference(r_m: float, expected: float) -> None:
    assert ratio_variance(r_m, 10, "timestep") == pytest.approx(expected, abs=5e-4)
    assert ratio_variance(r_m, 10, "sample") == pytest.approx(r_m * (1 - r_m), abs=1e-15)


@pytest.mark.parametrize("T", [1, 3, 10])
def test_ratio_variance_against_enumerated_distribution(T: int) -> None:
    for r_m in (0.05, 0.5, 0.95):
        p = solve_p(r_m, T)
        probs = [p * (1 - p) ** t for t in range(T)] + [(1 - p) ** T]
        rhos = [(T - t) / T for t in range(T + 1)]
        mean = sum(w * r for w, r in zip(probs, rhos))
        var = sum(w * (r - mean) ** 2 for w, r in zip(probs, rhos))
        assert mean == pytest.approx(r_m, abs=1e-10)
        assert ratio_variance(r_m, T, "timestep") == pytest.approx(var, rel=1e-9, abs=1e-15)


def test_timestep_variance_below_sample_variance() -> None:
    for r_m in (0.1, 0.5, 0.9):
        assert ratio_variance(r_m, 10, "timestep") < ratio_variance(r_m, 10, "sample")
    # With one time step rho is Bernoulli(r_m) for both strategies.
    assert ratio_variance(0.3, 1, "timestep") == pytest.approx(0.21, abs=1e-9)
    assert ratio_variance(0.0, 10, "timestep") == 0.0
    assert ratio_variance(1.0, 10, "timestep") == 0.0
    with pytest.raises(ValueError, match="unknown mixup strategy"):
        ratio_variance(0.5, 10, "frame")


@pytest.mark.parametrize("strategy", ["timestep", "sample"])
@pytest.mark.parametrize("r_m, T", [(0.1, 10), (0.5, 10), (0.8, 4), (0.3, 6)])
def test_monte_carlo_mean_and_variance(strategy: str, r_m: float, T: int) -> None:
    images = torch.zeros(T, N_MC, 1)
    events = torch.ones(T, N_MC, 1)
    rho = mix(strategy, images, events, r_m, _generator(3)).ratio.double()
    mean, var = rho.mean().item(), rho.var().item()
    fourth = (rho - mean).pow(4).mean().item()
    mean_error = math.sqrt(var / N_MC)
    var_error = math.sqrt(max(fourth - var**2, 0.0) / N_MC)
    assert abs(mean - r_m) < 5 * mean_error
    assert abs(var - ratio_variance(r_m, T, strategy)) < 5 * var_error


def test_sample_replacement_switches_whole_samples() -> None:
    T, B = 5, 1000
    images, events = _streams(T, B)
    out = sample_replacement(images, events, 0.3, _generator(4))
    assert torch.equal(out.modality, out.modality[:1].expand(T, B))


def test_expected_shares_match_the_draws_over_a_run():
    T, points = 4, 201
    for schedule in ("power", "linear", "constant"):
        cfg = config.section("mixup", schedule=schedule)
        shares = expected_shares("timestep", cfg, T, points)
        gen = torch.Generator().manual_seed(0)
        t0 = torch.cat([mix("timestep", torch.zeros(T, 400), torch.ones(T, 400), ratio_schedule(cfg, i / (points - 1)),
                            gen).switch_step for i in range(points)])
        drawn = dict(image=(t0 == T).float().mean().item(), event=(t0 == 0).float().mean().item())
        assert shares["image"] == pytest.approx(drawn["image"], abs=0.01), schedule
        assert shares["event"] == pytest.approx(drawn["event"], abs=0.01), schedule
        assert sum(shares.values()) == pytest.approx(1.0)
    # the figures that choose T (params.yaml): at T = 4 power k = 3 mixes 18 %, at T = 8 linear 43 %, constant 59 %
    assert expected_shares("timestep", config.section("mixup", schedule="power", power_k=3.0), 4)["mixed"] == pytest.approx(0.183, abs=0.002)
    assert expected_shares("timestep", config.section("mixup", schedule="linear"), 8)["mixed"] == pytest.approx(0.434, abs=0.002)
    assert expected_shares("timestep", config.section("mixup", schedule="constant"), 8)["mixed"] == pytest.approx(0.588, abs=0.002)
    assert expected_shares("sample", config.section("mixup", schedule="constant"), 8) == pytest.approx(
        dict(image=0.5, mixed=0.0, event=0.5))
