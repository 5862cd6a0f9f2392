"""The paper-scale training step on a GPU: eager float32 against the fast path, in one run.

The step is the train stage's own (``tmkt.training.loop.Trainer``, TMKT: mixed and event stream through
the shared VGG-SNN, TET, CKA alignment, MAG, MRP; batches assembled and mixed on the CPU, then copied),
on synthetic processed data of N-Caltech101's shape (T = 10, 2 x 48 x 48 frames, 101 classes) with
``presets/ncaltech101.yaml`` (width 1, 4 blocks, B = 120). Variants, each timed in the same process:

- ``eager fp32``: norse's LIF cell per step, contiguous tensors, float32, no compilation (the baseline);
- ``fused fp32``: the fused LIF and channels-last;
- ``fused bf16``: and bfloat16 autocast (``train.precision: bf16``);
- ``fused bf16 compiled``: and ``torch.compile`` of the trunk (``train.compile``).

Per variant: median ms per step over ``--repeats`` steps after ``--warmup`` (compilation happens in the
warm-up), samples/s (two streams of B recordings count as B samples), achieved TFLOP/s (the FLOPs of one
step counted by ``torch.utils.flop_counter`` divided by the median step time), peak GPU memory, and the
estimated time of one N-Caltech101 epoch (7,838 training recordings / B steps). Ratios are against
``eager fp32`` measured in the same run. Writes ``reports/benchmarks/gpu_step.csv`` and ``.png``.

``--tiny`` runs the same code on a small network and batch on the CPU (the tests do; its figures say
nothing about a GPU). Run on a GPU: ``python benchmarks/bench_gpu_step.py --device cuda``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from tmkt import config, layout, presets  # noqa: E402
from tmkt import atomic  # noqa: E402
from bench_loader import write_processed  # noqa: E402
from tmkt.data.processed import ProcessedData  # noqa: E402
from tmkt.training.loop import EpochLog, Trainer  # noqa: E402

OUT_DIR = layout.REPORTS / "benchmarks"
NCALTECH101_TRAIN = 7838  #: training recordings of N-Caltech101 at a 90 % split (He et al.)
#: Every variant's surrogate: norse's triangle, which the eager baseline (norse's cell) has; the preset's QGateGrad
#: exists in the fused LIF only, and a surrogate costs one element-wise operation of the backward either way.
SURROGATE = {"model.surrogate": "triangle", "model.surrogate_alpha": 1.0}
VARIANTS: dict[str, dict] = {
    "eager fp32": {"model.lif": "norse", "train.channels_last": False, "train.precision": "fp32", "train.compile": False},
    "fused fp32": {"model.lif": "fused", "train.channels_last": True, "train.precision": "fp32", "train.compile": False},
    "fused bf16": {"model.lif": "fused", "train.channels_last": True, "train.precision": "bf16", "train.compile": False},
    "fused bf16 compiled": {"model.lif": "fused", "train.channels_last": True, "train.precision": "bf16",
                            "train.compile": True},
}
TINY = {"model.width": 0.0625, "model.blocks": 2, "data.time_bins": 3, "train.batch_size": 4}


def time_variant(name: str, overrides: dict, data: ProcessedData, device: str, warmup: int, repeats: int,
                 folder: Path) -> dict:
    params = config.load(None, overrides | {"base.device": device, "scarcity.event_fraction": 1.0})
    trainer = Trainer(params, data, folder / name.replace(" ", "_"), seed=42)
    cuda = trainer.device.type == "cuda"
    batch = params.train.batch_size
    rng = np.random.default_rng(0)
    gen = torch.Generator().manual_seed(0)
    rows = trainer.train_events.index.to_numpy()
    log = EpochLog(data.time_steps)

    def step(i: int) -> None:
        trainer._step(rng.choice(rows, batch, replace=len(rows) < batch), 0, i, rng, gen, log)

    for i in range(warmup):
        step(i)
    with FlopCounterMode(display=False) as counter:
        step(warmup)
    flops = counter.get_total_flops()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        step(warmup + 1 + i)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    return dict(
        variant=name, device=str(trainer.device), gpu=torch.cuda.get_device_name() if cuda else "",
        width=params.model.width, blocks=params.model.blocks, time_steps=data.time_steps,
        size=data.frame_size[0], batch=batch, repeats=repeats, ms_per_step=round(1e3 * step_s, 2),
        ms_per_step_min=round(1e3 * min(times), 2), samples_per_s=round(batch / step_s, 1),
        tflops_per_s=round(flops / step_s / 1e12, 3), gflops_per_step=round(flops / 1e9, 2),
        peak_memory_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else float("nan"),
        ncaltech101_epoch_s=round(NCALTECH101_TRAIN / batch * step_s, 1),
    )


def write_plot(rows: list[dict], path: Path) -> None:
    names = [r["variant"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    bars = ax.bar(names, [r["samples_per_s"] for r in rows], color=[f"C{i}" for i in range(len(rows))])
    for bar, r in zip(bars, rows):
        ax.annotate(f"{r['speedup']:.2f}×, {r['tflops_per_s']:.2f} TFLOP/s\nepoch {r['ncaltech101_epoch_s']:.0f} s",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 3), textcoords="offset points")
    ax.set_ylabel("training samples / s (median step)")
    ax.set_title(f"TMKT training step, VGG-SNN width {rows[0]['width']:g}, T={rows[0]['time_steps']}, "
                 f"{rows[0]['size']}×{rows[0]['size']}, B={rows[0]['batch']} ({rows[0]['gpu'] or rows[0]['device']})",
                 fontsize=8)
    ax.margins(y=0.25)
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    atomic.save_figure(path, fig)
    plt.close(fig)


def run(device: str, tiny: bool, warmup: int, repeats: int, out_dir: Path, variants: list[str]) -> list[dict]:
    base = presets.overrides("ncaltech101") | SURROGATE | (TINY if tiny else {})
    time_bins = base["data.time_bins"]
    size = 16 if tiny else base["data.height"]
    with tempfile.TemporaryDirectory() as tmp:
        classes = 4 if tiny else 101
        data = write_processed(Path(tmp), 10 * classes, classes, time_bins, size)
        base |= {"data.height": size, "data.width": size}
        rows = [time_variant(name, base | VARIANTS[name], data, device, warmup, repeats, Path(tmp)) for name in variants]
    reference = rows[0]["ms_per_step"]
    for r in rows:
        r["speedup"] = round(reference / r["ms_per_step"], 3)
        print(f"{r['variant']}: {r['ms_per_step']} ms/step, {r['samples_per_s']} samples/s, "
              f"{r['tflops_per_s']} TFLOP/s, peak {r['peak_memory_gib']} GiB, {r['speedup']}x, "
              f"N-Caltech101 epoch ~{r['ncaltech101_epoch_s']} s")
    atomic.write_csv(out_dir / "gpu_step.csv", rows)
    write_plot(rows, out_dir / "gpu_step.png")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (the benchmark) or cpu (with --tiny)")
    parser.add_argument("--tiny", action="store_true", help="a small network and batch (a CPU check of the script)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (compilation happens here)")
    parser.add_argument("--repeats", type=int, default=20, help="timed steps per variant")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for gpu_step.csv and .png")
    args = parser.parse_args()
    run(args.device, args.tiny, args.warmup, args.repeats, args.out, args.variants)
    print(f"wrote {args.out / 'gpu_step.csv'} and {args.out / 'gpu_step.png'}")


if __name__ == "__main__":
    main()
