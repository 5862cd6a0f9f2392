"""studies/factors.py: its tables and its guard against comparing levels trained differently."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest
import yaml

from tmkt import config, grid, layout

spec = importlib.util.spec_from_file_location("factors", layout.ROOT / "studies/factors.py")
factors = importlib.util.module_from_spec(spec)
spec.loader.exec_module(factors)


def runs_table(**shared) -> pd.DataFrame:
    rows = []
    for value, offset in ((3.0, 0.0), (10.0, 0.05)):
        for method, base in (("event_only", 0.80), ("tmkt", 0.70)):
            for seed, noise in ((1, -0.01), (2, 0.01)):
                rows.append(dict(factor="noise", value=value, method=method, seed=seed, val_acc=0.5,
                                 test_acc=base + offset * (method == "tmkt") + noise, test_acc_last=0.5,
                                 train_seconds=1.0, n_event_train=30, n_image_pool=350, epochs=8,
                                 steps_per_epoch=20))
    table = pd.DataFrame(rows)
    for column, value in shared.items():
        table.loc[table.index[-1], column] = value
    return table


def test_summary_marks_the_default_and_gives_the_gap():
    table = factors.summary_table(runs_table(), ["event_only", "tmkt"], {"noise": 3.0, "T": 4.0}, 0.95)
    assert table["value"].tolist() == ["3 (default)", "10"]
    assert table["tmkt"].tolist() == ["70.0 ± 1.4", "75.0 ± 1.4"]
    assert table["tmkt − event_only (points, 95 % CI)"].tolist() == ["-10.0 [-10.0, -10.0]", "-5.0 [-5.0, -5.0]"]
    assert table["tmkt vs event_only"].tolist() == ["below", "below"]


def test_levels_trained_differently_are_refused():
    factors.check_one_factor_at_a_time(runs_table())
    with pytest.raises(RuntimeError, match="levels differ in epochs"):
        factors.check_one_factor_at_a_time(runs_table(epochs=12))


def load_study(name: str):
    spec = importlib.util.spec_from_file_location(name, layout.ROOT / f"studies/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


budget = load_study("budget")
tuning = load_study("tuning")


def curves(**runs: list[float]) -> pd.DataFrame:
    """name 'method-epochs' -> validation curve."""
    rows = []
    for name, accs in runs.items():
        method, epochs = name.rsplit("_", 1)
        rows += [dict(method=method, epochs=int(epochs), epoch=e + 1, val_acc=a) for e, a in enumerate(accs)]
    return pd.DataFrame(rows)


def test_budget_is_the_shortest_length_near_the_best_and_converged():
    table = budget.summarise(curves(
        a_4=[0.5, 0.7, 0.80, 0.85],         # still rising: +5 points in its last quarter
        a_8=[0.5, 0.7, 0.8, 0.86, 0.88, 0.89, 0.895, 0.893],
        a_16=[0.5] + [0.9] * 15,
        b_4=[0.8, 0.9, 0.9, 0.9], b_8=[0.8] + [0.9] * 7, b_16=[0.8] + [0.9] * 15,
    ), tolerance=0.01, convergence_tolerance=0.01)
    assert table.set_index(["method", "epochs"]).loc[("a", 4), "converged"] == False  # noqa: E712
    assert budget.choose_budget(table) == 8
    with pytest.raises(RuntimeError, match="no candidate length"):
        budget.choose_budget(budget.summarise(curves(a_4=[0.5, 0.6, 0.7, 0.8], a_8=[0.5] * 7 + [0.9]), 0.01, 0.01))


def test_every_method_gets_the_same_tuning_budget_and_the_best_mean_is_selected():
    assert {len(configurations) for configurations in tuning.SPACE.values()} == {4}
    assert tuning.label({"train.lr": 0.01, "model.heads": "shared"}) == "lr=0.01, heads=shared"
    assert tuning.label({"model.heads": "separate", "loss.lambda_mag": 0.1, "loss.lambda_mrp": 0.1}) == \
        "heads=separate, mag=mrp=0.1"
    runs = pd.DataFrame(dict(method=["m"] * 6, configuration=["x", "x", "y", "y", "z", "z"], seed=[1, 2] * 3,
                             val_acc=[0.80, 0.82, 0.85, 0.83, 0.84, 0.84]))
    table = tuning.select(runs)
    assert table.loc[table["selected"], "configuration"].tolist() == ["y"]  # y and z tie at 0.84: the first listed
    for method, configurations in tuning.SPACE.items():  # every configuration is a valid params.yaml override
        for overrides in configurations:
            config.load(None, {"train.method": method} | overrides)
    # every method the default trains is tuned, on seeds that evaluate nothing
    params = config.load()
    assert set(params.ablate.method + params.ablate.control + [params.train.method]) <= set(tuning.SPACE)
    assert not set(tuning.TUNING_SEEDS) & set(params.base.seeds)


def test_selection_noise_is_the_margin_over_the_runner_up_against_a_standard_error():
    runs = pd.DataFrame(dict(method=["m"] * 6, configuration=["x", "x", "y", "y", "z", "z"], seed=[1, 2] * 3,
                             val_acc=[0.80, 0.82, 0.85, 0.83, 0.84, 0.84]))
    noise = tuning.selection_noise(tuning.select(runs)).iloc[0]
    assert noise["selected"] == "y" and noise["margin"] == pytest.approx(0.0, abs=1e-9)  # y and z tie
    pooled = ((0.02 ** 2 / 2 + 0.02 ** 2 / 2 + 0) / 3) ** 0.5  # std of x, y, z: 0.0141, 0.0141, 0
    assert noise["standard_error"] == pytest.approx(100 * pooled / 2 ** 0.5)


profile = load_study("profile")


def test_the_full_profile_reads_the_defaults_cells_and_trains_only_the_others(tmp_path):
    prepare, raw, base = profile.read_profile("full")
    assert prepare == {} and base is None and not profile.own_data(raw, yaml.safe_load(layout.PARAMS.read_text()))
    full, default = config.parse(raw), config.load()
    shared, new = profile.shared_cells(full, default)
    # every cell of the default grid is read from its runs; the profile adds cells, and changes none
    assert {(c.axis, c.name) for c in shared} == {(c.axis, c.name) for c in grid.with_reference(default)}
    assert not {(c.axis, c.name) for c in new} & {(c.axis, c.name) for c in shared}
    assert {"ablate-schedule@tmkt-linear", "ablate-variant@tmkt_long", "ablate-event_ratio@joint-1.0"} <= {c.stage for c in new}
    # the event-ratio curve: four methods at four fractions; the convergence check: both mixing methods, twice as long
    assert len(full.ablate.event_ratio.methods) == 4 and len(full.ablate.event_ratio.fractions) == 4
    long = {c.name: grid.cell_params(None, c.axis, c.name, {"ablate.variant": raw["ablate"]["variant"]})[1].train.epochs
            for c in new if c.name.endswith("_long")}
    assert long == {"he2024_long": 2 * default.train.epochs, "tmkt_long": 2 * default.train.epochs}
    # the default's cells are linked, not copied; a default cell without runs is named before anything trains
    root, work = tmp_path / "repo", tmp_path / "work"
    (root / shared[0].folder / layout.RUNS).mkdir(parents=True)
    (root / shared[0].folder / layout.RUNS / layout.RUNS_TABLE).write_text("seed\n1\n")
    profile.link_base(shared[:1], work, root)
    assert (work / shared[0].folder).is_symlink() and (work / shared[0].folder / layout.RUNS / layout.RUNS_TABLE).is_file()
    with pytest.raises(SystemExit, match=f"{shared[1].folder} has no runs: run the base first"):
        profile.link_base(shared[:2], work, root)


def test_the_real_recordings_profile_converts_its_own_data_from_the_subset():
    prepare, raw, base = profile.read_profile("nmnist")
    assert profile.own_data(raw, yaml.safe_load(layout.PARAMS.read_text())) and raw["data"]["dataset"] == "nmnist"
    assert prepare == {"nmnist_subset": {"source": "data/raw", "first": 1000}} and base is None
    params, default = config.parse(raw), config.load()
    # the default's grid and seeds on real recordings, with sim-to-real transfer on the method axis beside them
    assert params.base.seeds == default.base.seeds and params.data.simulated_images
    assert params.ablate.method == default.ablate.method + ["sim2real"]
    assert (params.ablate.control, params.ablate.schedule) == (default.ablate.control, default.ablate.schedule)
    assert {"sim_only", "tmkt_sim"} <= set(params.ablate.variant)
    questions = {c.question for c in grid.comparisons(params)}
    assert "sim-to-real-vs-mixing" in questions and "timestep-vs-sample" in questions
    with pytest.raises(SystemExit, match="no profile 'nmist': expected one of full, nmnist"):
        profile.read_profile("nmist")


def test_the_ratio_profile_extends_the_real_recordings_profile_and_trains_only_its_curve():
    prepare, raw, base = profile.read_profile("nmnist_ratio")
    base_raw = profile.read_profile("nmnist")[1]
    assert base == "nmnist" and prepare == {} and not profile.own_data(raw, base_raw)
    shared, new = profile.shared_cells(config.parse(raw), config.parse(base_raw))
    assert {(c.axis, c.name) for c in shared} == {(c.axis, c.name) for c in grid.with_reference(config.parse(base_raw))}
    assert {c.axis for c in new} == {"event_ratio"} and len(new) == 4 * 3
    # the headline fraction is the base's own cells, so every method's curve runs through it
    assert config.parse(raw).scarcity.event_fraction not in config.parse(raw).ablate.event_ratio.fractions


def _study(name: str):
    spec = importlib.util.spec_from_file_location(name, layout.ROOT / f"studies/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_revisions_pair_seeds_and_flag_changed_verdicts():
    revisions = _study("revisions")
    then = pd.DataFrame(dict(axis="method", cell="a", method="a", seed=[1, 2], subset=["x", "y"],
                             test_acc=[0.80, 0.90]))
    now = then.assign(test_acc=[0.81, 0.87])
    moved = revisions.cells_moved(then, now).iloc[0]
    assert moved["then"] == 85.0 and moved["now"] == 84.0 and moved["change"] == -1.0
    assert moved["largest_seed_change"] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="do not pair"):
        revisions.cells_moved(then, now.assign(subset=["x", "z"]))
    comparison = dict(comparison=["a − b", "c − d"], diff=[0.01, 0.02], adj_low=[-0.01, 0.01], adj_high=[0.03, 0.03])
    before = pd.DataFrame(comparison | dict(verdict=["not distinguishable", "above"]))
    after = pd.DataFrame(comparison | dict(verdict=["above", "above"]))
    assert revisions.verdicts(before, after)["verdict changed"].tolist() == [True, False]
