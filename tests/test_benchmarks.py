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


def test_loader_benchmark_times_cold_and_warm_assembly_against_the_target(tmp_path):
    import bench_loader

    rows = bench_loader.run(bench_loader.TINY, batches=3, out_dir=tmp_path)
    table = pd.read_csv(tmp_path / "loader.csv")
    assert len(rows) == 2 and table["phase"].iloc[1] == "warm" and (tmp_path / "loader.png").is_file()
    target = bench_loader.TRAIN_RECORDINGS / bench_loader.TINY["batch"] / bench_loader.TARGET_EPOCH_S
    assert table["target_steps_per_s"].round(2).eq(round(target, 2)).all()
    assert (abs(table["ratio_to_target"] - table["batches_per_s"] / target) < 0.02).all()
    assert table["gpu_steps_per_s"].isna().all()  # no GPU run wrote gpu_step.csv here


def test_gpu_acceptance_script_runs_every_check_on_the_cpu_and_reports_them(tmp_path):
    import gpu_acceptance

    rows = gpu_acceptance.run("cpu", tiny=True, steps=1, out=tmp_path)
    checks = [r["check"] for r in rows]
    assert len(checks) == len(gpu_acceptance.bench_gpu_step.VARIANTS) + 3 + 1
    assert "torchrun, 1 process, 3 seeds" in checks and [c for c in checks if c.startswith("preset")] == [f"preset {n}: 1 steps" for n in ("cepdvs", "ncaltech101",
                                                                                               "nomniglot")]
    assert all(r["passed"] for r in rows), [r for r in rows if not r["passed"]]
    report = (tmp_path / "gpu_acceptance.md").read_text()
    assert report.startswith("GPU acceptance on CPU (--tiny)") and f"{len(rows)} of {len(rows)} checks passed" in report
