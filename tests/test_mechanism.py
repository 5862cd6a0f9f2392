"""Tests of tmkt.results.mechanism (event-ratio draws, gradient variance across mixings) and tmkt.plots.mechanism."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from tmkt.plots import mechanism as mechanism_plots
from tmkt.plots import style
from tmkt import config
from tmkt.results.mechanism import gradient_variance, gradient_variance_table, switch_and_ratio_samples, total_variance
from tmkt.method.mixup import STRATEGIES, ratio_variance
from tmkt.method.models import build_model

plt.switch_backend("Agg")

T, B, SIZE, CLASSES = 4, 8, 8, 3
#: The TET loss of the repository's parameters (MSE weight, target phi = V_th).
TET = dict(lam=config.defaults().train.tet_mse_weight, phi=config.defaults().model.v_th)
N_MC = 100_000


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny model runs fastest single-threaded (and does not compete with other jobs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------- event-ratio draws
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("r_m", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_monte_carlo_moments_of_rho_match_r_m_and_ratio_variance(strategy, r_m):
    steps = 10
    t0, rho = switch_and_ratio_samples(r_m, steps, strategy, N_MC, _generator(round(100 * r_m)))
    rho = rho.double()
    torch.testing.assert_close(rho, (steps - t0).double() / steps, rtol=0, atol=1e-6)  # rho = (T - t0) / T
    mean, var = rho.mean().item(), rho.var().item()
    assert abs(mean - r_m) < 5 * math.sqrt(var / N_MC)
    fourth = (rho - mean).pow(4).mean().item()
    var_se = math.sqrt(max(fourth - var**2, 0.0) / N_MC)  # standard error of the sample variance
    assert abs(var - ratio_variance(r_m, steps, strategy)) < 5 * var_se


def test_time_step_mixup_has_smaller_ratio_variance_and_intermediate_ratios():
    _, rho_tsm = switch_and_ratio_samples(0.5, 10, "timestep", 20_000, _generator(1))
    _, rho_sample = switch_and_ratio_samples(0.5, 10, "sample", 20_000, _generator(1))
    assert ((rho_tsm > 0) & (rho_tsm < 1)).float().mean() > 0.5
    assert rho_tsm.var() < 0.7 * rho_sample.var()


@pytest.mark.parametrize("r_m", [0.0, 0.2, 0.5, 1.0])
def test_sample_level_rho_is_zero_or_one(r_m):
    t0, rho = switch_and_ratio_samples(r_m, 6, "sample", 5000, _generator(3))
    assert set(rho.unique().tolist()) <= {0.0, 1.0}
    assert set(t0.unique().tolist()) <= {0, 6}
    if 0 < r_m < 1:
        assert set(rho.unique().tolist()) == {0.0, 1.0}


def test_switch_and_ratio_samples_rejects_unknown_strategy():
    with pytest.raises(ValueError, match="strategy"):
        switch_and_ratio_samples(0.5, 4, "frame", 10, _generator(0))


def test_total_variance_is_the_trace_of_the_sample_covariance():
    vectors = torch.randn(7, 5, generator=_generator(2), dtype=torch.float64) + 100.0
    assert total_variance(vectors) == pytest.approx(vectors.var(dim=0).sum().item(), rel=1e-10)
    assert total_variance(vectors[:1].expand(4, -1)) == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        total_variance(vectors[:1])


# ------------------------------------------------------------------------------ gradient variance
@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(config.section("model", width=0.0625, blocks=2), CLASSES, T, (SIZE, SIZE))


@pytest.fixture(scope="module")
def batch():
    """Images (dense grey values on both channels, constant over time) and events (sparse counts) differ a lot."""
    g = _generator(100)
    value = torch.rand(B, SIZE, SIZE, generator=g)
    images = value[None, :, None].expand(T, B, 2, SIZE, SIZE).contiguous()
    events = 3.0 * (torch.rand(T, B, 2, SIZE, SIZE, generator=g) < 0.15).float()
    return images, events, torch.arange(B) % CLASSES


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("r_m", [0.0, 1.0])
def test_gradient_variance_is_zero_without_randomness(model, batch, strategy, r_m):
    assert gradient_variance(model, *batch, r_m, strategy, 3, _generator(0), **TET) == 0.0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_gradient_variance_is_positive_and_reproducible(model, batch, strategy):
    first = gradient_variance(model, *batch, 0.5, strategy, 4, _generator(11), **TET)
    assert first > 0
    assert gradient_variance(model, *batch, 0.5, strategy, 4, _generator(11), **TET) == first
    assert gradient_variance(model, *batch, 0.5, strategy, 4, _generator(12), **TET) != first


def test_gradient_variance_rejects_a_single_draw(model, batch):
    with pytest.raises(ValueError, match="draws"):
        gradient_variance(model, *batch, 0.5, "timestep", 1, _generator(0), **TET)


@pytest.mark.parametrize("training", [True, False])
def test_gradient_variance_leaves_modes_grads_and_batch_norm_statistics_alone(model, batch, training):
    model.train(training)
    model.head_event.train(not training)  # a mixed configuration must come back as it was
    modes = {name: m.training for name, m in model.named_modules()}
    params = list(model.parameters())
    for i, p in enumerate(params):
        p.grad = None if i % 2 else torch.full_like(p, float(i))
    grads = [None if p.grad is None else p.grad.clone() for p in params]
    buffers = {name: b.clone() for name, b in model.named_buffers()}  # eval mode: BN running stats stay
    gradient_variance(model, *batch, 0.5, "sample", 2, _generator(0), **TET)
    assert {name: m.training for name, m in model.named_modules()} == modes
    for p, before in zip(params, grads, strict=True):
        assert (p.grad is None) if before is None else torch.equal(p.grad, before)
    assert all(torch.equal(b, buffers[name]) for name, b in model.named_buffers())
    for p in params:
        p.grad = None
    model.train()


def test_sample_level_has_larger_gradient_variance_than_time_step_mixup(model, batch):
    """Measured on 10 model/batch/draw seeds with 64 draws: ratio sample/TSM 1.11-1.64 (mean ~1.4)."""
    tsm = gradient_variance(model, *batch, 0.5, "timestep", 64, _generator(21), **TET)
    sample = gradient_variance(model, *batch, 0.5, "sample", 64, _generator(22), **TET)
    assert sample > tsm


def test_gradient_variance_table(model, batch):
    table = gradient_variance_table(model, *batch, ratios=[0.0, 0.5], draws=3, seed=4, **TET)
    assert list(table.columns) == ["r_m", "strategy", "grad_variance"]
    assert list(zip(table["r_m"], table["strategy"], strict=True)) == [(r, s) for r in (0.0, 0.5) for s in STRATEGIES]
    assert (table["grad_variance"][table["r_m"] == 0.0] == 0.0).all()
    assert (table["grad_variance"][table["r_m"] == 0.5] > 0.0).all()
    again = gradient_variance_table(model, *batch, ratios=[0.0, 0.5], draws=3, seed=4, **TET)
    assert again.equals(table)
    mechanism_plots.gradient_variance_figure(table)  # zeros and positives together: symlog axis
    plt.close("all")


# ---------------------------------------------------------------------------------------- figures
def _check_labels(fig, n_axes):
    axes = fig.get_axes()
    assert len(axes) == n_axes
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel()
    plt.close(fig)


def test_figures_have_labelled_axes():
    _check_labels(mechanism_plots.schedules_figure(config.section("mixup")), 1)
    _check_labels(mechanism_plots.switch_distribution_figure(6, [0.2, 0.5, 0.8], n=2000), 6)
    _check_labels(mechanism_plots.p_versus_ratio_figure(), 1)
    _check_labels(mechanism_plots.ratio_variance_figure(10, [0.1, 0.5, 0.9], n=2000), 1)
    table = pd.DataFrame(
        {"r_m": [0.1, 0.1, 0.5, 0.5], "strategy": ["timestep", "sample"] * 2, "grad_variance": [1e-7, 2e-7, 3e-7, 5e-7]}
    )
    fig = mechanism_plots.gradient_variance_figure(table)
    assert fig.get_axes()[0].get_yscale() == "log"
    assert len(fig.get_axes()[0].get_legend().get_texts()) == 2
    _check_labels(fig, 1)


def test_mixed_sequence_figure_titles_follow_the_switch_step():
    g = _generator(5)
    image = torch.rand(SIZE, SIZE, generator=g)[None, None].expand(T, 2, SIZE, SIZE).numpy()
    events = torch.poisson(torch.full((T, 2, SIZE, SIZE), 0.3), generator=g).numpy()
    fig = mechanism_plots.mixed_sequence_figure(image, events, t0=2, title="one sample")
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["t=1 · image", "t=2 · image", "t=3 · events", "t=4 · events"]
    assert all(ax.get_xlabel() for ax in axes) and axes[0].get_ylabel()
    assert axes[0].get_images()[0].get_cmap().name == "gray"
    assert axes[2].get_images()[0].get_cmap().name == style.EVENT_CMAP
    np.testing.assert_allclose(axes[3].get_images()[0].get_array(), events[3, 1] - events[3, 0])
    limit = style.polarity_limit(events)
    assert axes[3].get_images()[0].get_clim() == (-limit, limit)
    plt.close(fig)


def test_polarity_limit_is_the_largest_on_minus_off_over_all_frames():
    frames = np.zeros((2, 3, 2, 4, 4), dtype=np.float32)  # (n, T, polarity, H, W)
    assert style.polarity_limit(frames) == 1.0  # empty frames: a valid symmetric range
    frames[1, 2, 0, 3, 1] = 5.0  # five OFF events at one pixel of the last bin
    frames[0, 0, 1, 0, 0] = 2.0
    assert style.polarity_limit(frames) == 5.0
    assert style.polarity_limit(frames[0]) == 2.0
