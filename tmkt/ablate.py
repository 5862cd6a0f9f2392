"""The ablation grid: one factor at a time around the train stage's configuration.

A full cross product of the axes (4 methods × 4 schedules × 5 loss variants × 5 data ratios × seeds)
would take days on a laptop, and most of its cells answer no question. The grid instead varies one
axis at a time and keeps every other knob at the ``train`` stage's value, so the train stage's run is
the *reference cell* shared by every axis:

- ``method``: ``train.method`` in ``ablate.method`` (the reference is TMKT);
- ``heads``: ``model.heads`` in ``ablate.heads`` (TMKT; the reference keeps ``model.heads``);
- ``schedule``: ``mixup.schedule`` in ``ablate.schedule`` (TMKT; the reference is ``power``, k = 3);
- ``aux``: TMKT's ``loss.domain_alignment`` / ``loss.mag`` / ``loss.mrp`` per named cell;
- ``event_ratio``: ``scarcity.event_fraction`` × ``train.method``, the one axis crossed with another,
  because the data-ratio curve is a curve per method (He et al. 2024, Fig. 4).

Seeds: the headline cells (the reference and the ``method`` axis) train every seed of ``base.seeds``; every
other cell the first ``ablate.seeds_per_cell`` of them, so each of its seeds has a twin in the reference for
paired comparisons (``tmkt.metrics``).

``dvc.yaml`` expands the same lists of ``params.yaml`` with ``matrix``/``foreach`` (stage
``ablate-<axis>@<cell>``); :func:`cells` expands them here, for the figures notebook, and a test checks
that both expansions agree cell by cell, overrides and seed counts included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tmkt import paths
from tmkt.config import Params
from tmkt.train import RUNS_TABLE

#: Where every ablation cell writes, relative to the repository root.
ABLATE_DIR = "reports/ablate"
#: Where the train stage (the reference cell) writes.
REFERENCE_DIR = "reports/train"

AXES = ("method", "heads", "schedule", "aux", "event_ratio")
#: Axes whose cells train every seed of ``base.seeds`` (the others: ``ablate.seeds_per_cell``).
HEADLINE_AXES = ("method",)


@dataclass(frozen=True)
class Cell:
    """One configuration of the grid: the train stage's parameters with ``overrides`` set."""

    axis: str
    name: str
    overrides: dict[str, Any]
    seed_count: int | None = None  #: how many of ``base.seeds`` it trains (None: all)

    @property
    def stage(self) -> str:
        """The DVC stage that runs it."""
        return f"ablate-{self.axis}@{self.name}"

    @property
    def folder(self) -> str:
        """Its outputs (metrics.json, runs/, the executed notebook), relative to the repository root."""
        return f"{ABLATE_DIR}/{self.axis}/{self.name}"


def cells(params: Params) -> list[Cell]:
    """Every cell of ``params.ablate``, axis by axis, in the order of ``params.yaml``."""
    grid, n = params.ablate, params.ablate.seeds_per_cell
    out = [Cell("method", m, {"train.method": m}) for m in grid.method]
    out += [Cell("heads", h, {"model.heads": h}, n) for h in grid.heads]
    out += [Cell("schedule", s, {"mixup.schedule": s}, n) for s in grid.schedule]
    out += [
        Cell("aux", name, {f"loss.{term}": on for term, on in terms.model_dump().items()}, n)
        for name, terms in grid.aux.items()
    ]
    out += [
        Cell("event_ratio", f"{m}-{f}", {"train.method": m, "scarcity.event_fraction": f, "scarcity.event_per_class": None}, n)
        for m in grid.event_ratio.methods
        for f in grid.event_ratio.fractions
    ]
    return out


def seeds_of(params: Params, seed_count: int | None) -> list[int]:
    """The seeds a cell trains: the first ``seed_count`` of ``base.seeds`` (None or 0: all of them)."""
    if seed_count is not None and seed_count < 0:
        raise ValueError(f"seed_count must be >= 0, got {seed_count}")
    return list(params.base.seeds[: seed_count or None])


def reference_values(params: Params) -> dict[str, str]:
    """The reference cell's value on every axis (how it appears among each axis's cells)."""
    loss = params.loss
    terms = [name for name, on in (("DA", loss.domain_alignment), ("MAG", loss.mag), ("MRP", loss.mrp)) if on]
    fraction = params.scarcity.event_fraction
    return dict(
        method=params.train.method,
        heads=params.model.heads,
        schedule=params.mixup.schedule,
        aux="+".join(terms) or "none",
        event_ratio=f"{params.train.method}-{fraction}",
    )


def load_runs(params: Params, root: str | Path | None = None) -> pd.DataFrame:
    """One row per (cell, seed) of the reference and of every cell; ``axis`` is "reference" for the former.

    Columns: axis, cell, event_fraction, folder, then the per-run metrics of ``tmkt.train`` (method,
    seed, best_epoch, val_acc, test_acc, ...). A cell that has not run yet is an error naming it.
    """
    root = paths.ROOT if root is None else Path(root)
    configs = [("reference", "reference", {}, REFERENCE_DIR)] + [(c.axis, c.name, c.overrides, c.folder) for c in cells(params)]
    missing = [folder for *_, folder in configs if not (root / folder / "runs" / RUNS_TABLE).is_file()]
    if missing:
        raise FileNotFoundError(
            f"no {RUNS_TABLE} in {', '.join(missing)}: run their stages first (`dvc repro`)"
        )
    tables = []
    for axis, name, overrides, folder in configs:
        runs = pd.read_csv(root / folder / "runs" / RUNS_TABLE)
        fraction = overrides.get("scarcity.event_fraction", params.scarcity.event_fraction)
        tables.append(runs.assign(axis=axis, cell=name, event_fraction=fraction, folder=folder))
    table = pd.concat(tables, ignore_index=True)
    return table[["axis", "cell", "event_fraction", "folder"] + [c for c in table if c not in ("axis", "cell", "event_fraction", "folder")]]


def axis_runs(runs: pd.DataFrame, params: Params, axis: str) -> pd.DataFrame:
    """The runs that make up one axis, the reference included, with the axis value in column ``value``.

    ``event_ratio`` also takes the method cells (and the reference) at the reference fraction, so each
    method's curve runs through ``scarcity.event_fraction``.
    """
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}, got {axis!r}")
    ref = reference_values(params)
    reference = runs[runs["axis"] == "reference"].assign(value=ref[axis])
    own = runs[runs["axis"] == axis]
    if axis != "event_ratio":
        return pd.concat([reference, own.assign(value=own["cell"])], ignore_index=True)
    at_reference = pd.concat([reference, runs[runs["axis"] == "method"]], ignore_index=True)
    at_reference = at_reference[at_reference["method"].isin(params.ablate.event_ratio.methods)]
    table = pd.concat([at_reference, own], ignore_index=True)
    return table.assign(value=table["event_fraction"])


def histories(runs: pd.DataFrame, root: str | Path | None = None) -> pd.DataFrame:
    """The per-epoch history of every run in ``runs``, with its axis, cell, method and seed."""
    root = paths.ROOT if root is None else Path(root)
    tables = [
        pd.read_csv(root / run.folder / "runs" / f"seed_{run.seed}" / "history.csv").assign(
            axis=run.axis, cell=run.cell, method=run.method, seed=run.seed
        )
        for run in runs.itertuples()
    ]
    return pd.concat(tables, ignore_index=True)


def stage_of_notebook(path: Path, root: Path) -> str:
    """The DVC stage that wrote an executed notebook (``reports/ablate/<axis>/<cell>/…`` -> ``ablate-<axis>@<cell>``)."""
    parts = path.relative_to(root).parts
    if parts[:2] == tuple(ABLATE_DIR.split("/")):
        return f"ablate-{parts[2]}@{parts[3]}"
    return path.stem.split("_", 1)[1]  # reports/notebooks/02_train.ipynb -> train
