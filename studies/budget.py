"""How long must a run train? The default's training budget, chosen on the validation split only.

Trains every headline method (``event_only``, ``finetune``, ``he2024``, ``tmkt``) once (seed ``base.seeds[0]``) at
each candidate length (``--lengths``, in epochs of ``train.steps_per_epoch`` steps), each run with its own
warm-up and cosine schedule, and records the validation accuracy after every epoch. The budget comes first and the
tuning of each method's knobs (``studies/tuning.py``) second, at the chosen budget; so this study trains every
method with one untuned setting, :data:`UNTUNED` (one learning rate, one classifier head per stream), everything
else at the values of ``params.yaml``. The test split is read by the runs (``tmkt.training.loop`` always reads it once at the end) but never
by this study.

A longer run keeps improving for two reasons: more updates, and a learning rate that anneals later. Only runs of
different lengths, each annealed to zero, tell them apart, which is why the study trains several lengths rather
than one long run. The chosen budget is the shortest length whose best validation accuracy lies within
``--tolerance`` of the best any length reached, for every method, and whose runs pass the convergence check of
``tmkt.results.convergence`` (the last quarter of epochs improves by at most ``figures.convergence_tolerance``, the
pipeline's own check).

Writes ``reports/studies/budget_curves.csv`` (one row per run and epoch), ``budget.csv`` (one row per run: best
validation accuracy, its epoch, the last-quarter gain, and the chosen budget) and ``budget.png`` atomically. Runs
are checkpointed under ``data/studies/budget`` (an interrupted study resumes).
Run: ``python studies/budget.py [--lengths 10 20 40 50 60 75] [--tolerance 0.01]``; ``--from-histories`` summarises
the runs already in ``data/studies/budget`` without training (after a change of the criterion, say).
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from tmkt import atomic, config, layout# noqa: E402
from tmkt.results.convergence import last_quarter_gain, last_quarter_start  # noqa: E402
from tmkt.plots.style import METHOD_COLORS, plain_log_axis  # noqa: E402
from tmkt.data.processed import ProcessedData  # noqa: E402
from tmkt.training.runs import Run, train_runs  # noqa: E402

METHODS = ("event_only", "finetune", "he2024", "tmkt")
#: The setting of every run of this study: chosen before any tuning, the same for every method.
UNTUNED = {"train.lr": 0.01, "model.heads": "separate"}
WORK_DIR = layout.ROOT / "data/studies/budget"
OUT_DIR = layout.ROOT / "reports/studies"


def plan(lengths: list[int], seed: int) -> list[tuple[str, int, Run]]:
    """(method, epochs, run) for every method and candidate length."""
    out = []
    for method in METHODS:
        for epochs in lengths:
            params = config.load(None, UNTUNED | {"train.method": method, "train.epochs": epochs})
            out.append((method, epochs, Run(params, seed, WORK_DIR / f"{method}-{epochs}epochs")))
    return out


def summarise(curves: pd.DataFrame, tolerance: float, convergence_tolerance: float) -> pd.DataFrame:
    """One row per (method, length): best validation accuracy and its epoch, the last-quarter gain, whether the run
    is within ``tolerance`` of the method's best length, and whether it converged (``convergence_tolerance``)."""
    rows = []
    for (method, epochs), run in curves.groupby(["method", "epochs"], sort=False):
        acc = run.sort_values("epoch")["val_acc"].to_numpy()
        rows.append(dict(method=method, epochs=epochs, best_val_acc=float(acc.max()), best_epoch=int(acc.argmax()) + 1,
                         last_quarter_gain=last_quarter_gain(acc)))
    summary = pd.DataFrame(rows)
    best = summary.groupby("method", sort=False)["best_val_acc"].transform("max")
    summary["within_tolerance"] = summary["best_val_acc"] >= best - tolerance
    summary["converged"] = summary["last_quarter_gain"] <= convergence_tolerance
    return summary


def choose_budget(summary: pd.DataFrame) -> int:
    """The shortest length at which every method is within tolerance of its best and converged."""
    ok = (summary["within_tolerance"] & summary["converged"]).groupby(summary["epochs"]).all()
    if not ok.any():
        raise RuntimeError(f"no candidate length suits every method:\n{summary.to_string()}")
    return int(ok[ok].index.min())


def budget_figure(curves: pd.DataFrame, summary: pd.DataFrame, budget: int) -> plt.Figure:
    """Left: best validation accuracy against the run's length, per method. Right: the curves of the chosen length."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for method in METHODS:
        color = METHOD_COLORS.get(method, "k")
        rows = summary[summary["method"] == method]
        left.plot(rows["epochs"], 100 * rows["best_val_acc"], "o-", color=color, label=method)
        run = curves[(curves["method"] == method) & (curves["epochs"] == budget)]
        right.plot(run["epoch"], 100 * run["val_acc"], color=color, lw=1.2, label=method)
    left.axvline(budget, color="k", ls="--", lw=1, label=f"chosen: {budget} epochs")
    left.set(xlabel="epochs of the run (each with its own cosine schedule, log scale)",
             ylabel="best validation accuracy (%)", title="Longer runs, one seed")
    plain_log_axis(left, "x", ticks=sorted(summary["epochs"].unique()))
    right.axvspan(last_quarter_start(budget) + 0.5, budget + 0.5, color="0.9", label="last quarter")
    right.set(xlabel="epoch", ylabel="validation accuracy (%)", title=f"Runs of the chosen {budget} epochs")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 20, 40, 50, 60, 75], help="candidate epochs")
    parser.add_argument("--tolerance", type=float, default=0.01, help="within this of the best length (fraction)")
    parser.add_argument("--workers", type=int, default=2, help="runs trained at once (one per core)")
    parser.add_argument("--from-histories", action="store_true", help="summarise the runs there, train nothing")
    args = parser.parse_args()

    params = config.load()
    jobs = plan(sorted(args.lengths), params.base.seeds[0])
    if not args.from_histories:
        train_runs([run for *_, run in jobs], ProcessedData.load(layout.PROCESSED), args.workers, progress=False)
    curves = pd.concat(
        [pd.read_csv(run.folder / "history.csv")[["epoch", "val_acc"]].assign(method=method, epochs=epochs)
         for method, epochs, run in jobs],
        ignore_index=True,
    )
    summary = summarise(curves, args.tolerance, params.figures.convergence_tolerance)
    atomic.write_csv(OUT_DIR / "budget_curves.csv", curves[["method", "epochs", "epoch", "val_acc"]].to_dict("records"))
    budget = choose_budget(summary)  # after the curves are written: a failed choice keeps them
    summary["budget_epochs"], summary["tolerance"] = budget, args.tolerance
    summary["convergence_tolerance"] = params.figures.convergence_tolerance
    summary["setting"] = ", ".join(f"{key} = {value}" for key, value in UNTUNED.items())
    atomic.write_csv(OUT_DIR / "budget.csv", summary.to_dict("records"))
    atomic.save_figure(OUT_DIR / "budget.png", budget_figure(curves, summary, budget))
    print(summary.to_markdown(index=False))
    print(f"chosen budget: {budget} epochs x {params.train.steps_per_epoch} steps")


if __name__ == "__main__":
    main()
