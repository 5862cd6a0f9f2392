"""GPU acceptance: what a lent GPU must show before anyone trusts a paper-scale run on it, in one script.

1. **The step** (``bench_gpu_step.py``): the paper-scale N-Caltech101 step, eager float32 against the fast path
   (fused LIF, bf16, compiled), with its peak memory; written to ``gpu_step.csv`` / ``.png`` as that benchmark does.
2. **Every preset, one short epoch**: a tiny tree in the dataset's real file formats (the trees of
   ``tests/test_presets.py``) converted with the preset and trained for ``--steps`` steps of the preset's own
   network, recipe and batch on the device: seconds, peak memory, the accuracy being finite.
3. **torchrun**: one process of ``python -m tmkt.training.torchrun`` on the N-Caltech101 tree, the event-only
   cell's three seeds (the data-parallel entry point; more processes need more GPUs).

Writes ``reports/benchmarks/gpu_acceptance.md`` (the table the README embeds) and ``gpu_acceptance.csv``; every
step's failure is recorded as such and the script goes on, so the report says what passed. ``--tiny`` runs the
same steps on the CPU with a small network (``tests/test_benchmarks.py`` does; its numbers say nothing about a
GPU). On a GPU: ``python benchmarks/gpu_acceptance.py`` (about five minutes on an H100-class GPU, estimated).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the trees' file-format writers
import bench_gpu_step  # noqa: E402
from tests.test_presets import TREES  # noqa: E402  (the tests' tiny trees in each dataset's real formats)

from tmkt import atomic, config, layout, presets# noqa: E402
from tmkt.data.convert import convert  # noqa: E402
from tmkt.data.processed import ProcessedData  # noqa: E402
from tmkt.training.loop import Trainer  # noqa: E402

OUT_DIR = layout.REPORTS / "benchmarks"
#: What --tiny shrinks (a CPU check of the script, not a measurement).
TINY = {"model.width": 0.0625, "model.blocks": 2, "train.batch_size": 4, "train.eval_batch_size": 16}


def short_epoch(name: str, device: str, steps: int, tiny: bool, work: Path) -> dict:
    """Convert preset ``name``'s tiny tree and train ``steps`` steps on ``device``: seconds, peak memory, accuracy."""
    raw = work / name / "raw"
    TREES[name](raw, np.random.default_rng(0))
    overrides = presets.overrides(name) | {"data.raw_dir": str(raw), "base.device": device, "train.epochs": 1,
                                           "train.steps_per_epoch": steps, "train.warmup_epochs": 0,
                                           "base.parallel_runs": 1} | (TINY if tiny else {})
    params = config.load(None, overrides)
    data = ProcessedData.load(convert(params, work / name / "processed", workers=1, progress=False).out_dir)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    metrics = Trainer(params, data, work / name / "run", seed=42).fit(progress=False)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")
    return dict(check=f"preset {name}: {steps} steps", seconds=round(seconds, 2), peak_gib=round(peak, 2),
                result=f"test accuracy {metrics['test_acc']:.3f} (tiny data: a smoke check)",
                passed=bool(np.isfinite(metrics["test_acc"])))


def torchrun_one_process(device: str, tiny: bool, work: Path) -> dict:
    """``torchrun --nproc_per_node=1 -m tmkt.training.torchrun`` on the N-Caltech101 tree (converted above)."""
    overrides = presets.overrides("ncaltech101") | {"data.raw_dir": str(work / "ncaltech101" / "raw"),
                                                      "base.device": device, "train.epochs": 1,
                                                      "train.steps_per_epoch": 2, "train.warmup_epochs": 0} | (
        TINY if tiny else {})
    params_file = work / "torchrun_params.yaml"
    raw = config.apply_overrides(yaml.safe_load(layout.PARAMS.read_text()), overrides)
    params_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    command = ["torchrun", "--standalone", "--nproc_per_node=1", "-m", "tmkt.training.distributed",
               "--params", str(params_file), "--axis", "method", "--cell", "event_only",
               "--processed", str(work / "ncaltech101" / "processed"), "--reports-root", str(work / "torchrun")]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - start
    last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or ["no output"])[-1]
    return dict(check="torchrun, 1 process, 3 seeds", seconds=round(seconds, 2), peak_gib=float("nan"),
                result=last[:160], passed=done.returncode == 0)


def step_benchmark(device: str, tiny: bool, out: Path) -> list[dict]:
    """``bench_gpu_step`` in this process (its own files in ``out``), one row per variant."""
    rows = bench_gpu_step.run(device, tiny=tiny, warmup=1 if tiny else 3, repeats=2 if tiny else 20, out_dir=out,
                              variants=list(bench_gpu_step.VARIANTS))
    return [dict(check=f"step: {r['variant']}", seconds=round(r["ms_per_step"] / 1e3, 4),
                 peak_gib=r['peak_memory_gib'],
                 result=f"{r['speedup']:.2f}x eager fp32's speed", passed=True)
            for r in rows]


def run(device: str, tiny: bool, steps: int, out: Path) -> list[dict]:
    """Every check, in order; a failing check is recorded, not raised."""
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        checks = [("step benchmark", lambda: step_benchmark(device, tiny, out))]
        checks += [(f"preset {name}", lambda name=name: [short_epoch(name, device, steps, tiny, work)])
                   for name in presets.names()]
        checks += [("torchrun", lambda: [torchrun_one_process(device, tiny, work)])]
        for label, check in checks:
            try:
                rows += check()
            except Exception as exc:  # noqa: BLE001  the report says what failed and goes on
                rows.append(dict(check=label, seconds=float("nan"),
                                 peak_gib=float("nan"), result=f"failed: {type(exc).__name__}: {exc}"[:200],
                                 passed=False))
    atomic.write_csv(out / "gpu_acceptance.csv", rows)
    name = torch.cuda.get_device_name() if device.startswith("cuda") and torch.cuda.is_available() else "CPU (--tiny)"
    lines = [f"GPU acceptance on {name}, torch {torch.__version__}: {sum(r['passed'] for r in rows)} of {len(rows)} "
             "checks passed.", "", "| check | seconds | peak GiB | result | passed |", "|---|---:|---:|---|---|"]
    lines += [f"| {r['check']} | {r['seconds']} | {r['peak_gib']} | {r['result']} | {r['passed']} |" for r in rows]
    atomic.write_text(out / "gpu_acceptance.md", "\n".join(lines) + "\n")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (the acceptance) or cpu (with --tiny)")
    parser.add_argument("--tiny", action="store_true", help="a small network and batch (a CPU check of the script)")
    parser.add_argument("--steps", type=int, default=10, help="training steps of each preset's short epoch")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder of the report")
    args = parser.parse_args()
    rows = run(args.device, args.tiny, args.steps, args.out)
    print((args.out / "gpu_acceptance.md").read_text())
    sys.exit(0 if all(r["passed"] for r in rows) else 1)


if __name__ == "__main__":
    main()
