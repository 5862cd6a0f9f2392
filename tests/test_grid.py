"""The ablation grid: expansion, overrides that validate, and the tables the figures stage reads."""

from __future__ import annotations

import pytest

from tmkt import config, grid, io, layout
from tmkt.results import tables


def params_with(**ablate_section):
    raw = config.load().model_dump()
    raw["ablate"] |= ablate_section
    return config.parse(raw)


def test_grid_is_one_axis_at_a_time_plus_the_ratio_cross():
    params = params_with(method=["event_only"], heads=["shared"], schedule=["linear", "constant"],
                         aux={"none": {"domain_alignment": True, "mag": False, "mrp": False}},
                         event_ratio={"methods": ["event_only", "tmkt"], "fractions": [0.01, 1.0]})
    cells = grid.cells(params)
    assert [c.stage for c in cells] == [
        "ablate-method@event_only", "ablate-heads@shared", "ablate-schedule@linear", "ablate-schedule@constant",
        "ablate-aux@none", "ablate-event_ratio@event_only-0.01", "ablate-event_ratio@event_only-1.0",
        "ablate-event_ratio@tmkt-0.01", "ablate-event_ratio@tmkt-1.0",
    ]
    assert cells[1].overrides == {"model.heads": "shared"}
    assert cells[4].overrides == {"loss.domain_alignment": True, "loss.mag": False, "loss.mrp": False}
    assert cells[-1].folder == "reports/ablate/event_ratio/tmkt-1.0"
    # the headline axis trains every seed, every other cell the first ablate.seeds_per_cell of them
    assert [grid.seeds_of(params, c.seed_count) for c in cells[:2]] == [params.base.seeds, params.base.seeds[:3]]


def test_seeds_per_cell_cannot_exceed_the_seeds():
    raw = config.load().model_dump()
    raw["base"]["seeds"], raw["ablate"]["seeds_per_cell"] = [1, 2], 3
    with pytest.raises(config.ParamsError, match="seeds_per_cell = 3 exceeds the 2 seeds"):
        config.parse(raw)
    raw["base"]["seeds"] = [1, 1, 2]
    raw["ablate"]["seeds_per_cell"] = 2
    with pytest.raises(config.ParamsError, match="distinct"):
        config.parse(raw)


def test_every_default_cell_changes_only_its_axis():
    params = config.load()
    reference = params.model_dump()
    for cell in grid.cells(params):
        changed = config.apply_overrides(reference, cell.overrides)
        cell_params = config.parse(changed).model_dump()
        differs = {(s, k) for s in reference for k in reference[s] if reference[s][k] != cell_params[s][k]}
        assert differs == {tuple(key.split(".")) for key, v in cell.overrides.items()
                           if reference[key.split(".")[0]][key.split(".")[1]] != v}, cell.stage


@pytest.mark.parametrize("section, message", [
    ({"method": ["event_only", "event_only"]}, "distinct"),
    ({"schedule": ["sliding"]}, "schedule"),
    ({"aux": {"No DA": {"domain_alignment": False, "mag": True, "mrp": True}}}, "aux"),
    ({"aux": {"x": {"domain_alignment": False, "mag": True}}}, "mrp"),
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
        io.write_csv(layout.run_file(folder, seed, layout.HISTORY, root), history)
    io.write_csv(root / folder / layout.RUNS / layout.RUNS_TABLE, rows)


@pytest.fixture
def small_grid(tmp_path):
    params = params_with(method=["event_only"], heads=[], schedule=["linear"], aux={},
                         event_ratio={"methods": ["event_only", "tmkt"], "fractions": [1.0]})
    write_cell(tmp_path, layout.REFERENCE_CELL, "tmkt", [0.8, 0.82, 0.84])
    for i, cell in enumerate(grid.cells(params)):
        method = cell.overrides.get("train.method", "tmkt")
        write_cell(tmp_path, cell.folder, method, [0.5 + i / 10] * 3)
    return params, tmp_path


def test_runs_axes_and_tables(small_grid):
    params, root = small_grid
    runs = layout.load_runs(grid.with_reference(params), root)
    assert len(runs) == 3 * 5 and set(runs["axis"]) == {"reference", "method", "schedule", "event_ratio"}
    schedule = tables.axis_runs(runs, params, "schedule")
    assert list(dict.fromkeys(schedule["value"])) == ["power", "linear"]  # the reference first
    ratio = tables.axis_runs(runs, params, "event_ratio")
    # each method's curve: its cell at 1.0 and its run at the reference fraction (tmkt: the train stage)
    assert sorted(ratio.groupby("method")["event_fraction"].unique().map(sorted).map(tuple)) == [(0.03, 1.0)] * 2
    table = tables.cell_table(runs, 0.95)
    reference = table[table["axis"] == "reference"].iloc[0]
    assert reference["test_acc_mean"] == pytest.approx(0.82) and reference["test_acc_std"] == pytest.approx(0.02)
    assert (table["seeds"] == 3).all()
    head = tables.headline(table, "mnist_sim", 0.9)
    assert list(head["method"]) == ["tmkt", "event_only"] and head.iloc[0, -2] == 97.93
    assert "− event_only (points, 90 % CI)" in head.columns  # the label follows base.confidence
    hist = layout.histories(runs[runs["axis"] == "method"], root)
    assert len(hist) == 3 * 2 and set(hist["method"]) == {"event_only"}


def test_missing_cell_is_named(small_grid):
    params, root = small_grid
    (root / "reports/ablate/schedule/linear/runs/runs.csv").unlink()
    with pytest.raises(FileNotFoundError, match="schedule/linear"):
        layout.load_runs(grid.with_reference(params), root)


def cell_params_stage(params_file: str) -> str:
    return grid.cell_params(params_file, "method", "he2024")[1].stage


def test_cells_are_found_by_axis_and_name_with_their_parameters(tmp_path):
    params_file = tmp_path / "params.yaml"
    params_file.write_text(layout.PARAMS.read_text())
    cell, params = grid.cell_params(str(params_file), "event_ratio", "event_only-0.01", "{train.epochs: 2}")
    assert cell.folder == "reports/ablate/event_ratio/event_only-0.01" and cell.stage == "ablate-event_ratio@event_only-0.01"
    assert (params.train.method, params.scarcity.event_fraction, params.train.epochs) == ("event_only", 0.01, 2)
    reference, params = grid.cell_params(str(params_file), "reference", "reference")
    assert reference.stage == "train" and reference.folder == layout.REFERENCE_CELL and params.all == config.load(params_file)
    assert params.stage == "train" and cell_params_stage(str(params_file)) == "ablate"
    with pytest.raises(config.UndeclaredRead, match="stage .train. reads ablate"):
        params.ablate
    with pytest.raises(ValueError, match="no cell method/tmkt .* cells: reference/reference, method/event_only"):
        grid.cell_params(str(params_file), "method", "tmkt")


def test_executed_notebooks_by_stage(small_grid):
    params, root = small_grid
    cells = grid.with_reference(params)
    assert layout.executed_notebooks(cells, root) == {}
    for path in ("reports/notebooks/01_convert.ipynb", "reports/notebooks/02_train.ipynb",
                 "reports/ablate/schedule/linear/02_train.ipynb"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("{}")
    assert {k: v.relative_to(root).as_posix() for k, v in layout.executed_notebooks(cells, root).items()} == {
        "convert": "reports/notebooks/01_convert.ipynb", "train": "reports/notebooks/02_train.ipynb",
        "ablate-schedule@linear": "reports/ablate/schedule/linear/02_train.ipynb"}
