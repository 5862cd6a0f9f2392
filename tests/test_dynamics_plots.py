"""Tests of tmkt.plots.dynamics on synthetic histories (2 cells x 3 seeds x 6 epochs, T = 4)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.ticker import NullFormatter

from tmkt import layout
from tmkt.plots import dynamics

plt.switch_backend("Agg")

T, EPOCHS, SEEDS = 4, 6, (0, 1, 2)
LOSS_COLUMNS = ("loss", "tet_mixed", "tet_event", "da_loss", "mag_loss", "mag_base_loss", "mrp_loss",
                "mrp_base_loss", "mag_acc", "mag_base_acc")


def history(cell: str, seeds, rng: np.random.Generator, aux: bool = True, weights: bool = True,
            mix: bool = True) -> pd.DataFrame:
    """Synthetic histories of one cell: random accuracies and losses, switch counts and step weights."""
    rows = []
    for seed in seeds:
        for epoch in range(1, EPOCHS + 1):
            row = dict(cell=cell, axis="test", method="tmkt", seed=seed, epoch=epoch, val_acc=rng.uniform(0.3, 0.9),
                       r_m=epoch / (EPOCHS + 1) if mix else np.nan)
            row |= {c: rng.uniform(0.1, 1.0) for c in LOSS_COLUMNS}
            row["da_loss"] = rng.uniform(1e-4, 1e-3)  # far below the TET terms: a log-scale panel
            if not aux:
                row |= {c: np.nan for c in LOSS_COLUMNS if c.startswith(("mag", "mrp"))}
            row |= layout.per_step(layout.DA_WEIGHT, rng.uniform(0, 1, T) if weights else [np.nan] * T)
            row |= layout.per_step(layout.SWITCH, rng.integers(0, 50, T + 1) if mix else [np.nan] * (T + 1))
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def lines(fig: plt.Figure) -> dict[str, object]:
    """Every labelled line of a figure, by label."""
    return {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}


# ------------------------------------------------------------------------------ paired difference
def test_paired_difference_matches_hand_computed_mean_over_shared_seeds(rng):
    a = history("a", (0, 1, 2), rng)
    b = history("b", (1, 2, 3), rng)  # seed 0 only in a, seed 3 only in b
    fig = dynamics.paired_epoch_difference_figure(a, b, "A", "B")
    mean = next(line for label, line in lines(fig).items() if label.startswith("mean difference"))
    def acc(table, seed, epoch):
        return table.loc[(table.seed == seed) & (table.epoch == epoch), "val_acc"].item()

    expected = [np.mean([100 * (acc(a, s, e) - acc(b, s, e)) for s in (1, 2)]) for e in range(1, EPOCHS + 1)]
    np.testing.assert_array_equal(mean.get_xdata(), np.arange(1, EPOCHS + 1))
    np.testing.assert_allclose(mean.get_ydata(), expected)
    assert "2 seeds" in mean.get_label()
    seed_curves = [label for label in lines(fig) if label.startswith("_seed")]
    assert sorted(seed_curves) == ["_seed 1", "_seed 2"]


def test_paired_difference_band_is_one_standard_error(rng):
    a, b = history("a", SEEDS, rng), history("b", SEEDS, rng)
    fig = dynamics.paired_epoch_difference_figure(a, b, "A", "B")
    top = fig.axes[0]
    band = next(c for c in top.collections if c.get_label() == "± 1 SE over seeds")
    diff = 100 * (a.pivot(index="epoch", columns="seed", values="val_acc")
                  - b.pivot(index="epoch", columns="seed", values="val_acc"))
    se = diff.std(axis=1, ddof=1).to_numpy() / np.sqrt(len(SEEDS))
    upper = band.get_paths()[0].vertices[:, 1].max()
    assert upper == pytest.approx((diff.mean(axis=1).to_numpy() + se).max())


def test_paired_difference_mixed_share_is_one_minus_first_and_last(rng):
    a = history("a", (0, 1, 2), rng)
    b = history("b", (1, 2, 3), rng)
    fig = dynamics.paired_epoch_difference_figure(a, b, "A", "B")
    found = lines(fig)
    for table, label in ((a, "A"), (b, "B")):
        shared = table[table.seed.isin([1, 2])]
        counts = shared.groupby("epoch")[layout.columns(shared, layout.SWITCH)].sum().to_numpy(float)
        expected = 1 - counts[:, 0] / counts.sum(1) - counts[:, -1] / counts.sum(1)
        np.testing.assert_allclose(found[f"mixed share ({label})"].get_ydata(), expected)
    np.testing.assert_allclose(found["$r_m$ (A)"].get_ydata(), np.arange(1, EPOCHS + 1) / (EPOCHS + 1))


def test_paired_difference_without_mixing_has_no_share_lines(rng):
    a, b = history("a", SEEDS, rng, mix=False), history("b", SEEDS, rng, mix=False)
    fig = dynamics.paired_epoch_difference_figure(a, b, "A", "B")
    assert not [label for label in lines(fig) if "share" in label or "r_m" in label]


# ------------------------------------------------------------------------------ step weights
def test_step_weights_none_without_weights(rng):
    both = pd.concat([history("a", SEEDS, rng, weights=False), history("b", SEEDS, rng, weights=False)])
    assert dynamics.step_weights_figure(both) is None
    assert dynamics.step_weights_figure(both.drop(columns=layout.columns(both, layout.DA_WEIGHT))) is None


def test_step_weights_one_line_per_step_per_panel(rng):
    a, b = history("a", SEEDS, rng), history("b", SEEDS, rng)
    fig = dynamics.step_weights_figure(pd.concat([a, b]))
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["a", "b"]
    for ax, table in zip(panels, (a, b)):
        assert [line.get_label() for line in ax.get_lines()] == [f"t = {t}" for t in range(1, T + 1)]
        np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), table.groupby("epoch")["da_w_t3"].mean())


def test_step_weights_skip_cells_without_weights(rng):
    both = pd.concat([history("a", SEEDS, rng), history("b", SEEDS, rng, weights=False)])
    fig = dynamics.step_weights_figure(both)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["a"]


# ------------------------------------------------------------------------------ loss terms
def test_loss_terms_one_panel_per_cell_and_no_all_nan_terms(rng):
    a, b = history("a", SEEDS, rng), history("b", SEEDS, rng, aux=False)
    b["da_loss"] = np.nan
    single = history("single", SEEDS, rng, aux=False)  # a single-stream cell: no term of its own, no panel
    single[list(dynamics.LOSS_TERMS)] = np.nan
    fig = dynamics.loss_terms_figure(pd.concat([a, b, single]))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["a", "b"]
    legend = {ax.get_title(): [t.get_text() for t in ax.get_legend().get_texts()] for ax in panels}
    assert legend["a"] == list(dynamics.LOSS_TERMS.values())
    assert legend["b"] == [dynamics.LOSS_TERMS[t] for t in ("tet_mixed", "tet_event")]
    np.testing.assert_allclose(panels[0].get_lines()[0].get_ydata(), a.groupby("epoch")["tet_mixed"].mean())


def test_loss_terms_log_scale_only_for_wide_ranges(rng):
    a, b = history("a", SEEDS, rng), history("b", SEEDS, rng)
    b["da_loss"] = 0.5  # every term of b within a factor 100
    fig = dynamics.loss_terms_figure(pd.concat([a, b]))
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert panels["a"].get_yscale() == "log"
    assert panels["b"].get_yscale() == "linear"
    fig.canvas.draw()
    assert isinstance(panels["a"].yaxis.get_minor_formatter(), NullFormatter)
    assert not any(t.get_text() for t in panels["a"].get_yticklabels(minor=True))
    major = [t.get_text() for t in panels["a"].get_yticklabels() if t.get_text()]
    assert major and all(float(text) > 0 for text in major)  # plain numbers, not 10^k mathtext


# ------------------------------------------------------------------------------ auxiliary baselines
def test_auxiliary_baselines_none_without_heads(rng):
    both = pd.concat([history("a", SEEDS, rng, aux=False), history("b", SEEDS, rng, aux=False)])
    assert dynamics.auxiliary_baselines_figure(both) is None


def test_auxiliary_baselines_mag_panel_holds_loss_and_baseline(rng):
    a, b = history("a", SEEDS, rng), history("b", SEEDS, rng, aux=False)
    fig = dynamics.auxiliary_baselines_figure(pd.concat([a, b]))
    mag = next(ax for ax in fig.axes if ax.get_title().startswith("MAG loss"))
    found = {line.get_label(): line for line in mag.get_lines()}
    assert set(found) == {"a", "a (constant predictor)"}
    np.testing.assert_allclose(found["a"].get_ydata(), a.groupby("epoch")["mag_loss"].mean())
    np.testing.assert_allclose(found["a (constant predictor)"].get_ydata(), a.groupby("epoch")["mag_base_loss"].mean())
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert any(t.startswith("MRP loss") for t in titles) and any(t.startswith("MAG accuracy") for t in titles)
    assert all("nothing learnt" in t for t in titles)


def test_spread_moves_labels_apart_in_order_and_no_more_than_needed():
    from tmkt.plots.style import spread

    assert spread([1.0, 5.0, 9.0], 1.0) == [1.0, 5.0, 9.0]  # far enough apart: unchanged
    moved = spread([2.0, 2.1, 2.05, 8.0], 0.5)
    gaps = sorted(moved)
    assert all(b - a >= 0.5 - 1e-12 for a, b in zip(gaps, gaps[1:]))
    assert moved[0] < moved[2] < moved[1]  # the order of the values is kept
    assert abs(sum(moved[:3]) / 3 - 2.05) < 0.2 and moved[3] == 8.0  # the crowded run stays where it was


def test_plain_log_axis_labels_without_powers_of_ten():
    import matplotlib.pyplot as plt

    from tmkt.plots.style import plain_log_axis

    fig, ax = plt.subplots()
    ax.plot([1.1, 2.4], [1, 2])
    ax.set_xscale("log")
    plain_log_axis(ax, "x")
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels(minor=True) + ax.get_xticklabels() if t.get_text()]
    assert labels and not [t for t in labels if "10^" in t or "times" in t]
    plt.close(fig)


def test_dynamics_figures_draws_one_difference_per_timestep_comparison(rng):
    from types import SimpleNamespace

    histories = pd.concat([history("a", SEEDS, rng), history("b", SEEDS, rng)]).assign(
        label=lambda h: h["cell"])
    cell = lambda name: SimpleNamespace(name=name, label=name)  # noqa: E731
    comparisons = [SimpleNamespace(a=cell("a"), b=cell("b"), question="timestep-vs-sample"),
                   SimpleNamespace(a=cell("b"), b=cell("a"), question="method")]
    figures = dynamics.dynamics_figures(histories, comparisons)
    assert set(figures) == {"epoch_difference_a", "step_weights", "loss_terms", "auxiliary_baselines"}
    without = pd.concat([history("a", SEEDS, rng, aux=False, weights=False)]).assign(label="a")
    assert set(dynamics.dynamics_figures(without, [])) == {"loss_terms"}
