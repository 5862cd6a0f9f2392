"""studies/sensor.py's fit: the distance it minimises, and that the fitted profile holds the fit's selection."""

from __future__ import annotations

import importlib.util
import math

import pandas as pd
import pytest
import yaml

from tmkt import layout

spec = importlib.util.spec_from_file_location("sensor", layout.ROOT / "studies/sensor.py")
sensor = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sensor)

FIT_CSV = layout.ROOT / "reports/studies/sensor/fit.csv"


def table(source: str, **columns) -> pd.DataFrame:
    """Two recordings "a", "b" with the given statistics."""
    return pd.DataFrame(dict(id=["a", "b"], digit=[1, 2], source=source, **columns))


def test_fit_distance_is_the_mean_absolute_log_ratio_of_the_means():
    # T = 2: S = count, active_pixels, isolated_fraction, median_iei_ms, bin_1, bin_2
    real = table("real", count=[100.0, 300], active_pixels=[10.0, 30], isolated_fraction=[0.05, 0.05],
                 median_iei_ms=[2.0, 4.0], bin_1=[0.5, 0.5], bin_2=[0.5, 0.5], on_fraction=[0.5, 0.5])
    # means: count x2, active_pixels x1, isolated_fraction x4, median_iei_ms 1.5 / 3, bins x1; on_fraction not in S
    simulated = table("simulated", count=[200.0, 600], active_pixels=[30.0, 10], isolated_fraction=[0.2, 0.2],
                      median_iei_ms=[1.0, 2.0], bin_1=[0.5, 0.5], bin_2=[0.5, 0.5], on_fraction=[0.9, 0.9])
    expected = (math.log(2) + 0 + math.log(4) + math.log(2) + 0 + 0) / 6
    assert sensor.fit_distance(real, simulated, bins=2) == pytest.approx(expected)
    assert sensor.fit_distance(real, real.assign(source="simulated"), bins=2) == 0
    # the rows are matched by id, not by position
    assert sensor.fit_distance(real, simulated.iloc[::-1], bins=2) == pytest.approx(expected)
    # a NaN leaves that recording out of the mean: mean 1.0 against 3.0
    gap = simulated.assign(median_iei_ms=[1.0, float("nan")])
    assert sensor.fit_distance(real, gap, bins=2) == pytest.approx((3 * math.log(2) + math.log(3)) / 6)
    # a simulated mean of zero is infinitely far; a real one leaves the distance undefined
    assert sensor.fit_distance(real, simulated.assign(bin_2=[0.0, 0.0]), bins=2) == math.inf
    with pytest.raises(ValueError, match="positive real means; bin_2"):
        sensor.fit_distance(real.assign(bin_2=[0.0, 0.0]), simulated, bins=2)
    with pytest.raises(ValueError, match="same recordings"):
        sensor.fit_distance(real, simulated.iloc[:1], bins=2)


def test_fit_grid_is_the_product_in_the_documented_order():
    grid = sensor.fit_grid()
    assert len(grid) == 6 * 3 * 5 * 2
    assert all(row.items() >= sensor.FIT_GEOMETRY.items() for row in grid)
    assert grid[0] == sensor.FIT_GEOMETRY | {
        "simulator.moving_fraction": 0.5, "simulator.background_rate_hz": 0.1, "simulator.signal_keep": 0.4,
        "simulator.hot_pixels": 0, "simulator.hot_pixel_rate_hz": 0.0}
    assert grid[1]["simulator.hot_pixels"] == 1 and grid[1]["simulator.hot_pixel_rate_hz"] == 50.0  # last fastest
    assert grid[-1]["simulator.moving_fraction"] == 1.0 and grid[-1]["simulator.signal_keep"] == 0.8
    # the grid first fixed lies inside the widened one
    first = [row for row in grid if all(row[k] in v for k, v in sensor.FIRST_GRID.items())]
    assert len(first) == 4 * 3 * 4 * 2


def test_profile_reading_keeps_only_simulator_overrides(tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("prepare: {nmnist_subset: {source: data/raw}}\ndata.dataset: nmnist\n"
                       "simulator.path: yx\nsimulator.hot_pixels: 1\n")
    assert sensor.profile_overrides(profile) == {"simulator.path": "yx", "simulator.hot_pixels": 1}
    profile.write_text("data.dataset: nmnist\n")
    assert sensor.profile_overrides(profile) == {}
    assert "no `simulator.*` overrides" in sensor.fitted_provenance({}, profile, tmp_path / "fit.csv")


def test_the_nmnist_profile_holds_the_selected_row_of_the_fit():
    if not FIT_CSV.is_file():
        pytest.skip(f"{FIT_CSV.relative_to(layout.ROOT)} has not been written in this checkout "
                    "(python studies/sensor.py --fit)")
    fit = pd.read_csv(FIT_CSV)
    selected = fit[fit["selected"].astype(str) == "True"]
    assert len(selected) == 1, "fit.csv must select exactly one configuration"
    # the selection is the least distance, ties to the first in grid order
    assert selected.index[0] == fit["distance"].idxmin()
    row = selected.iloc[0]
    expected = {key: row[key] for key in fit.columns if key.startswith("simulator.")}
    content = yaml.safe_load(sensor.PROFILE.read_text())
    overrides = {key: value for key, value in content.items() if key.split(".")[0] == "simulator"}
    assert set(overrides) == set(expected)
    for key, value in expected.items():
        if isinstance(value, str):
            assert overrides[key] == value, key
        else:
            assert overrides[key] == pytest.approx(float(value)), key
