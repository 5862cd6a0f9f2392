"""The benchmarks run end to end at a tiny size on the CPU (their figures are measured on real hardware)."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from tmkt import layout

sys.path.insert(0, str(layout.ROOT / "benchmarks"))
import bench_gpu_step  # noqa: E402


def test_gpu_step_benchmark_runs_every_variant_and_writes_its_figures(tmp_path):
    rows = bench_gpu_step.run("cpu", tiny=True, warmup=1, repeats=2, out_dir=tmp_path,
                              variants=list(bench_gpu_step.VARIANTS))
    table = pd.read_csv(tmp_path / "gpu_step.csv")
    assert (tmp_path / "gpu_step.png").stat().st_size > 0
    assert table["variant"].tolist() == list(bench_gpu_step.VARIANTS) and len(rows) == 4
    assert table.loc[0, "speedup"] == 1.0 and (table["gflops_per_step"] > 0).all()
    expected_epoch = bench_gpu_step.NCALTECH101_TRAIN / table["batch"] * table["ms_per_step"] / 1e3
    assert (abs(table["ncaltech101_epoch_s"] - expected_epoch) <= 0.1 + 1e-3 * expected_epoch).all()
    assert set(table["time_steps"]) == {bench_gpu_step.TINY["data.time_bins"]}
