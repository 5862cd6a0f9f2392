"""Training-step time of our time-folded VGG-SNN against a plain norse step-by-step reference and SpikingJelly.

Ours (:mod:`tmkt.method.models`): convolution, BN and pooling run once on ``(T·B, C, H, W)``; only the LIF
layers loop over ``t``. Two variants are timed: the configuration ``params.yaml`` trains with (``model.lif``,
by default the fused LIF of one autograd node per layer, and ``train.channels_last``), and the same network
with norse's cell in the LIF loop and no channels-last layout (the step before the fused LIF). Reference:
the same network with the same weights run the textbook norse way — a Python loop over ``t`` around the
whole network; at every step conv -> BN -> ``LIFBoxCell`` on ``(B, ...)`` with an explicit state per layer,
then pooling and the event head. The peer a user might pick instead: the same time-folded network with
SpikingJelly 2.0's multi-step ``LIFNode`` (its torch code path; same tau, threshold, hard reset with the
reset detached; its own surrogate, ``PiecewiseQuadratic``, since it has no triangle), timed only when
``spikingjelly`` is installed (``pip install -r benchmarks/requirements.txt``). Every net takes the same
training step: per-step cross entropy ``mean_t CE(O_t, y)``, backward, AdamW (for the ``params.yaml``
configuration the Trainer's fused AdamW kernel, for the others torch's default).

Equivalence check before timing: in training mode BN normalises with the statistics of its batch — all
``T·B`` frames in ours, the ``B`` frames of one step in the reference — so the two compute different
functions there. The check therefore runs both in eval mode, where BN uses the same running statistics
(first set to one batch's statistics so that the net spikes), and requires the loss and the gradient of
the first convolution to agree (allclose; for SpikingJelly, whose surrogate differs, the loss only), in the
contiguous layout: channels-last convolutions round differently, and a rounding difference at a threshold
flips a spike. Timing
then runs all in training mode, each with its own BN statistics (same cost, same shapes); the nets take
turns step by step, so that a change in machine load hits all alike (the CSV records the 1-minute load
average: on a shared machine, compare only rows taken at low load). The verdict per net and
configuration is the median of the paired ratios net / reference of step times taken back to back, with a
95 % bootstrap interval: the net is faster only if the whole interval lies below 1; its speed-up over
the reference is the inverse. Timing includes ``TwoStreamSNN``'s MAG/MRP heads and spike-rate
bookkeeping, which the reference does not compute.

Writes ``reports/benchmarks/snn_step.csv``, ``.png`` and ``.md`` (the README's table; atomically). Run:
``python benchmarks/bench_snn_step.py [--large] [--repeats 21] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from norse.torch.module.lif_box import LIFBoxCell  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from tmkt import atomic  # noqa: E402
from tmkt import layout  # noqa: E402
from tmkt import config  # noqa: E402
from tmkt.method.models import TimeFolded, TwoStreamSNN, build_model  # noqa: E402
from tmkt.method.neurons import MultiStepLIF  # noqa: E402
from tmkt.training.optim import adamw  # noqa: E402

OUT_DIR = layout.REPORTS / "benchmarks"


@dataclass(frozen=True)
class Case:
    name: str
    width: float
    blocks: int
    time_steps: int
    size: int
    batch: int
    num_classes: int


def default_case() -> Case:
    """The configuration of ``params.yaml`` (model width and blocks, T, frame size, batch)."""
    p = config.load()
    name = (f"params.yaml: width {p.model.width:g}, {p.model.blocks} blocks, T={p.data.time_bins}, "
            f"{p.data.height}×{p.data.width}, B={p.train.batch_size}")
    return Case(name, p.model.width, p.model.blocks, p.data.time_bins, p.data.height, p.train.batch_size, 10)


SMALL = default_case()
LARGE = Case("width 0.25, 4 blocks, T=10, 48×48, B=16", 0.25, 4, 10, 48, 16, 101)


def event_path(model: TwoStreamSNN, convert: Callable[[nn.Module], nn.Module]) -> tuple[list[nn.Module], nn.Linear]:
    """The trunk layers of a deep copy of ``model``, each passed through ``convert``, and the copy's event head."""
    twin = copy.deepcopy(model)
    return [convert(layer) for layer in twin.trunk.layers], twin.head_event


class SpikingJellyNet(nn.Module):
    """A copy of a VGG-SNN ``TwoStreamSNN`` (event head) whose LIF layers are SpikingJelly multi-step LIFNodes."""

    def __init__(self, model: TwoStreamSNN) -> None:
        from spikingjelly.activation_based import neuron, surrogate

        def convert(layer: nn.Module) -> nn.Module:
            if not isinstance(layer, MultiStepLIF):
                return layer  # time-folded conv+BN or pooling, as in ours
            return neuron.LIFNode(tau=layer.tau, v_threshold=layer.v_th, v_reset=0.0, detach_reset=True,
                                  surrogate_function=surrogate.PiecewiseQuadratic(), step_mode="m")

        super().__init__()
        stages, self.head = event_path(model, convert)
        self.stages = nn.Sequential(*stages)

    def forward(self, x: Tensor) -> Tensor:
        from spikingjelly.activation_based import functional

        functional.reset_net(self)  # SpikingJelly neurons keep their state between calls
        return self.head(self.stages(x).flatten(2))


class StepByStepReference(nn.Module):
    """A copy of a VGG-SNN ``TwoStreamSNN`` (event head) run one time step at a time through norse cells."""

    def __init__(self, model: TwoStreamSNN) -> None:
        def convert(layer: nn.Module) -> nn.Module:
            if isinstance(layer, TimeFolded):
                return layer.module  # conv+BN or pooling, applied to (B, C, H, W)
            if isinstance(layer, MultiStepLIF):
                return layer.cell  # norse LIFBoxCell with the same parameters
            raise TypeError(f"unexpected VGG-SNN layer {type(layer).__name__}")

        super().__init__()
        stages, self.head = event_path(model, convert)
        self.stages = nn.ModuleList(stages)

    def forward(self, x: Tensor) -> Tensor:
        states: list = [None] * len(self.stages)
        logits = []
        for frame in x:
            h = frame
            for i, stage in enumerate(self.stages):
                if isinstance(stage, LIFBoxCell):
                    h, states[i] = stage(h, states[i])
                else:
                    h = stage(h)
            logits.append(self.head(h.flatten(1)))
        return torch.stack(logits)


def per_step_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(logits.flatten(0, 1), labels.repeat(logits.shape[0]))


def ours_logits(model: TwoStreamSNN, x: Tensor) -> Tensor:
    return model(x, head="event").logits


def reference_logits(reference: nn.Module, x: Tensor) -> Tensor:
    return reference(x)


def calibrate_batch_norm(model: nn.Module, x: Tensor) -> None:
    """Set every BN's running statistics to those of ``x`` (so that the net spikes in eval mode)."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
        model.train()
        model(x)
    for bn in bns:
        bn.momentum = 0.1


def check_equivalence(net: nn.Module, forward: Callable, reference: StepByStepReference, x: Tensor,
                      labels: Tensor, gradient: bool = True) -> float:
    """Eval-mode loss (and first-conv gradient) of ``net`` and the reference must agree; returns |loss difference|."""
    losses, grads = [], []
    for model, run in ((net, forward), (reference, reference_logits)):
        model.eval()
        model.zero_grad()
        loss = per_step_cross_entropy(run(model, x), labels)
        loss.backward()
        first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        losses.append(loss.detach())
        grads.append(first_conv.weight.grad.detach().clone())
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=1e-6)
    if gradient:
        torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)
    return abs(losses[0] - losses[1]).item()


def time_training_steps(nets: dict[str, tuple[nn.Module, Callable]], x: Tensor, labels: Tensor, warmup: int,
                        repeats: int) -> dict[str, list[float]]:
    """Seconds per training step of each named ``(net, forward)``, the nets taking turns step by step
    (so that a change in machine load hits both alike)."""
    train = config.section("train", lr=1e-4, weight_decay=0.01)
    optimizers = {name: adamw(list(net.parameters()), train) if name == DEFAULT  # as the Trainer steps
                  else torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=0.01) for name, (net, _) in nets.items()}
    times: dict[str, list[float]] = {name: [] for name in nets}
    for i in range(warmup + repeats):
        for name, (net, forward) in nets.items():
            net.train()
            _synchronize(x.device)
            start = time.perf_counter()
            loss = per_step_cross_entropy(forward(net, x), labels)
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[name].step()
            _synchronize(x.device)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def paired_ratio(ours: list[float], reference: list[float], resamples: int = 2000) -> tuple[float, float, float]:
    """Median of the per-turn ratios ``ours_i / reference_i`` (steps taken back to back, so a change in load
    cancels) and a 95 % bootstrap interval of that median: above 1 means ours is slower."""
    ratios = np.asarray(ours) / np.asarray(reference)
    draws = np.random.default_rng(0).choice(ratios, size=(resamples, len(ratios)))
    low, high = np.quantile(np.median(draws, axis=1), [0.025, 0.975])
    return float(np.median(ratios)), float(low), float(high)


REFERENCE = "norse step-by-step"
DEFAULT = "ours: params.yaml (fused LIF, channels-last)"


def run_case(case: Case, device: torch.device, warmup: int, repeats: int) -> list[dict]:
    torch.manual_seed(0)
    params = config.load()
    cfg = params.model.model_copy(update=dict(arch="vgg_snn", width=case.width, blocks=case.blocks))
    generator = torch.Generator().manual_seed(1)
    x = (torch.rand(case.time_steps, case.batch, 2, case.size, case.size, generator=generator) * 2).to(device)
    labels = torch.randint(case.num_classes, (case.batch,), generator=generator).to(device)
    plain = build_model(cfg.model_copy(update={"lif": "norse"}), case.num_classes, case.time_steps,
                        (case.size, case.size)).to(device)
    calibrate_batch_norm(plain, x)
    with torch.no_grad():
        plain.eval()
        rates = plain(x).spike_rates
    if max(rates.values()) == 0:
        raise RuntimeError("the equivalence check would be void: no layer spikes in eval mode")
    reference = StepByStepReference(plain)  # deep copies: same weights, same BN statistics
    default = copy.deepcopy(plain)
    for lif in (m for m in default.modules() if isinstance(m, MultiStepLIF)):
        lif.backend = cfg.lif
    nets = {DEFAULT: (default, ours_logits), "ours: norse LIF, contiguous": (plain, ours_logits)}
    try:
        nets["SpikingJelly 2.0 LIFNode (torch)"] = (SpikingJellyNet(plain), reference_logits)
    except ImportError:
        print("spikingjelly is not installed (pip install -r benchmarks/requirements.txt): not timed")
    # The same function: checked in the contiguous layout. Channels-last convolutions round differently, and
    # a rounding difference at a threshold flips a spike (a few % of the first-layer gradient in --large).
    loss_diff = {name: check_equivalence(net, forward, reference, x, labels, gradient=not name.startswith("Spiking"))
                 for name, (net, forward) in nets.items()}
    if params.train.channels_last:
        nets[DEFAULT] = (default.to(memory_format=torch.channels_last), ours_logits)
    nets[REFERENCE] = (reference, reference_logits)
    timed = time_training_steps(nets, x, labels, warmup, repeats)
    rows = []
    for implementation, times in timed.items():
        ratio, low, high = paired_ratio(times, timed[REFERENCE])
        if implementation != REFERENCE:
            verdict = "faster" if high < 1 else "slower" if low > 1 else "no measurable difference"
            print(f"{case.name} | {implementation} / reference, paired step-time ratio {ratio:.3f} "
                  f"(95 % CI {low:.3f}-{high:.3f}): {verdict}, speed-up {1 / ratio:.2f}x")
        step = statistics.median(times)
        rows.append(
            dict(
                case=case.name, implementation=implementation, device=str(device), width=case.width,
                blocks=case.blocks, time_steps=case.time_steps, size=case.size, batch=case.batch,
                threads=torch.get_num_threads(), repeats=repeats, step_s_median=round(step, 5),
                step_s_min=round(min(times), 5), samples_per_s=round(case.batch / step, 3),
                eval_loss_abs_diff=loss_diff.get(implementation, 0.0), load_avg_1min=round(os.getloadavg()[0], 2),
                paired_ratio_median=round(ratio, 4), paired_ratio_ci_low=round(low, 4),
                paired_ratio_ci_high=round(high, 4), speedup=round(1 / ratio, 3),
                speedup_ci_low=round(1 / high, 3), speedup_ci_high=round(1 / low, 3),
            )
        )
        print(f"{case.name} | {implementation}: {step:.4f} s/step, {case.batch / step:.1f} samples/s")
    return rows


def write_plot(rows: list[dict], path: Path) -> None:
    cases = list(dict.fromkeys(r["case"] for r in rows))
    implementations = list(dict.fromkeys(r["implementation"] for r in rows))
    row = {(r["case"], r["implementation"]): r for r in rows}
    fig, ax = plt.subplots(figsize=(3.4 + 4.0 * len(cases), 4.6))
    bar = 0.8 / len(implementations)
    for j, implementation in enumerate(implementations):
        for i, case in enumerate(cases):
            r = row.get((case, implementation))
            if r is None:
                continue
            x = i + (j - (len(implementations) - 1) / 2) * bar
            ax.bar(x, r["samples_per_s"], bar, color=f"C{j}", label=implementation if i == 0 else None)
            if implementation != REFERENCE:
                ax.annotate(f"{r['speedup']:.2f}×\n({r['speedup_ci_low']:.2f}–{r['speedup_ci_high']:.2f})",
                            (x, r["samples_per_s"]), ha="center", va="bottom", xytext=(0, 3),
                            textcoords="offset points", fontsize=7)
    ax.set_xticks(range(len(cases)), [c.replace(", B", "\nB") for c in cases], fontsize=8)
    ax.set_xlabel("configuration (VGG-SNN, one AdamW training step); labels: speed-up over the reference, 95 % CI")
    ax.set_ylabel("training samples / s (median step, log scale)")
    ax.set_title(f"Training-step throughput ({rows[0]['device']}, {rows[0]['threads']} threads)", fontsize=9)
    ax.set_yscale("log")
    ax.margins(y=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    atomic.save_figure(path, fig)
    plt.close(fig)


def write_markdown(rows: list[dict], path: Path) -> None:
    """The README's table: per configuration and net, samples/s and the speed-up over the reference."""
    lines = ["| configuration | implementation | samples/s | speed-up over the reference (95 % CI) |", "|---|---|---:|---|"]
    for r in rows:
        speedup = "1 (reference)" if r["implementation"] == REFERENCE else (
            f"**{r['speedup']:.2f}×** ({r['speedup_ci_low']:.2f}–{r['speedup_ci_high']:.2f})")
        lines.append(f"| {r['case']} | {r['implementation']} | {r['samples_per_s']:.0f} | {speedup} |")
    load = ", ".join(f"{v:.2f}" for v in dict.fromkeys(r["load_avg_1min"] for r in rows))
    lines += ["", f"{rows[0]['device']}, {rows[0]['threads']} torch threads, {rows[0]['repeats']} paired steps per "
              f"net; 1-minute load average {load} (`reports/benchmarks/snn_step.csv`)."]
    atomic.write_text(path, "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--large", action="store_true", help=f"also time: {LARGE.name}")
    parser.add_argument("--repeats", type=int, default=21, help="timed steps per implementation")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=config.load().base.num_threads,
                        help="torch CPU threads (default: base.num_threads, what each training process uses)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for case in (SMALL, LARGE) if args.large else (SMALL,):
        rows += run_case(case, device, args.warmup, args.repeats)
    atomic.write_csv(OUT_DIR / "snn_step.csv", rows)
    write_plot(rows, OUT_DIR / "snn_step.png")
    write_markdown(rows, OUT_DIR / "snn_step.md")
    print(f"wrote {OUT_DIR / 'snn_step.csv'}, .png and .md")


if __name__ == "__main__":
    main()
