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
paired comparisons (``tmkt.stats``).

``dvc.yaml`` expands the same lists of ``params.yaml`` with ``matrix`` (stage ``ablate-<axis>@<cell>``)
and passes only the cell's axis and name to the training notebook, which takes the cell's overrides and
seeds from :func:`cell` here; the figures notebook walks the same :func:`cells`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tmkt import config, layout
from tmkt.config import Params

AXES = ("method", "heads", "schedule", "aux", "event_ratio")
#: Axes whose cells train every seed of ``base.seeds`` (the others: ``ablate.seeds_per_cell``).
HEADLINE_AXES = ("method",)


@dataclass(frozen=True)
class Cell:
    """One configuration of the grid: the train stage's parameters with ``overrides`` set.

    The reference cell (the train stage) has axis and name "reference" and no overrides.
    """

    axis: str
    name: str
    overrides: dict[str, Any]
    seed_count: int | None  #: how many of ``base.seeds`` it trains (None: all)
    event_fraction: float | None  #: its ``scarcity.event_fraction``

    @property
    def stage(self) -> str:
        """The DVC stage that runs it."""
        return "train" if self.axis == "reference" else f"ablate-{self.axis}@{self.name}"

    @property
    def folder(self) -> str:
        """Its outputs (metrics.json, runs/, the executed notebook), relative to the repository root."""
        return layout.cell_folder(self.axis, self.name)

    @property
    def notebook(self) -> str:
        """Its executed training notebook, relative to the repository root."""
        return f"{layout.EXECUTED}/02_train.ipynb" if self.axis == "reference" else f"{self.folder}/02_train.ipynb"


def reference(params: Params) -> Cell:
    """The train stage's cell."""
    return Cell("reference", "reference", {}, None, params.scarcity.event_fraction)


def cells(params: Params) -> list[Cell]:
    """Every cell of ``params.ablate``, axis by axis, in the order of ``params.yaml``."""
    grid, n, fraction = params.ablate, params.ablate.seeds_per_cell, params.scarcity.event_fraction
    out = [Cell("method", m, {"train.method": m}, None, fraction) for m in grid.method]
    out += [Cell("heads", h, {"model.heads": h}, n, fraction) for h in grid.heads]
    out += [Cell("schedule", s, {"mixup.schedule": s}, n, fraction) for s in grid.schedule]
    out += [
        Cell("aux", name, {f"loss.{term}": on for term, on in terms.model_dump().items()}, n, fraction)
        for name, terms in grid.aux.items()
    ]
    out += [
        Cell("event_ratio", f"{m}-{f}",
             {"train.method": m, "scarcity.event_fraction": f, "scarcity.event_per_class": None}, n, f)
        for m in grid.event_ratio.methods
        for f in grid.event_ratio.fractions
    ]
    return out


def with_reference(params: Params) -> list[Cell]:
    """The reference, then every cell of the grid: everything the training stages write."""
    return [reference(params)] + cells(params)


def cell(params: Params, axis: str, name: str) -> Cell:
    """The cell ``axis``/``name`` of the grid (``reference``/``reference``: the train stage)."""
    for c in with_reference(params):
        if (c.axis, c.name) == (axis, name):
            return c
    known = ", ".join(f"{c.axis}/{c.name}" for c in with_reference(params))
    raise ValueError(f"no cell {axis}/{name} in the ablation grid of params.yaml; cells: {known}")


def cell_params(
    params_file: str | None, axis: str, name: str, overrides: dict | str | None = None
) -> tuple[Cell, config.StageParams]:
    """The cell ``axis``/``name`` of the grid in ``params_file`` (after ``overrides``) and its parameters: the
    file's with ``overrides`` and then the cell's own overrides set, as the stage that trains it may read them
    (``train`` for the reference, ``ablate`` for every other cell)."""
    found = cell(config.load(params_file, overrides), axis, name)
    stage = "train" if found.axis == "reference" else "ablate"
    return found, config.load(params_file, config.as_overrides(overrides) | found.overrides, stage=stage)


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
