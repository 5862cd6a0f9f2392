"""The ablation grid: expansion, overrides that validate, and the tables the figures stage reads."""

from __future__ import annotations

import pytest
import yaml

from tmkt import atomic, config, grid, layout
from tmkt.results import tables


def params_with(**ablate_section):
    raw = config.load().model_dump()
    raw["ablate"] |= ablate_section
    return config.parse(raw)


def test_grid_axes_expand_in_order_with_their_seeds():
    params = params_with(method=["event_only"], control=["joint"],
                         schedule={"methods": ["he2024", "tmkt"], "schedules": ["linear"]},
                         variant={"tmkt_shared": {"model": {"heads": "shared"}}},
                         event_ratio={"methods": ["event_only", "tmkt"], "fractions": [0.01, 1.0]})
    cells = grid.cells(params)
    assert [c.stage for c in cells] == [
        "ablate-method@event_only", "ablate-control@joint", "ablate-schedule@he2024-linear",
        "ablate-schedule@tmkt-linear", "ablate-variant@tmkt_shared", "ablate-event_ratio@event_only-0.01",
        "ablate-event_ratio@event_only-1.0", "ablate-event_ratio@tmkt-0.01", "ablate-event_ratio@tmkt-1.0",
    ]
    assert cells[2].overrides == {"train.method": "he2024", "mixup.schedule": "linear"}
    assert cells[4].overrides == {"model.heads": "shared"} and cells[4].method == "tmkt"
    assert [c.label for c in cells[:5]] == ["event_only", "joint", "he2024 (linear)", "tmkt (linear)", "tmkt_shared"]
    assert cells[-1].folder == "reports/ablate/event_ratio/tmkt-1.0" and cells[-1].event_fraction == 1.0
    # the headline axis trains every seed, every other cell the first ablate.seeds_per_cell of them
    n = params.ablate.seeds_per_cell
    assert [grid.seeds_of(params, c.seed_count) for c in cells[:2]] == [params.base.seeds, params.base.seeds[:n]]


def test_comparisons_pair_the_cells_that_answer_a_question():
    params = params_with(method=["event_only", "he2024"], control=["joint"],
                         schedule={"methods": ["he2024", "tmkt"], "schedules": ["constant"]},
                         variant={"tmkt_shared": {"model": {"heads": "shared"}},
                                  "no_partner": {"train": {"method": "finetune"}}},
                         event_ratio={"methods": ["event_only", "he2024", "tmkt"], "fractions": [0.01]})
    found = [(c.name, c.question) for c in grid.comparisons(params)]
    assert found == [
        ("tmkt − event_only", "images"), ("he2024 − event_only", "images"), ("joint − event_only", "images"),
        ("he2024 − joint", "mixing"), ("tmkt − joint", "mixing"),
        ("tmkt − he2024", "timestep-vs-sample"), ("tmkt (constant) − he2024 (constant)", "timestep-vs-sample"),
        ("tmkt at 1 % − he2024 at 1 %", "timestep-vs-sample"),
        ("tmkt_shared − tmkt", "variant"),  # finetune has no cell of its own: its variant is compared with nothing
        ("he2024 at 1 % − event_only at 1 %", "images"), ("tmkt at 1 % − event_only at 1 %", "images"),
    ]
    # without the partner cells the comparisons that need them are gone, not broken
    bare = params_with(method=[], control=[], schedule={"methods": [], "schedules": []}, variant={},
                       event_ratio={"methods": [], "fractions": []})
    assert grid.comparisons(bare) == []


def test_a_variant_names_keys_that_exist():
    with pytest.raises(config.ParamsError, match="ablate.variant.x: model.head is not a parameter"):
        params_with(variant={"x": {"model": {"head": "shared"}}})
    with pytest.raises(config.ParamsError, match="ablate.variant.y: section 'modle'"):
        params_with(variant={"y": {"modle": {"heads": "shared"}}})
    with pytest.raises(config.ParamsError, match="both ablate.method and ablate.control"):
        params_with(method=["joint"], control=["joint"])


def test_seeds_per_cell_cannot_exceed_the_seeds():
    raw = config.load().model_dump()
    raw["base"]["seeds"], raw["ablate"]["seeds_per_cell"] = [1, 2], 3
    with pytest.raises(config.ParamsError, match="seeds_per_cell = 3 exceeds the 2 seeds"):
        config.parse(raw)
    raw["base"]["seeds"] = [1, 1, 2]
    raw["ablate"]["seeds_per_cell"] = 2
    with pytest.raises(config.ParamsError, match="distinct"):
        config.parse(raw)


def test_every_default_cell_changes_only_its_overrides():
    params = config.load()
    reference = params.model_dump()
    for cell in grid.cells(params):
        _, cell_params = grid.cell_params(None, cell.axis, cell.name)
        changed = cell_params.all.model_dump()
        differs = {(s, k) for s in reference for k in reference[s] if reference[s][k] != changed[s][k]}
        allowed = {tuple(key.split(".")) for key in cell.overrides} | {("train", "lr"), ("model", "heads")}  # per method
        assert differs <= allowed, cell.stage


@pytest.mark.parametrize("section, message", [
    ({"method": ["event_only", "event_only"]}, "distinct"),
    ({"schedule": {"methods": ["tmkt"], "schedules": ["sliding"]}}, "schedule"),
    ({"variant": {"No DA": {"loss": {"domain_alignment": False}}}}, "variant"),
    ({"event_ratio": {"methods": ["tmkt"], "fractions": [0.0]}}, "fractions"),
])
def test_bad_grid_names_the_key(section, message):
    with pytest.raises(config.ParamsError, match=message):
        params_with(**section)


def write_cell(root, folder, method, accs, epochs=2):
    rows = []
    for seed, acc in zip((1, 2, 3), accs):
        rows.append(dict(method=method, seed=seed, best_epoch=epochs, val_acc=acc, test_acc=acc, test_acc_last=acc,
                         train_seconds=1.0))
        history = [dict(epoch=e + 1, loss=1.0 / (e + 1), val_acc=acc * (e + 1) / epochs) for e in range(epochs)]
        atomic.write_csv(layout.run_file(folder, seed, layout.HISTORY, root), history)
    atomic.write_csv(root / folder / layout.RUNS / layout.RUNS_TABLE, rows)


@pytest.fixture
def small_grid(tmp_path):
    params = params_with(method=["event_only"], control=[], schedule={"methods": ["tmkt"], "schedules": ["linear"]},
                         variant={}, event_ratio={"methods": ["event_only", "tmkt"], "fractions": [1.0]})
    write_cell(tmp_path, layout.REFERENCE_CELL, "tmkt", [0.8, 0.82, 0.84])
    for i, cell in enumerate(grid.cells(params)):
        write_cell(tmp_path, cell.folder, cell.method, [0.5 + i / 10] * 3)
    return params, tmp_path


def test_runs_and_tables(small_grid):
    params, root = small_grid
    runs = layout.load_runs(grid.with_reference(params), root)
    assert len(runs) == 3 * 5 and set(runs["axis"]) == {"reference", "method", "schedule", "event_ratio"}
    assert set(runs["label"]) == {"tmkt", "event_only", "tmkt (linear)", "event_only at 100 %", "tmkt at 100 %"}
    ratio = tables.ratio_runs(runs, params)
    # each method's curve: its cell at 1.0 and its run at the reference fraction (tmkt: the train stage)
    assert sorted(ratio.groupby("method")["event_fraction"].unique().map(sorted).map(tuple)) == [(0.03, 1.0)] * 2
    table = tables.cell_table(runs, params)
    reference = table[table["axis"] == "reference"].iloc[0]
    assert reference["test_acc_mean"] == pytest.approx(0.82) and reference["test_acc_std"] == pytest.approx(0.02)
    assert (table["seeds"] == 3).all() and list(table["schedule"]) == ["power", "power", "linear", "power", "power"]
    family = tables.comparison_table(runs, params)
    assert list(family["comparison"]) == ["tmkt − event_only", "tmkt at 100 % − event_only at 100 %"]
    assert family["diff"].iloc[0] == pytest.approx(0.82 - 0.5)
    head = tables.headline(table, family, "mnist_sim")
    assert list(head["method"]) == ["tmkt", "event_only"] and head.iloc[0, -2] == 97.93
    assert head["− event_only (points, Holm-adjusted CI)"].iloc[0].startswith("+32.0 [")
    assert list(table["event_data"])[:2] == ["3 %", "3 %"] and tables.scarcity_text(None, 10) == "10 per class"
    per_class = config.parse(config.apply_overrides(params.model_dump(), {"scarcity.event_fraction": None,
                                                                          "scarcity.event_per_class": 10}))
    assert tables.cell_table(runs.assign(event_fraction=None), per_class)["event_data"].iloc[0] == "10 per class"
    hist = layout.histories(runs[runs["axis"] == "method"], root)
    assert len(hist) == 3 * 2 and set(hist["method"]) == {"event_only"}


def test_missing_cell_is_named(small_grid):
    params, root = small_grid
    (root / "reports/ablate/schedule/tmkt-linear/runs/runs.csv").unlink()
    with pytest.raises(FileNotFoundError, match="schedule/tmkt-linear"):
        layout.load_runs(grid.with_reference(params), root)


def cell_params_stage(params_file: str) -> str:
    return grid.cell_params(params_file, "method", "he2024")[1].stage


def test_cells_are_found_by_axis_and_name_with_their_parameters(tmp_path):
    params_file = tmp_path / "params.yaml"
    raw = yaml.safe_load(layout.PARAMS.read_text())
    raw["ablate"]["event_ratio"] = {"methods": ["event_only"], "fractions": [0.01]}
    params_file.write_text(yaml.safe_dump(raw))
    cell, params = grid.cell_params(str(params_file), "event_ratio", "event_only-0.01", "{train.epochs: 2}")
    assert cell.folder == "reports/ablate/event_ratio/event_only-0.01" and cell.stage == "ablate-event_ratio@event_only-0.01"
    assert (params.train.method, params.scarcity.event_fraction, params.train.epochs) == ("event_only", 0.01, 2)
    reference, params = grid.cell_params(str(params_file), "reference", "reference")
    assert reference.stage == "train" and reference.folder == layout.REFERENCE_CELL and params.all == config.load(params_file)
    assert params.stage == "train" and cell_params_stage(str(params_file)) == "ablate-method@he2024"
    with pytest.raises(config.UndeclaredRead, match="stage .train. reads ablate"):
        params.ablate
    with pytest.raises(ValueError, match="no cell method/tmkt .* cells: reference/reference, method/event_only"):
        grid.cell_params(str(params_file), "method", "tmkt")


def test_executed_notebooks_by_stage(small_grid):
    params, root = small_grid
    cells = grid.with_reference(params)
    assert layout.executed_notebooks(cells, root) == {}
    for path in ("reports/notebooks/01_convert.ipynb", "reports/notebooks/02_train.ipynb",
                 "reports/ablate/schedule/tmkt-linear/02_train.ipynb"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("{}")
    assert {k: v.relative_to(root).as_posix() for k, v in layout.executed_notebooks(cells, root).items()} == {
        "convert": "reports/notebooks/01_convert.ipynb", "train": "reports/notebooks/02_train.ipynb",
        "ablate-schedule@tmkt-linear": "reports/ablate/schedule/tmkt-linear/02_train.ipynb"}
