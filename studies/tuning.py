"""The learning rate of every method, tuned with the same validation budget on seeds that evaluate nothing.

Each method (``event_only``, ``finetune``, ``sim2real``, ``joint``, ``he2024``, ``tmkt``) gets the same four learning rates, trained
with the same tuning seeds (:data:`TUNING_SEEDS`, disjoint from ``base.seeds``: each draws its own scarce recordings,
and none of them is an evaluation seed) at the default's budget and data. Everything else is the method as the
default runs it: He et al.'s design as published (one head per stream), TMKT's reconstructed terms at their
``params.yaml`` weights (their value is tested by the ``tmkt_da_only`` and ``*_shared`` variants of
``studies/profiles/full.yaml``, not tuned here, so no method gets more configurations than another).

Per method the learning rate with the best mean validation accuracy over the seeds is selected (ties: the first
listed). The noise of that selection is shown beside it: the margin of the selected rate over the runner-up against
the standard error of a mean over the tuning seeds. The test split is read by every run (``tmkt.training.loop`` reads
it once at the end) but never by this study: the CSV it writes holds validation accuracies only. The selected values
are the defaults of ``params.yaml`` (``train.lr``), where a comment says so.

Writes ``reports/studies/tuning.csv`` (one row per run), ``tuning.md`` (mean ± std per configuration, the selection
and its margin) and ``tuning.png`` atomically. Runs are checkpointed under ``data/studies/tuning``.
Run: ``python studies/tuning.py`` (after ``dvc repro convert``); ``--methods sim2real`` trains the methods named
and keeps the other methods' rows of the existing ``tuning.csv`` (a method added later is tuned alike without
retraining the others; git's history of ``tuning.csv`` says when each was trained).
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from tmkt import atomic, config, layout# noqa: E402
from tmkt.results import tables  # noqa: E402
from tmkt.stats import pm  # noqa: E402
from tmkt.plots.style import METHOD_COLORS  # noqa: E402
from tmkt.data.processed import ProcessedData  # noqa: E402
from tmkt.training.runs import Run, train_runs  # noqa: E402

WORK_DIR = layout.ROOT / "data/studies/tuning"
OUT_DIR = layout.ROOT / "reports/studies"

#: Seeds of the tuning runs: none of them is in ``base.seeds``, so no evaluation seed takes part in a selection.
TUNING_SEEDS = (11, 12)
#: The learning rates every method tries.
LEARNING_RATES = (0.003, 0.006, 0.01, 0.02)
#: Per method, the configurations tried (overrides of params.yaml); every method gets as many.
SPACE: dict[str, list[dict]] = {
    method: [{"train.lr": lr} for lr in LEARNING_RATES] for method in ("event_only", "finetune", "sim2real", "joint", "he2024", "tmkt")
}


def label(overrides: dict) -> str:
    """``lr=0.01, heads=shared``: a configuration's overrides without section names."""
    short = {key.split(".")[-1].removeprefix("lambda_"): value for key, value in overrides.items()}
    if short.get("mag") == short.get("mrp") and "mag" in short:
        short["mag=mrp"] = short.pop("mag")
        short.pop("mrp")
    return ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in short.items())


def plan(seeds: list[int], methods: list[str]) -> list[tuple[str, str, Run]]:
    """(method, configuration label, run) for every configuration of :data:`SPACE` of ``methods`` and seed."""
    out = []
    for method in methods:
        configurations = SPACE[method]
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


def selection_noise(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: the selected configuration, its margin over the runner-up (points of mean validation accuracy) and
    the standard error of one configuration's mean over the seeds (``s / sqrt(n)``, ``s`` the pooled standard
    deviation of the method's configurations). A margin below about two standard errors is a selection the seeds
    cannot tell from its runner-up."""
    rows = []
    for method, group in table.groupby("method", sort=False):
        ordered = group.sort_values("mean", ascending=False)
        pooled = float((group["std"] ** 2).mean() ** 0.5)
        rows.append(dict(method=method, selected=group.loc[group["selected"], "configuration"].iloc[0],
                         margin=100 * float(ordered["mean"].iloc[0] - ordered["mean"].iloc[1]),
                         standard_error=100 * pooled / float(group["count"].iloc[0]) ** 0.5))
    return pd.DataFrame(rows)


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
    fig.suptitle(f"Four learning rates per method, tuning seeds {', '.join(map(str, TUNING_SEEDS))} (no evaluation "
                 "seed), the default's budget; bold: selected on validation")
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=3, help="runs trained at once")
    parser.add_argument("--methods", nargs="+", choices=list(SPACE), default=list(SPACE),
                        help="methods to train (default: all); the others' rows are kept from tuning.csv")
    args = parser.parse_args()

    params = config.load()
    if set(TUNING_SEEDS) & set(params.base.seeds):
        raise SystemExit(f"tuning seeds {TUNING_SEEDS} overlap base.seeds {params.base.seeds}: choose others")
    data = ProcessedData.load(layout.PROCESSED)
    jobs = plan(list(TUNING_SEEDS), args.methods)
    metrics = train_runs([run for *_, run in jobs], data, args.workers, progress=False)
    runs = pd.DataFrame(
        [dict(method=method, configuration=name, seed=m["seed"], val_acc=m["val_acc"], best_epoch=m["best_epoch"],
              epochs=m["epochs"]) for (method, name, _), m in zip(jobs, metrics, strict=True)]
    )
    kept = OUT_DIR / "tuning.csv"
    if set(args.methods) != set(SPACE) and kept.is_file():
        earlier = pd.read_csv(kept)
        earlier = earlier[~earlier["method"].isin(args.methods)]
        runs = pd.concat([earlier, runs]).sort_values("method", key=lambda m: m.map(list(SPACE).index), kind="stable")
    table = select(runs)
    shown = table.assign(**{"val. acc. (%)": [pm(m, s) for m, s in zip(table["mean"], table["std"])]})
    shown = shown[["method", "configuration", "val. acc. (%)", "count", "selected"]].rename(columns={"count": "seeds"})
    atomic.write_csv(OUT_DIR / "tuning.csv", runs.to_dict("records"))
    noise = selection_noise(table).round(2)
    atomic.write_text(OUT_DIR / "tuning.md", tables.to_markdown(shown) + "\n" + tables.to_markdown(noise))
    atomic.save_figure(OUT_DIR / "tuning.png", tuning_figure(runs, table))
    print(shown.to_markdown(index=False))
    print(noise.to_markdown(index=False))


if __name__ == "__main__":
    main()
