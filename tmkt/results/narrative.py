"""What the figures notebook prints: sentences and small tables built from the tables the figures stage wrote.

A notebook holds narrative and calls. Every sentence it prints with a number in it is built here (or, for the
convert and train notebooks, in ``tmkt.plots.captions``), so that no number in a notebook's text is typed by hand
and every sentence is tested. Accuracies are fractions in the tables and points (%) in the sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


# ------------------------------------------------------------------------------ figures notebook
def runs_line(runs: pd.DataFrame, dataset: str, reference, kept: str) -> str:
    """What the figures stage read: configurations, runs, seeds, and the reference cell (``kept``: its recordings,
    ``tmkt.results.tables.scarcity_text``)."""
    seeds = ", ".join(str(int(s)) for s in sorted(runs["seed"].unique()))
    return (f"{runs['cell'].nunique()} configurations, {len(runs)} runs on `{dataset}` (seeds {seeds}). The "
            f"reference configuration (the `train` stage): method `{reference.method}`, schedule "
            f"`{reference.schedule}`, recordings kept: {kept}.")


def ratio_means(ratio_runs: pd.DataFrame) -> pd.DataFrame:
    """Mean test accuracy (%) per event fraction (rows) and method (columns), one decimal."""
    means = ratio_runs.pivot_table(index="event_fraction", columns="method", values="test_acc", aggfunc="mean")
    return (100 * means).round(1).rename_axis(index="event fraction", columns="mean test acc. (%)")


def gradient_table(grad_table: pd.DataFrame) -> pd.DataFrame:
    """The measured gradient variances by ``r_m`` (rows) and strategy (columns), with their ratio
    :math:`\\mathrm{Var}_\\text{TSM} / \\mathrm{Var}_\\text{sample}`."""
    wide = grad_table.pivot(index="r_m", columns="strategy", values="grad_variance")
    return wide.assign(**{"TSM / sample-level": wide["timestep"] / wide["sample"]})


def gradient_line(wide: pd.DataFrame) -> str:
    """At how many ratios (and which) time-step mixup has the lower gradient variance (:func:`gradient_table`)."""
    lower = wide["timestep"] < wide["sample"]
    listed = ", ".join(f"{r:g}" for r in wide.index[lower]) or "none"
    return f"Time-step mixup has the lower gradient variance at {int(lower.sum())} of {len(lower)} ratios ({listed})."


def nir_line(check: dict, graph: str) -> str:
    """The NIR round trip (``tmkt.results.nir_export.round_trip``) of the graph file ``graph``."""
    return (f"`{graph}`, read back with norse, gives the trained network's prediction on "
            f"{100 * check['same_prediction']:.1f} % of the {check['recordings']} test recordings; the largest "
            f"difference of a per-step logit is {check['max_logit_difference']:.1e}.")


def mixed_sequence_title(class_name: str, r_m: float, p: float, switch: int) -> str:
    """The title of one mixed sequence: its class, ``r_m``, the ``p`` solved from it and the switch step (0-based
    ``switch``, shown 1-based as :math:`t^*`)."""
    return f"class {class_name}: $r_m$ = {r_m:g} (p = {p:.3f}), $t^*$ = {switch + 1}"


def stage_time_line(times: pd.DataFrame) -> str:
    """The wall time of the training and conversion notebooks (``tmkt.results.tables.notebook_seconds``), in all."""
    return f"Training and conversion notebooks: **{times['seconds'].sum() / 60:.1f} min** in all."


def findings_list(sentences: Sequence[str]) -> str:
    """Sentences as a Markdown list, one item each."""
    return "".join(f"- {s}.\n" for s in sentences)


# ------------------------------------------------------------------------------ the terminal
#: What the figures stage tells the terminal (``tmkt.terminal.say``) as it goes, by step; :func:`status` fills in.
STATUS = {
    "runs": "{cells} cells, {runs} runs read",
    "energy": "operations and energy of {runs} runs counted on the test split",
    "results": "results table: {cells} cells",
    "convergence": "convergence: {converged} of {cells} cells converged",
    "comparisons": "{comparisons} comparisons, {ordered} ordered after Holm",
    "gradient": "gradient variance of the trained reference measured",
    "nir": "reference network exported to {graph}; round trip: {same:.1f} % same predictions",
    "done": "done: tables and figures in {folder}",
}


def status(step: str, **values) -> str:
    """The terminal line of one step of the figures stage (:data:`STATUS`), prefixed ``[figures]``."""
    if step not in STATUS:
        raise ValueError(f"unknown figures step {step!r}; steps: {', '.join(STATUS)}")
    return f"[figures] {STATUS[step].format(**values)}"
