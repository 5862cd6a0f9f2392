"""What the notebooks print (tmkt.plots.captions, tmkt.results.narrative), on small synthetic tables."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tmkt import config, grid
from tmkt.plots import captions
from tmkt.results import narrative


# ------------------------------------------------------------------------------ convert notebook
def test_dataset_and_sensor_lines_state_the_parameters():
    data = config.section("data", time_bins=5, height=12, width=20)
    line = captions.dataset_line(data)
    assert f"`{data.dataset}`" in line and "T = 5 bins" in line and "12×20" in line
    assert f"clip at {data.clip_max}" in line
    sim = config.section("simulator", canvas=28, saccade_ms=40.0)
    assert captions.sensor_line(sim) == ("The simulated sensor is 28×28 pixels; a recording is three saccades of 40 ms, "
                                         "120 ms in all.")


def test_mean_frame_mass_averages_the_first_rows_per_bin():
    events = np.zeros((4, 3, 2, 2, 2), dtype=np.uint8)
    events[0, 0] = 1  # mass 8 in bin 1
    events[1, 2, 1] = 2  # mass 8 in bin 3
    events[3] = 9  # beyond the limit
    mass = captions.mean_frame_mass(events, [0, 1, 2, 3], limit=2)
    assert mass.tolist() == [4.0, 0.0, 4.0]
    assert captions.frame_mass_line(mass, limit=2) == ("Mean frame mass per bin (first 2 recordings): t1: 4.0, "
                                                       "t2: 0.0, t3: 4.0")


def test_leakage_line_reads_the_check():
    line = captions.leakage_line({"held_out_with_source": 17, "pool_images": 300})
    assert line.startswith("17 held-out") and "pool of 300 images" in line


def test_scarcity_levels_keep_at_least_one_and_at_most_all():
    n_train = pd.Series([10, 200], index=["a", "b"])
    kept = captions.scarcity_levels(n_train, (0.01, 0.5, 1.0))
    assert list(kept.columns) == ["1 %", "50 %", "100 %"]
    assert kept.loc["a"].tolist() == [1, 5, 10] and kept.loc["b"].tolist() == [2, 100, 200]
    line = captions.scarcity_line(kept, 999)
    assert "**3** at 1 %" in line and "**105** at 50 %" in line and "**210** at 100 %" in line and "**999**" in line


# ------------------------------------------------------------------------------ train notebook
@pytest.fixture(scope="module")
def reference():
    return grid.cell_params("params.yaml", "reference", "reference")


def test_constants_line_states_every_constant_with_its_key():
    _, params = grid.cell_params("params.yaml", "reference", "reference", "{model.tau: 3.5, model.v_th: 0.25}")
    line = captions.constants_line(params)
    assert "$\\tau$ = 3.5" in line and "$V_\\text{th}$ = 0.25" in line
    assert f"TET's $\\lambda$ = {params.train.tet_mse_weight:g}" in line
    assert f"$k$ = {params.mixup.power_k:g}" in line and f"$\\lambda_\\text{{DA}}$ = {params.loss.lambda_da:g}" in line
    for key in ("`model.tau`", "`model.v_th`", "`train.tet_mse_weight`", "`mixup.power_k`"):
        assert key in line


def test_scale_table_describes_the_run(reference):
    cell, params = reference
    table = captions.scale_table(params, 7, (16, 12), 12345, [42, 7])
    rows = table.iloc[:, 0]
    assert rows["parameters"] == "12,345" and rows["input (T × C × H × W)"] == "7 × 2 × 16 × 12"
    assert rows["seeds"] == "42, 7" and f"lr {params.train.lr:g}" in rows["optimiser"]
    assert params.train.lr_schedule in rows["optimiser"] and rows["classifier heads"] == params.model.heads
    assert cell.method == params.train.method


def test_result_line_gives_points_and_seconds():
    runs = pd.DataFrame(dict(test_acc_last=[0.5, 0.7], train_seconds=[10.0, 20.0]))
    line = captions.result_line("tmkt", {"test_acc": {"mean": 0.8, "std": 0.05}}, runs)
    assert "**tmkt**" in line and "over 2 seeds" in line and "took 15 s" in line
    assert "80.0" in line and "60.0" in line  # points, not fractions


def test_cell_line_names_cell_method_and_seeds(reference):
    cell, params = reference
    line = captions.cell_line(cell, "tmkt", "mnist_sim", [1, 2], "a method")
    assert line == "Cell `reference/reference`, method **`tmkt`** on `mnist_sim`, seeds [1, 2]: a method"


# ------------------------------------------------------------------------------ figures notebook
def test_runs_line_counts_cells_runs_and_seeds():
    runs = pd.DataFrame(dict(cell=["a", "a", "b"], seed=[2, 1, 1]))
    ref = SimpleNamespace(method="tmkt", schedule="power")
    line = narrative.runs_line(runs, "mnist_sim", ref, "3 %")
    assert line.startswith("2 configurations, 3 runs on `mnist_sim` (seeds 1, 2)")
    assert "method `tmkt`, schedule `power`, recordings kept: 3 %." in line


def test_ratio_means_in_points_per_fraction_and_method():
    runs = pd.DataFrame(dict(event_fraction=[0.1, 0.1, 0.1, 1.0], method=["a", "a", "b", "a"],
                             test_acc=[0.5, 0.7, 0.4, 0.9]))
    table = narrative.ratio_means(runs)
    assert table.loc[0.1, "a"] == 60.0 and table.loc[0.1, "b"] == 40.0 and table.loc[1.0, "a"] == 90.0
    assert np.isnan(table.loc[1.0, "b"])


def test_gradient_table_and_line_count_the_lower_ratios():
    grad = pd.DataFrame(dict(r_m=[0.1, 0.1, 0.5, 0.5, 0.9, 0.9], strategy=["timestep", "sample"] * 3,
                             grad_variance=[1.0, 2.0, 3.0, 1.0, 0.5, 1.0]))
    wide = narrative.gradient_table(grad)
    assert wide["TSM / sample-level"].tolist() == [0.5, 3.0, 0.5]
    assert narrative.gradient_line(wide) == ("Time-step mixup has the lower gradient variance at 2 of 3 ratios "
                                             "(0.1, 0.9).")
    higher = grad.assign(grad_variance=[2.0, 1.0] * 3)
    assert narrative.gradient_line(narrative.gradient_table(higher)).endswith("at 0 of 3 ratios (none).")


def test_nir_line_reads_the_round_trip():
    line = narrative.nir_line({"same_prediction": 0.987, "recordings": 120, "max_logit_difference": 3.2e-6},
                              "reports/models/reference.nir")
    assert line.startswith("`reports/models/reference.nir`") and "98.7 % of the 120" in line and "3.2e-06" in line


def test_mixed_sequence_title_shows_the_switch_step_one_based():
    assert narrative.mixed_sequence_title("7", 0.5, 0.12345, 2) == "class 7: $r_m$ = 0.5 (p = 0.123), $t^*$ = 3"


def test_stage_time_line_sums_minutes():
    times = pd.DataFrame(dict(seconds=[60.0, 90.0]))
    assert narrative.stage_time_line(times) == "Training and conversion notebooks: **2.5 min** in all."


def test_findings_list_is_one_item_per_sentence():
    assert narrative.findings_list(["a above b", "c and d not distinguishable"]) == (
        "- a above b.\n- c and d not distinguishable.\n")
    assert narrative.findings_list([]) == ""


def test_figures_status_lines_fill_their_template_and_refuse_an_unknown_step():
    assert narrative.status("convergence", converged=5, cells=6) == "[figures] convergence: 5 of 6 cells converged"
    assert narrative.status("nir", graph="reference.nir", same=99.04) == (
        "[figures] reference network exported to reference.nir; round trip: 99.0 % same predictions")
    with pytest.raises(ValueError, match="unknown figures step 'plots'"):
        narrative.status("plots")
    with pytest.raises(KeyError):
        narrative.status("runs", cells=3)  # a value missing
