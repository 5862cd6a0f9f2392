"""A named profile of the comparison grid, outside the default ``dvc repro``: ``python studies/profile.py NAME``.

``studies/profiles/NAME.yaml`` holds the profile as dotted overrides of ``params.yaml``, and optionally a
``prepare`` step that writes the data it reads (``nmnist_subset``: the real N-MNIST recordings numbered
``1 .. first`` from the release under ``source``, :func:`tmkt.data.datasets.nmnist.write_subset`). This script

1. writes the profile's parameters to ``reports/studies/NAME/params.yaml`` (exactly what ran);
2. if the profile keeps the default's data (no ``data`` or ``simulator`` override), links every cell the default
   grid has too (same axis, name and overrides) from ``reports/``: the default's runs are read, not retrained
   (run ``dvc repro`` first; a cell whose runs are missing is an error naming it); otherwise it converts the
   profile's data into ``data/studies/NAME/processed`` and trains every cell;
3. trains the other cells into ``data/studies/NAME/<cell folder>`` in one pool of ``base.parallel_runs``
   processes (checkpointed every epoch: an interrupted profile resumes);
4. runs the figures notebook on the whole grid into ``reports/studies/NAME/`` (tables, figures, the executed
   notebook), the same code that writes the default's ``reports/figures``.

Profiles: ``full`` (what does not fit into the default: controls, schedules, variants, the long-budget check and the
data-ratio curve) and ``nmnist`` (the default's comparison on real N-MNIST recordings).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import papermill as pm
import yaml

from tmkt import config, grid, io, layout
from tmkt.data.convert import convert
from tmkt.data.datasets import nmnist
from tmkt.data.processed import ProcessedData
from tmkt.terminal import say
from tmkt.training.runs import CellJob, train_cells

PROFILES = layout.ROOT / "studies/profiles"
#: Sections whose override gives a profile data of its own (converted, not the default's ``data/processed``).
DATA_SECTIONS = ("data", "simulator")
#: ``prepare`` steps a profile may name: the function and the keyword arguments it takes.
PREPARE = {"nmnist_subset": nmnist.write_subset}


def read_profile(name: str) -> tuple[dict, dict]:
    """The profile ``name``: its ``prepare`` steps and ``params.yaml`` with its overrides (validated)."""
    path = PROFILES / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.yaml")))
        raise SystemExit(f"no profile {name!r}: expected one of {known} (files in {PROFILES})")
    content = yaml.safe_load(path.read_text()) or {}
    prepare = content.pop("prepare", {}) or {}
    unknown = set(prepare) - set(PREPARE)
    if unknown:
        raise SystemExit(f"{path}: unknown prepare step {sorted(unknown)}; known: {', '.join(PREPARE)}")
    raw = config.apply_overrides(yaml.safe_load(layout.PARAMS.read_text()), content)
    config.parse(raw)
    return prepare, raw


def own_data(raw: dict) -> bool:
    """Whether the profile's data differ from the default's (then they are converted for it)."""
    default = yaml.safe_load(layout.PARAMS.read_text())
    return any(raw[section] != default[section] for section in DATA_SECTIONS)


def shared_cells(profile: config.Params, default: config.Params) -> tuple[list[grid.Cell], list[grid.Cell]]:
    """The profile's cells split into those the default grid has too (same axis, name and overrides) and the rest."""
    known = {(c.axis, c.name): c.overrides for c in grid.with_reference(default)}
    cells = grid.with_reference(profile)
    shared = [c for c in cells if known.get((c.axis, c.name)) == c.overrides]
    return shared, [c for c in cells if c not in shared]


def link_default(cells: list[grid.Cell], work: Path, root: Path = layout.ROOT) -> None:
    """``work/<cell folder>`` -> ``root/<cell folder>`` for every cell the default's pipeline trained."""
    for cell in cells:
        source, target = root / cell.folder, work / cell.folder
        if not (source / layout.RUNS / layout.RUNS_TABLE).is_file():
            raise SystemExit(f"{cell.folder} has no runs: run the default pipeline first (`dvc repro`)")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        os.symlink(source, target, target_is_directory=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="a profile of studies/profiles/ (full, nmnist)")
    args = parser.parse_args()
    prepare, raw = read_profile(args.name)
    work, out = layout.ROOT / "data/studies" / args.name, layout.ROOT / "reports/studies" / args.name
    params_file = out / "params.yaml"
    io.write_text(params_file, yaml.safe_dump(raw, sort_keys=False))
    profile = config.load(params_file)
    for step, options in prepare.items():
        counts = PREPARE[step](layout.resolve(options["source"]), layout.resolve(profile.data.raw_dir), options["first"])
        say(f"[{args.name}] {step}: {sum(counts.values())} recordings written to {profile.data.raw_dir}")
    if own_data(raw):
        processed = work / "processed"
        convert(profile, processed, workers=profile.base.parallel_runs, progress=False)
        shared, new = [], grid.with_reference(profile)
    else:
        processed = layout.PROCESSED
        shared, new = shared_cells(profile, config.load())
        link_default(shared, work)
    say(f"[{args.name}] {len(shared)} cells read from the default's runs, {len(new)} to train")
    jobs = []
    for cell in new:
        _, cell_params = grid.cell_params(str(params_file), cell.axis, cell.name)
        folder = work / cell.folder
        jobs.append(CellJob(cell_params.all, grid.seeds_of(profile, cell.seed_count), folder / layout.RUNS,
                            folder / layout.CELL_METRICS))
    train_cells(jobs, ProcessedData.load(processed), profile.base.parallel_runs, progress=False, label=args.name)
    pm.execute_notebook(
        str(layout.NOTEBOOKS / "03_figures.ipynb"), str(out / "03_figures.ipynb"), kernel_name="python3",
        progress_bar=False, cwd=str(layout.ROOT), engine_name="tmkt",
        parameters=dict(params_file=str(params_file), processed_dir=str(processed), figures_dir=str(out / "figures"),
                        models_dir=str(out / "models"), reports_root=str(work)),
    )
    say(f"[{args.name}] done: {out.relative_to(layout.ROOT)}")


if __name__ == "__main__":
    main()
