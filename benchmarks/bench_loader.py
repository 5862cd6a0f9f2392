"""Batch assembly from memory-mapped processed data at N-Caltech101's size, against the training step it feeds.

The train stage assembles every batch on the CPU in the training process: B recordings gathered from the
memory-mapped ``events.npy`` (float16, N x T x 2 x H x W), B paired images drawn and expanded to the
appearance sequence, and the time-step mixup of the two (``tmkt.method.mixup``). This benchmark writes
synthetic processed data of N-Caltech101's shape (8,709 recordings, T = 10, 2 x 48 x 48; 1.6 GB of
frames) to a temporary folder and times that assembly for B = 120, first while the file is read from
disk for the first time (``cold``: the pages are dropped with ``posix_fadvise`` where the system allows
it) and then from the page cache (``warm``).

The verdict is the loader's batches per second against the step rate it must sustain: the GPU target of
an N-Caltech101 epoch in 15 s (7,838 recordings / 120 = 66 steps: 4.4 steps/s) and, when a
``gpu_step.csv`` from ``bench_gpu_step.py`` exists, the measured fast-path step. A ratio above 1 means
the loader keeps up with one process. Writes ``reports/benchmarks/loader.csv``, ``.png`` and ``.md`` (the README's table).
Run: ``python benchmarks/bench_loader.py [--tiny]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from tmkt import config, layout  # noqa: E402
from tmkt import atomic  # noqa: E402
from tmkt.data.datasets.base import Item  # noqa: E402
from tmkt.data.processed import ProcessedData  # noqa: E402
from tmkt.data.splits import build_manifest  # noqa: E402
from tmkt.method.mixup import mix  # noqa: E402

OUT_DIR = layout.REPORTS / "benchmarks"
FULL = dict(recordings=8709, classes=101, time_bins=10, size=48, batch=120)
TINY = dict(recordings=200, classes=4, time_bins=3, size=16, batch=8)
TARGET_EPOCH_S, TRAIN_RECORDINGS = 15.0, 7838


def write_processed(folder: Path, recordings: int, classes: int, time_bins: int, size: int) -> ProcessedData:
    """Synthetic processed data, written in chunks so that the frames never sit in memory whole."""
    rng = np.random.default_rng(0)
    items = [Item(id=f"{i:05d}", class_name=f"c{i % classes:03d}", pair_key=f"{i:05d}") for i in range(recordings)]
    build_manifest(items, items, config.section("data")).to_csv(folder / layout.MANIFEST, index=False)
    frames = np.lib.format.open_memmap(folder / layout.EVENT_FRAMES, mode="w+", dtype=np.float16,
                                       shape=(recordings, time_bins, 2, size, size))
    for start in range(0, recordings, 512):
        stop = min(start + 512, recordings)
        frames[start:stop] = (rng.random((stop - start, time_bins, 2, size, size)) < 0.1).astype(np.float16)
    frames.flush()
    del frames
    np.save(folder / layout.IMAGE_VALUES, rng.integers(0, 256, (recordings, size, size), dtype=np.uint8))
    (folder / layout.META).write_text(json.dumps(dict(dataset="synthetic", classes=[f"c{k:03d}" for k in range(classes)])))
    return ProcessedData.load(folder)


def drop_page_cache(path: Path) -> bool:
    """Ask the kernel to forget the file's cached pages (True if it could be asked)."""
    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return True


def assemble(data: ProcessedData, rows: np.ndarray, rng: np.random.Generator, gen: torch.Generator) -> torch.Tensor:
    """One training batch as the train stage assembles it: recordings, paired images, time-step mixup."""
    labels = data.manifest.loc[rows, "label"].to_numpy()
    events = data.event_frames(data.manifest.loc[rows, "row"].to_numpy())
    images = data.appearance(data.draw_images(labels, rng))
    return mix("timestep", images, events, 0.5, gen).frames


def time_batches(data: ProcessedData, batch: int, count: int) -> list[float]:
    rng = np.random.default_rng(1)
    gen = torch.Generator().manual_seed(1)
    pool = data.rows("event", "train").index.to_numpy()
    times = []
    for _ in range(count):
        rows = rng.choice(pool, batch, replace=False)
        start = time.perf_counter()
        assemble(data, rows, rng, gen)
        times.append(time.perf_counter() - start)
    return times


def measured_gpu_step(out_dir: Path) -> float | None:
    """Steps/s of the fastest variant in ``gpu_step.csv``, if a GPU run wrote one."""
    path = out_dir / "gpu_step.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    table = table[table["device"].str.startswith("cuda")]
    return float(1e3 / table["ms_per_step"].min()) if len(table) else None


def run(size: dict, batches: int, out_dir: Path) -> list[dict]:
    torch.set_num_threads(1)
    target = TRAIN_RECORDINGS / size["batch"] / TARGET_EPOCH_S
    gpu = measured_gpu_step(out_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = write_processed(Path(tmp), size["recordings"], size["classes"], size["time_bins"], size["size"])
        cold = drop_page_cache(Path(tmp) / layout.EVENT_FRAMES)
        for phase in ("cold" if cold else "first pass", "warm"):
            times = time_batches(data, size["batch"], batches)
            rate = 1 / statistics.median(times)
            rows.append(dict(phase=phase, recordings=size["recordings"], time_steps=size["time_bins"],
                             size=size["size"], batch=size["batch"], batches=batches,
                             ms_per_batch=round(1e3 * statistics.median(times), 2), batches_per_s=round(rate, 2),
                             target_steps_per_s=round(target, 2), ratio_to_target=round(rate / target, 2),
                             gpu_steps_per_s=round(gpu, 2) if gpu else float("nan"),
                             ratio_to_gpu_step=round(rate / gpu, 2) if gpu else float("nan")))
            print(f"{phase}: {rows[-1]['ms_per_batch']} ms per batch of {size['batch']}, {rate:.1f} batches/s "
                  f"({rate / target:.1f}x the {target:.1f} steps/s of a 15 s epoch)")
    atomic.write_csv(out_dir / "loader.csv", rows)
    write_plot(rows, out_dir / "loader.png")
    write_markdown(rows, out_dir / "loader.md")
    return rows


def write_markdown(rows: list[dict], path: Path) -> None:
    """The README's table: batches/s per phase against the step rates to sustain."""
    lines = ["| page cache | ms per batch | batches/s | × the 15 s-epoch step rate | × the measured GPU step |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        gpu = "pending (no GPU run)" if np.isnan(r["gpu_steps_per_s"]) else f"{r['ratio_to_gpu_step']:.1f}"
        lines.append(f"| {r['phase']} | {r['ms_per_batch']:.1f} | {r['batches_per_s']:.1f} | "
                     f"{r['ratio_to_target']:.1f} | {gpu} |")
    r = rows[0]
    lines += ["", f"{r['recordings']:,} memory-mapped recordings of T = {r['time_steps']}, 2×{r['size']}×{r['size']}, "
              f"B = {r['batch']}, one process (`reports/benchmarks/loader.csv`)."]
    atomic.write_text(path, "\n".join(lines) + "\n")


def write_plot(rows: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.bar([r["phase"] for r in rows], [r["batches_per_s"] for r in rows], color=["C0", "C1"][: len(rows)])
    ax.axhline(rows[0]["target_steps_per_s"], color="k", ls="--", lw=1, label="steps/s of a 15 s N-Caltech101 epoch")
    if not np.isnan(rows[0]["gpu_steps_per_s"]):
        ax.axhline(rows[0]["gpu_steps_per_s"], color="C3", ls=":", lw=1, label="measured GPU step (gpu_step.csv)")
    ax.set_ylabel("batches assembled / s (one process)")
    ax.set_title(f"Batch assembly: {rows[0]['recordings']} memory-mapped recordings, T={rows[0]['time_steps']}, "
                 f"{rows[0]['size']}×{rows[0]['size']}, B={rows[0]['batch']}", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic.save_figure(path, fig)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a small array (a quick check of the script)")
    parser.add_argument("--batches", type=int, default=30, help="batches timed per phase")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for loader.csv and .png")
    args = parser.parse_args()
    run(TINY if args.tiny else FULL, args.batches, args.out)
    print(f"wrote {args.out / 'loader.csv'} and {args.out / 'loader.png'}")


if __name__ == "__main__":
    main()
