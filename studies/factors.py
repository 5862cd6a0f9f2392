"""Which factor decides whether images help on the embedded default: recording noise or the number of steps T?

The pipeline's ``event_ratio`` axis answers the question for the event-data ratio. This study varies the two other
suspects, the recordings' noise and the number of steps, one at a time around the default (3 % event data),
everything else at the values of ``params.yaml``:

- noise: ``simulator.background_rate_hz`` (background-activity events per pixel and second);
- T: ``data.time_bins`` (steps per recording, also the number of mixing positions of time-step mixup).

Each level is a new conversion (``tmkt.data.convert``) into ``data/studies/<level>/processed`` and a training run
of every method of ``ablate.event_ratio.methods`` with the first ``ablate.seeds_per_cell`` seeds of ``base.seeds``
(``tmkt.training.runs.train_seeds``; an interrupted study resumes from the checkpoints there). The default level is not
retrained: its runs are the pipeline's (``reports/train`` and ``reports/ablate/method``, via ``tmkt.grid``) on the
same seeds, so run ``dvc repro`` first. Model selection is on validation; the test accuracy is that of the
best-validation epoch, mean ± std over seeds, and TMKT is compared with event-only training seed by seed (paired
t-interval, ``tmkt.stats``).

Writes ``reports/studies/factors.csv`` (one row per run), ``factors.md`` (mean ± std per level and method) and
``factors.png`` atomically. Run: ``python studies/factors.py [--noise 0.3 10] [--time-bins 2 8]``.
"""

from __future__ import annotations

import argparse
from operator import attrgetter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from tmkt import atomic, config, grid, layout# noqa: E402
from tmkt.results import tables  # noqa: E402
from tmkt.data.convert import convert  # noqa: E402
from tmkt.stats import paired_difference, pm, summarize  # noqa: E402
from tmkt.plots.style import METHOD_COLORS  # noqa: E402
from tmkt.data.processed import ProcessedData  # noqa: E402
from tmkt.training.runs import train_seeds  # noqa: E402

#: factor name -> the parameter it sets
FACTORS = {"noise": "simulator.background_rate_hz", "T": "data.time_bins"}
WORK_DIR = layout.ROOT / "data/studies"
OUT_DIR = layout.ROOT / "reports/studies"


def run_level(key: str, value, methods: list[str]) -> pd.DataFrame:
    """Convert with ``key = value`` and train every method on it; one row per (method, seed)."""
    folder = WORK_DIR / f"{key.split('.')[1]}-{value}"
    level = config.load(None, {key: value})
    print(f"== {key} = {value}: convert", flush=True)
    convert(level, folder / "processed")
    data = ProcessedData.load(folder / "processed")
    cells = []
    for method in methods:
        print(f"== {key} = {value}: {method}", flush=True)
        run = config.load(None, {key: value, "train.method": method})
        runs_dir = folder / method / "runs"
        seeds = grid.seeds_of(run, run.ablate.seeds_per_cell)
        cells.append(train_seeds(run, data, runs_dir, folder / method / "metrics.json", seeds=seeds, progress=False))
    return pd.concat(cells, ignore_index=True)


def pipeline_runs(params: config.Params, methods: list[str]) -> pd.DataFrame:
    """The default level: the pipeline's runs of ``methods`` at the reference configuration."""
    runs = tables.axis_runs(layout.load_runs(grid.with_reference(params)), params, "method")
    seeds = grid.seeds_of(params, params.ablate.seeds_per_cell)
    return runs[runs["method"].isin(methods) & runs["seed"].isin(seeds)].reset_index(drop=True)


#: Run facts that must agree across levels for the comparison to be one factor at a time.
SHARED = ("n_event_train", "n_image_pool", "epochs", "steps_per_epoch")


def check_one_factor_at_a_time(runs: pd.DataFrame) -> None:
    """Every level trained on as many recordings and images for as many steps (else: a stale pipeline)."""
    for column in SHARED:
        if runs[column].nunique() != 1:
            values = runs.groupby(["factor", "value"])[column].unique().to_dict()
            raise RuntimeError(f"levels differ in {column}: {values}; is the pipeline up to date (`dvc status`)?")


def summary_table(runs: pd.DataFrame, methods: list[str], defaults: dict[str, float], confidence: float) -> pd.DataFrame:
    """One row per level: test accuracy (%) mean ± std per method, and TMKT minus event-only in points (paired
    t-interval at ``confidence``)."""
    stats = summarize(runs, by=["factor", "value", "method"])
    rows = []
    for (factor, value), group in stats.groupby(["factor", "value"], sort=False):
        by_method = group.set_index("method")
        shown = f"{value:g} (default)" if value == defaults[factor] else f"{value:g}"
        row = {"factor": factor, "parameter": FACTORS[factor], "value": shown}
        row |= {m: pm(by_method.at[m, "test_acc_mean"], by_method.at[m, "test_acc_std"]) for m in methods}
        if {"tmkt", "event_only"} <= set(by_method.index):
            level = runs[(runs["factor"] == factor) & (runs["value"] == value)]
            diff = paired_difference(*(level[level["method"] == m].set_index("seed")["test_acc"] for m in ("tmkt", "event_only")),
                                     confidence)
            row["tmkt − event_only (points, 95 % CI)"] = f"{100 * diff.mean:+.1f} [{100 * diff.low:+.1f}, {100 * diff.high:+.1f}]"
            row["tmkt vs event_only"] = diff.verdict
        rows.append(row)
    return pd.DataFrame(rows)


def factors_figure(runs: pd.DataFrame, defaults: dict[str, float]) -> plt.Figure:
    """Test accuracy per level of each factor and method: mean ± std and the seeds as dots."""
    factors = list(dict.fromkeys(runs["factor"]))
    fig, axes = plt.subplots(1, len(factors), figsize=(5.5 * len(factors), 3.8), squeeze=False)
    for ax, factor in zip(axes[0], factors, strict=True):
        data = runs[runs["factor"] == factor].assign(test=lambda d: 100 * d["test_acc"])
        order = sorted(data["value"].unique())
        labels = [f"{v:g} (default)" if v == defaults[factor] else f"{v:g}" for v in order]
        palette = {m: METHOD_COLORS.get(m, "k") for m in data["method"].unique()}
        sns.pointplot(data=data, x="value", y="test", hue="method", order=order, palette=palette, errorbar="sd",
                      dodge=0.4, capsize=0.1, ax=ax)
        sns.stripplot(data=data, x="value", y="test", hue="method", order=order, palette=palette, dodge=True,
                      size=4, alpha=0.5, legend=False, ax=ax)
        ax.set_xticks(range(len(order)), labels)
        unit = " (events / pixel / s)" if factor == "noise" else ""
        ax.set(xlabel=f"{FACTORS[factor]}{unit}", ylabel="test accuracy (%)", title=f"factor: {factor}")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Images vs event-only at 3 % event data, one factor at a time (mean ± std over seeds)")
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noise", type=float, nargs="+", default=[0.3, 10.0], help="background rates to add (Hz)")
    parser.add_argument("--time-bins", type=int, nargs="+", default=[2, 8], help="values of T to add")
    args = parser.parse_args()

    params = config.load()
    methods = list(params.ablate.event_ratio.methods)
    levels = {"noise": args.noise, "T": args.time_bins}
    defaults = {factor: float(attrgetter(key)(params)) for factor, key in FACTORS.items()}
    reference = pipeline_runs(params, methods)
    frames = []
    for factor, key in FACTORS.items():
        frames.append(reference.assign(factor=factor, value=defaults[factor], source="pipeline"))
        for value in levels[factor]:
            if value == defaults[factor]:
                continue
            runs = run_level(key, value, methods)
            frames.append(runs.assign(factor=factor, value=value, source="studies/factors.py"))
    runs = pd.concat(frames, ignore_index=True)
    runs["value"] = runs["value"].astype(float)
    runs = runs.sort_values(["factor", "value", "method", "seed"], kind="stable")
    check_one_factor_at_a_time(runs)

    columns = ["factor", "value", "method", "seed", "val_acc", "test_acc", "test_acc_last", "best_epoch", "source"]
    atomic.write_csv(OUT_DIR / "factors.csv", runs[columns].to_dict("records"))
    table = summary_table(runs, methods, defaults, params.base.confidence)
    atomic.write_text(OUT_DIR / "factors.md", tables.to_markdown(table))
    atomic.save_figure(OUT_DIR / "factors.png", factors_figure(runs, defaults))
    print(table.to_markdown(index=False))


if __name__ == "__main__":
    main()
