"""The comparison grid: the cells around the train stage's configuration, and what each is compared with.

The train stage's run is the *reference cell* (its ``train.method``: TMKT in ``params.yaml``). The other cells
change it along one axis of ``params.yaml``'s ``ablate:`` section:

- ``method``: ``train.method`` in ``ablate.method``: the headline methods beside the reference's (the methods
  are :mod:`tmkt.training.methods`);
- ``control``: ``train.method`` in ``ablate.control``: further methods (joint training, say) with
  ``ablate.seeds_per_cell`` seeds;
- ``schedule``: ``train.method`` × ``mixup.schedule`` over ``ablate.schedule.methods`` ×
  ``ablate.schedule.schedules``: the two mixing methods at matched schedules of ``r_m`` (the reference
  schedule is the headline's), the decisive comparison of time-step mixup with sample-level replacement;
- ``variant``: named cells, each a nested mapping of overrides (``{model: {heads: shared}}``): a
  reconstruction or a control beside the headline cell of its method;
- ``event_ratio``: ``scarcity.event_fraction`` × ``train.method``, the data-ratio curve per method.

Seeds: the headline cells (the reference and the ``method`` axis) train every seed of ``base.seeds``; every
other cell the first ``ablate.seeds_per_cell`` of them, so each of its seeds has a twin in the headline for
paired comparisons (``tmkt.stats``). A seed fixes the initial weights, the batches, the mixing draws *and*
the scarce subset of recordings a run trains on (``tmkt.data.splits.scarce_event_train``), so pairing by seed
removes the subset's effect from a comparison, and the interval over seeds includes it.

What each cell is compared with is :func:`comparisons`; ``dvc.yaml`` expands the same lists of
``params.yaml`` with ``matrix`` (stage ``ablate-<axis>@<cell>``) and passes only the cell's axis and name to
the training notebook, which takes the cell's overrides and seeds from :func:`cell_params` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tmkt import config, layout
from tmkt.config import Params

AXES = ("method", "control", "schedule", "variant", "event_ratio")
#: Axes whose cells differ from the reference by ``train.method`` alone.
METHOD_AXES = ("reference", "method", "control")


@dataclass(frozen=True)
class Cell:
    """One configuration of the grid: the train stage's parameters with ``overrides`` (dotted keys) set.

    The reference cell (the train stage) has axis and name "reference" and no overrides. ``method``,
    ``schedule`` and ``event_fraction`` are the cell's values of ``train.method``, ``mixup.schedule`` and
    ``scarcity.event_fraction``.
    """

    axis: str
    name: str
    overrides: dict[str, Any]
    seed_count: int | None  #: how many of ``base.seeds`` it trains (None: all)
    event_fraction: float | None
    method: str
    schedule: str

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

    @property
    def label(self) -> str:
        """How tables, figures and sentences name it: its method, with its schedule, variant name or event
        fraction where it has one."""
        if self.axis == "variant":
            return self.name
        if self.axis == "schedule":
            return f"{self.method} ({self.schedule})"
        if self.axis == "event_ratio":
            return f"{self.method} at {100 * self.event_fraction:g} %"
        return self.method


def flatten(nested: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{model: {heads: shared}}`` -> ``{"model.heads": "shared"}`` (a variant's overrides as dotted keys)."""
    out = {}
    for key, value in nested.items():
        if isinstance(value, dict) and value:
            out |= flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _cell(params: Params, axis: str, name: str, overrides: dict[str, Any], seed_count: int | None) -> Cell:
    fraction = overrides.get("scarcity.event_fraction", params.scarcity.event_fraction)
    return Cell(axis, name, overrides, seed_count, fraction, overrides.get("train.method", params.train.method),
                overrides.get("mixup.schedule", params.mixup.schedule))


def reference(params: Params) -> Cell:
    """The train stage's cell."""
    return _cell(params, "reference", "reference", {}, None)


def cells(params: Params) -> list[Cell]:
    """Every cell of ``params.ablate``, axis by axis, in the order of ``params.yaml``."""
    grid, n = params.ablate, params.ablate.seeds_per_cell
    out = [_cell(params, "method", m, {"train.method": m}, None) for m in grid.method]
    out += [_cell(params, "control", m, {"train.method": m}, n) for m in grid.control]
    out += [
        _cell(params, "schedule", f"{m}-{s}", {"train.method": m, "mixup.schedule": s}, n)
        for m in grid.schedule.methods
        for s in grid.schedule.schedules
    ]
    out += [_cell(params, "variant", name, flatten(nested), n) for name, nested in grid.variant.items()]
    out += [
        _cell(params, "event_ratio", f"{m}-{f}",
              {"train.method": m, "scarcity.event_fraction": f, "scarcity.event_per_class": None}, n)
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
    (:attr:`Cell.stage`: what that stage's ``params:`` in ``dvc.yaml`` declare)."""
    found = cell(config.load(params_file, overrides), axis, name)
    return found, config.load(params_file, config.as_overrides(overrides) | found.overrides, stage=found.stage)


def seeds_of(params: Params, seed_count: int | None) -> list[int]:
    """The seeds a cell trains: the first ``seed_count`` of ``base.seeds`` (None or 0: all of them)."""
    if seed_count is not None and seed_count < 0:
        raise ValueError(f"seed_count must be >= 0, got {seed_count}")
    return list(params.base.seeds[: seed_count or None])


@dataclass(frozen=True)
class Comparison:
    """``a - b``, seed by seed: what the difference of two cells of the grid answers."""

    a: Cell
    b: Cell
    question: str

    @property
    def name(self) -> str:
        return f"{self.a.label} − {self.b.label}"


def comparisons(params: Params) -> list[Comparison]:
    """The family of paired comparisons the compendium reports (Holm-corrected together, ``tmkt.stats``):

    1. every method (headline or control) against event-only training (what the images buy);
    2. He et al. and TMKT against joint training (what mixing and alignment add to simply training on both);
    3. TMKT against He et al. at every schedule both ran, and at every event fraction both ran (time-step
       mixup against sample-level replacement, matched);
    3b. sim-to-real transfer (``sim2real``) against He et al. and TMKT at every event fraction they share
       (converting the images into events against mixing them in);
    4. every variant against the cell of its method (a control or a reconstruction);
    5. every method of the event-ratio axis against event-only training at the same fraction.
    """
    every = with_reference(params)
    by_method = {c.method: c for c in every if c.axis in METHOD_AXES}
    out = []
    if "event_only" in by_method:
        out += [Comparison(c, by_method["event_only"], "images") for c in by_method.values() if c.method != "event_only"]
    if "joint" in by_method:
        out += [Comparison(by_method[m], by_method["joint"], "mixing") for m in ("he2024", "tmkt") if m in by_method]
    mixing = {(c.method, c.schedule, c.event_fraction): c for c in every if c.axis not in ("variant",)}
    for (method, schedule, fraction), c in mixing.items():
        partner = mixing.get(("he2024", schedule, fraction))
        if method == "tmkt" and partner is not None:
            out.append(Comparison(c, partner, "timestep-vs-sample"))
    headline_or_ratio = {(c.method, c.event_fraction): c for c in every if c.axis in METHOD_AXES + ("event_ratio",)}
    out += [Comparison(c, headline_or_ratio[(m, fraction)], "sim-to-real-vs-mixing")
            for (method, fraction), c in headline_or_ratio.items() if method == "sim2real"
            for m in ("he2024", "tmkt") if (m, fraction) in headline_or_ratio]
    out += [Comparison(c, by_method[c.method], "variant") for c in every if c.axis == "variant" and c.method in by_method]
    ratio = {(c.method, c.event_fraction): c for c in every if c.axis == "event_ratio"}
    out += [Comparison(c, ratio[("event_only", f)], "images") for (m, f), c in ratio.items()
            if m != "event_only" and ("event_only", f) in ratio]
    return out
