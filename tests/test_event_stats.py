"""tmkt.data.event_stats on events whose statistics are known by construction, and studies/sensor.py on tiny trees."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from formats import write_atis, write_idx

from tmkt import config, layout
from tmkt.data import event_stats as es
from tmkt.data.datasets.base import as_events
from tmkt.data.datasets.imagefiles import read_idx
from tmkt.data.datasets.simulator import simulate


def events(*rows: tuple[int, int, int, int]) -> np.ndarray:
    """(x, y, t, p) rows, sorted by t as recordings are."""
    x, y, t, p = (np.array(column) for column in zip(*rows, strict=True))
    order = np.argsort(t, kind="stable")
    return as_events(x[order], y[order], t[order], p[order].astype(bool))


def test_count_on_fraction_and_duration():
    recording = events(*[(i, 0, 1_000 + 100 * i, i < 3) for i in range(10)])
    assert es.event_count(recording) == 10
    assert es.on_fraction(recording) == pytest.approx(0.3)
    assert es.duration_us(recording) == 900
    assert np.isnan(es.on_fraction(recording[:0])) and es.duration_us(recording[:0]) == 0


def test_time_bin_fractions_by_hand():
    # elapsed 0, 10, 30, 50, 99, 100 of D = 100 us in T = 4 bins: floor(4 e / D) = 0, 0, 1, 2, 3, 4 -> last bin 3
    recording = events(*[(0, 0, 100 + e, 1) for e in (0, 10, 30, 50, 99, 100)])
    assert es.time_bin_fractions(recording, 4).tolist() == pytest.approx([2 / 6, 1 / 6, 1 / 6, 2 / 6])
    assert es.time_bin_fractions(recording, 1).tolist() == [1.0]
    assert es.time_bin_fractions(events((0, 0, 5, 1), (1, 0, 5, 0)), 3).tolist() == [1.0, 0.0, 0.0]  # D = 0
    # bin edges are exact: elapsed 25 of 100 is the first event of bin 2, 24 the last of bin 1
    assert es.time_bin_fractions(events((0, 0, 0, 1), (0, 0, 24, 1), (0, 0, 25, 1), (0, 0, 100, 1)), 4).tolist() == [
        0.5, 0.25, 0.0, 0.25]


def test_spatial_map_and_frames_put_each_event_at_its_pixel_bin_and_polarity():
    recording = events((3, 1, 0, 1), (3, 1, 50, 0), (0, 2, 60, 1), (33, 33, 100, 0))
    counts = es.spatial_map(recording)
    assert counts.shape == (34, 34) and counts.sum() == 4
    assert counts[1, 3] == 2 and counts[2, 0] == 1 and counts[33, 33] == 1  # indexed [y, x]
    frames = es.event_frames(recording, 2)
    assert frames.shape == (2, 2, 34, 34)
    assert frames[0, 1, 1, 3] == 1 and frames[1, 0, 1, 3] == 1  # t = 50 of D = 100 opens bin 2
    assert frames[1, 1, 2, 0] == 1 and frames[1, 0, 33, 33] == 1 and frames.sum() == 4
    with pytest.raises(ValueError, match="outside"):
        es.spatial_map(events((34, 0, 0, 1)))


def test_inter_event_intervals_are_per_pixel():
    # pixel (0, 0) fires at 0, 10, 40; pixel (1, 0) at 5 and 6: interleaved in time, intervals only within a pixel
    recording = events((0, 0, 0, 1), (1, 0, 5, 0), (1, 0, 6, 1), (0, 0, 10, 0), (0, 0, 40, 1), (5, 5, 41, 1))
    assert es.inter_event_intervals(recording).tolist() == [10, 30, 1]
    assert es.median_iei_ms(es.inter_event_intervals(recording)) == pytest.approx(0.010)
    assert np.isnan(es.median_iei_ms(np.array([], dtype=np.int64)))


def test_iei_histogram_shares_with_clipping_at_both_ends():
    edges = np.array([10.0, 100.0, 1000.0])
    # 0 and 50 in [10, 100) (0 clipped up), 100 and 5e6 in [100, 1000] (5e6 clipped down)
    assert es.iei_histogram(np.array([0, 50, 100, 5_000_000]), edges).tolist() == [0.5, 0.5]
    assert es.iei_histogram(np.array([], dtype=np.int64), edges).tolist() == [0.0, 0.0]


def test_isolated_fraction_counts_events_without_a_near_neighbour():
    recording = events(
        (10, 10, 1_000, 1), (11, 11, 1_500, 0),  # diagonal neighbours 500 us apart: both supported
        (20, 20, 1_000, 1), (20, 20, 1_200, 1),  # the same pixel twice: no support
        (5, 5, 1_000, 1), (6, 5, 9_000, 1),  # neighbours 8 ms apart: beyond a 5 ms window
        (33, 0, 2_000, 1), (0, 1, 2_000, 1),  # adjacent flat indices (33, 34) across a row end: not neighbours
    )
    assert es.isolated_fraction(recording, window_us=5_000) == pytest.approx(6 / 8)
    assert es.isolated_fraction(recording, window_us=8_000) == pytest.approx(4 / 8)
    assert np.isnan(es.isolated_fraction(recording[:0]))


def test_stats_table_has_one_row_per_recording():
    a = events((0, 0, 0, 1), (0, 0, 100, 0), (1, 0, 200, 1), (1, 0, 300, 1))
    table = es.stats_table([es.Recording("00001", 5, "real", a), es.Recording("00002", 3, "simulated", a[:1])], 2)
    assert list(table.columns) == [*es.ID_COLUMNS, *es.STAT_COLUMNS, "bin_1", "bin_2"]
    first = table.iloc[0]
    assert (first["id"], first["digit"], first["source"], first["count"]) == ("00001", 5, "real", 4)
    assert first["on_fraction"] == 0.75 and first["duration_ms"] == 0.3 and first["median_iei_ms"] == 0.1
    assert first["active_pixels"] == 2 and (first["bin_1"], first["bin_2"]) == (0.5, 0.5)
    assert table.iloc[1]["count"] == 1 and np.isnan(table.iloc[1]["median_iei_ms"])


def test_spearman_uses_average_ranks():
    # ranks (1, 2.5, 2.5, 4) and (1, 2, 3, 4): r = 4.5 / sqrt(4.5 * 5)
    assert es.spearman([1, 2, 2, 3], [10, 20, 30, 40]) == pytest.approx(4.5 / np.sqrt(22.5))
    assert es.spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert np.isnan(es.spearman([1, 1, 1], [1, 2, 3])) and np.isnan(es.spearman([1, 2], [1, 2]))


def test_compare_matches_recordings_by_id():
    real = pd.DataFrame(dict(id=["a", "b", "c", "d"], digit=[0, 1, 2, 3], source="real", count=[1.0, 2, 3, 4],
                             on_fraction=[0.4, 0.5, 0.6, 0.7]))
    # simulated rows in another order: twice the counts, ON fractions in the opposite order of the real ones
    simulated = pd.DataFrame(dict(id=["d", "c", "b", "a"], digit=[3, 2, 1, 0], source="simulated",
                                  count=[8.0, 6, 4, 2], on_fraction=[0.5, 0.5, 0.6, 0.7]))
    table = es.compare(real, simulated).set_index("statistic")
    assert list(table.index) == ["count", "on_fraction"]
    assert table.loc["count"].tolist() == pytest.approx([2.5, 5.0, 2.0, 1.0])
    assert table.loc["on_fraction", "mean_simulated"] == pytest.approx(0.575)
    assert table.loc["on_fraction", "ratio"] == pytest.approx(0.575 / 0.55)
    assert table.loc["on_fraction", "spearman"] == pytest.approx(-4.5 / np.sqrt(22.5))  # sim ranks 4, 3, 1.5, 1.5
    with pytest.raises(ValueError, match="same recordings"):
        es.compare(real, simulated.iloc[:3])
    with pytest.raises(ValueError, match="repeats ids"):
        es.compare(pd.concat([real, real.iloc[:1]]), simulated)


# ------------------------------------------------------------------------------ studies/sensor.py
spec = importlib.util.spec_from_file_location("sensor", layout.ROOT / "studies/sensor.py")
sensor = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sensor)


def test_study_without_data_says_where_to_put_it_and_how_to_get_it(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        sensor.main(["--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "out")])
    message = str(exit_info.value.code)
    assert f"{tmp_path / 'raw'}/N-MNIST/Train does not exist" in message
    assert f"{tmp_path / 'raw'}/MNIST/train-images-idx3-ubyte" in message
    assert "garrickorchard.com/datasets/n-mnist" in message and "tonic.datasets.NMNIST(save_to=" in message
    assert not (tmp_path / "out").exists()


def tiny_tree(root, labels=(3, 7, 3), digits_of_files=None) -> None:
    """MNIST idx files with ``labels`` (random digits) and one ATIS recording of rows 0 and 2 (files 00001, 00003),
    filed under the folder of ``digits_of_files`` (default: their labels)."""
    rng = np.random.default_rng(0)
    write_idx(root / "MNIST/train-images-idx3-ubyte", rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8))
    write_idx(root / "MNIST/train-labels-idx1-ubyte", np.asarray(labels, dtype=np.uint8))
    for number, digit in zip((1, 3), digits_of_files or (labels[0], labels[2]), strict=True):
        n = 400
        write_atis(root / f"N-MNIST/Train/{digit}/{number:05d}.bin", rng.integers(0, 34, n), rng.integers(0, 34, n),
                   rng.integers(0, 2, n), np.sort(rng.integers(0, 300_000, n)))


def test_study_on_a_tiny_tree_writes_both_tables_and_the_figure(tmp_path):
    tiny_tree(tmp_path / "raw")
    profile = tmp_path / "profile.yaml"
    profile.write_text("data.dataset: nmnist\nsimulator.path: yx\nsimulator.background_rate_hz: 0.5\n")
    comparison = sensor.run(tmp_path / "raw", tmp_path / "out", bins=3, profile=profile)
    table = pd.read_csv(tmp_path / "out/stats.csv", dtype={"id": str})
    assert sorted(zip(table["source"], table["id"], table["digit"])) == [
        (source, number, 3) for source in ("default", "fitted", "real") for number in ("00001", "00003")]
    assert table[table["source"] == "real"]["count"].tolist() == [400, 400]
    # the simulated recording of file n is MNIST row n - 1 simulated with default_rng([simulator.seed, n - 1]), at
    # params.yaml's simulator (default) and with the profile's simulator.* overrides (fitted)
    images = read_idx(tmp_path / "raw/MNIST/train-images-idx3-ubyte")
    for source, overrides in (("default", None), ("fitted", {"simulator.path": "yx",
                                                             "simulator.background_rate_hz": 0.5})):
        cfg = config.load(overrides=overrides).simulator
        expected = [len(simulate(images[row], cfg, np.random.default_rng([cfg.seed, row]))) for row in (0, 2)]
        assert table[table["source"] == source]["count"].tolist() == expected
    assert {"mean_default", "mean_fitted", "spearman_fitted"} <= set(comparison.columns)
    assert "bin_3" in table and comparison.loc[comparison["statistic"] == "count", "mean_real"].item() == 400
    assert "| count " in (tmp_path / "out/comparison.md").read_text()
    assert (tmp_path / "out/sensor.png").stat().st_size > 10_000


def test_study_refuses_recordings_filed_under_another_digit(tmp_path):
    tiny_tree(tmp_path / "raw", digits_of_files=(3, 4))
    with pytest.raises(SystemExit, match="do not record the MNIST digit"):
        sensor.run(tmp_path / "raw", tmp_path / "out", bins=3)
