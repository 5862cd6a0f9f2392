"""Peak memory of the pipeline's stages on the default configuration, against the 4 GB budget.

Runs the convert and train stages' own commands, read from ``dvc.yaml`` through DVC (every ablation cell is
the train notebook for another cell, so it has the train stage's footprint), writing into a temporary
folder, and samples every ``--interval`` seconds:

- the summed resident set size (RSS) of the papermill process and all its descendants (kernel, fork server,
  seed or conversion workers). Pages shared between them (libraries, the memory-mapped data) count once per
  process, so this over-states the footprint: an upper bound;
- the machine's used memory (``psutil.virtual_memory().used``) minus its value before the stage.

Writes ``reports/benchmarks/memory.csv`` (one row per stage: peaks and duration) and ``memory.png`` (the sampled
tree RSS over time, with the budget) atomically. Run: ``python benchmarks/bench_memory.py [--interval 0.2]``.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import psutil  # noqa: E402

from tmkt import atomic, layout, stages  # noqa: E402

OUT_DIR = layout.REPORTS / "benchmarks"
BUDGET_MB = 4096
MB = 2**20


def stage_commands(work: Path) -> dict[str, str]:
    """The convert and train stages' commands as ``dvc.yaml`` defines them, writing into ``work``."""
    return {name: stages.relocated_command(name, work) for name in ("convert", "train")}


def tree_rss(process: psutil.Process) -> int:
    """RSS in bytes of ``process`` and all its descendants (processes that vanish mid-read count 0)."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def measure(name: str, command: str, interval: float) -> tuple[dict, list[tuple[float, float]]]:
    """Run the shell ``command`` from the repository root; its peak memory and the sampled (seconds, tree RSS MB)."""
    baseline = psutil.virtual_memory().used
    start = time.perf_counter()
    child = subprocess.Popen(command, shell=True, cwd=layout.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    process = psutil.Process(child.pid)
    samples, peak_used = [], 0
    while child.poll() is None:
        try:
            samples.append((time.perf_counter() - start, tree_rss(process) / MB))
        except psutil.NoSuchProcess:
            break
        peak_used = max(peak_used, psutil.virtual_memory().used - baseline)
        time.sleep(interval)
    _, stderr = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"stage {name} failed (exit {child.returncode}):\n{stderr[-3000:]}")
    row = dict(
        stage=name,
        seconds=round(time.perf_counter() - start, 1),
        peak_tree_rss_mb=round(max(mb for _, mb in samples), 1),
        peak_system_used_delta_mb=round(peak_used / MB, 1),
        budget_mb=BUDGET_MB,
        samples=len(samples),
    )
    return row, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples")
    args = parser.parse_args()

    rows, timelines = [], {}
    with tempfile.TemporaryDirectory(prefix="tmkt-memory-") as tmp:
        for name, command in stage_commands(Path(tmp)).items():
            row, timelines[name] = measure(name, command, args.interval)
            rows.append(row)
            print(row, flush=True)
    atomic.write_csv(OUT_DIR / "memory.csv", rows)

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, samples in timelines.items():
        ax.plot([t for t, _ in samples], [mb for _, mb in samples], label=f"{name} (papermill + kernel + workers)")
    ax.axhline(BUDGET_MB, color="k", linestyle="--", linewidth=1, label="budget: 4 GB")
    ax.set(xlabel="time since the stage started (s)", ylabel="summed RSS of the process tree (MB)",
           title="Memory of the default stages (summed RSS: an upper bound)", ylim=(0, None))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic.save_figure(OUT_DIR / "memory.png", fig)


if __name__ == "__main__":
    main()
