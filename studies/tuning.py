"""The free knobs of every headline method, tuned with the same validation budget.

Each method gets the same number of configurations (four), trained with the same seeds (the first ``--seeds`` of
``base.seeds``) at the default's budget (``train.epochs`` of ``params.yaml``, chosen by ``studies/budget.py``):

- ``event_only`` and ``finetune``: the learning rate;
- ``he2024``: the learning rate × the classifier heads (``model.heads``: one per stream, He et al.'s code, or one
  shared by both streams);
- ``tmkt``: the classifier heads × the weight of the two reconstructed auxiliary losses
  (``loss.lambda_mag = loss.lambda_mrp``), at the default learning rate.

Per method the configuration with the best mean validation accuracy over the seeds is selected (ties: the first
listed). The test split is read by every run (``tmkt.training.loop`` reads it once at the end) but never by this study:
the CSV it writes holds validation accuracies only. The selected values are the defaults of ``params.yaml``, where
a comment says so.

Writes ``reports/studies/tuning.csv`` (one row per run), ``tuning.md`` (mean ± std per configuration, the selection
marked) and ``tuning.png`` atomically. Runs are checkpointed under ``data/studies/tuning``.
Run: ``python studies/tuning.py [--seeds 2]``.
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from tmkt import config, io, layout  # noqa: E402
from tmkt.results import tables  # noqa: E402
from tmkt.stats import pm  # noqa: E402
from tmkt.plots.style import METHOD_COLORS  # noqa: E402
from tmkt.data.processed import ProcessedData  # noqa: E402
from tmkt.training.runs import Run, train_runs  # noqa: E402

WORK_DIR = layout.ROOT / "data/studies/tuning"
OUT_DIR = layout.ROOT / "reports/studies"

#: Per method, the configurations tried (overrides of params.yaml); every method gets as many.
SPACE: dict[str, list[dict]] = {
    "event_only": [{"train.lr": lr} for lr in (0.003, 0.006, 0.01, 0.02)],
    "finetune": [{"train.lr": lr} for lr in (0.003, 0.006, 0.01, 0.02)],
    "he2024": [{"train.lr": lr, "model.heads": h} for h in ("separate", "shared") for lr in (0.006, 0.01)],
    "tmkt": [{"model.heads": h, "loss.lambda_mag": w, "loss.lambda_mrp": w} for h in ("separate", "shared")
             for w in (0.5, 0.1)],
}


def label(overrides: dict) -> str:
    """``lr=0.01, heads=shared``: a configuration's overrides without section names."""
    short = {key.split(".")[-1].removeprefix("lambda_"): value for key, value in overrides.items()}
    if short.get("mag") == short.get("mrp") and "mag" in short:
        short["mag=mrp"] = short.pop("mag")
        short.pop("mrp")
    return ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in short.items())


def plan(seeds: list[int]) -> list[tuple[str, str, Run]]:
    """(method, configuration label, run) for every configuration of :data:`SPACE` and seed."""
    out = []
    for method, configurations in SPACE.items():
        for overrides in configurations:
            params = config.load(None, {"train.method": method} | overrides)
            name = label(overrides)
            folder = WORK_DIR / method / name.replace(", ", "_").replace("=", "-")
            out += [(method, name, Run(params, seed, folder / f"seed_{seed}")) for seed in seeds]
    return out


def select(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std of validation accuracy per (method, configuration); ``selected`` marks each method's best mean."""
    table = runs.groupby(["method", "configuration"], sort=False)["val_acc"].agg(["mean", "std", "count"]).reset_index()
    best = table.groupby("method", sort=False)["mean"].transform("max")
    first = (table["mean"] == best).groupby(table["method"]).cumsum()
    table["selected"] = (table["mean"] == best) & (first == 1)
    return table


def tuning_figure(runs: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """Validation accuracy per configuration, one panel per method; seeds as dots, the selection in bold."""
    methods = list(SPACE)
    fig, axes = plt.subplots(1, len(methods), figsize=(4.2 * len(methods), 4), sharey=True)
    for ax, method in zip(axes, methods, strict=True):
        data = runs[runs["method"] == method].assign(val=lambda d: 100 * d["val_acc"])
        order = list(dict.fromkeys(data["configuration"]))
        color = METHOD_COLORS.get(method, "k")
        sns.pointplot(data=data, x="configuration", y="val", order=order, color=color, errorbar="sd", capsize=0.1,
                      linestyle="none", ax=ax)
        sns.stripplot(data=data, x="configuration", y="val", order=order, color=color, size=4, alpha=0.5, ax=ax)
        chosen = table[(table["method"] == method) & table["selected"]]["configuration"].iloc[0]
        ax.set_xticks(range(len(order)), order, rotation=30, ha="right", fontsize=7)
        for tick in ax.get_xticklabels():
            tick.set_fontweight("bold" if tick.get_text() == chosen else "normal")
        ax.set(title=method, xlabel="", ylabel="validation accuracy (%)")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Four configurations per method, same seeds and budget; bold: selected on validation")
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="how many of base.seeds each configuration trains")
    parser.add_argument("--workers", type=int, default=2, help="runs trained at once (one per core)")
    args = parser.parse_args()

    params = config.load()
    data = ProcessedData.load(layout.PROCESSED)
    jobs = plan(list(params.base.seeds[: args.seeds]))
    metrics = train_runs([run for *_, run in jobs], data, args.workers, progress=False)
    runs = pd.DataFrame(
        [dict(method=method, configuration=name, seed=m["seed"], val_acc=m["val_acc"], best_epoch=m["best_epoch"],
              epochs=m["epochs"]) for (method, name, _), m in zip(jobs, metrics, strict=True)]
    )
    table = select(runs)
    shown = table.assign(**{"val. acc. (%)": [pm(m, s) for m, s in zip(table["mean"], table["std"])]})
    shown = shown[["method", "configuration", "val. acc. (%)", "count", "selected"]].rename(columns={"count": "seeds"})
    io.write_csv(OUT_DIR / "tuning.csv", runs.to_dict("records"))
    io.write_text(OUT_DIR / "tuning.md", tables.to_markdown(shown))
    io.save_figure(OUT_DIR / "tuning.png", tuning_figure(runs, table))
    print(shown.to_markdown(index=False))


if __name__ == "__main__":
    main()
