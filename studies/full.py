"""The full profile: the default's comparison grid with every cell that does not fit into the default ``dvc repro``.

``studies/full.yaml`` holds the profile as dotted overrides of ``params.yaml``: the controls (joint training,
fine-tuning), the two mixing methods at the linear and the constant schedule, the variants (no crop, shared heads,
TMKT without its reconstructed MAG/MRP terms, and both mixing methods trained twice as long: the convergence check)
and the data-ratio curve of four methods at four fractions. This script

1. writes the profile's parameters to ``reports/studies/full/params.yaml`` (exactly what ran);
2. links every cell that the default grid has too (same axis, name and overrides) from ``reports/``: the default's
   runs are read, not retrained (run ``dvc repro`` first; a cell whose default runs are missing is an error);
3. trains every other cell into ``data/studies/full/<cell folder>`` in one pool of ``base.parallel_runs``
   processes (checkpointed every epoch: an interrupted profile resumes);
4. runs the figures notebook on the whole grid into ``reports/studies/full/`` (tables, figures, the executed
   notebook), the same code that writes the default's ``reports/figures``.

Run: ``python studies/full.py`` (after ``dvc repro``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import papermill as pm
import yaml

from tmkt import config, grid, io, layout
from tmkt.data.processed import ProcessedData
from tmkt.terminal import say
from tmkt.training.runs import CellJob, train_cells

PROFILE = layout.ROOT / "studies/full.yaml"
WORK_DIR = layout.ROOT / "data/studies/full"
OUT_DIR = layout.ROOT / "reports/studies/full"


def profile_params(path: Path = PROFILE) -> dict:
    """``params.yaml`` with the profile's overrides, as a mapping (validated)."""
    raw = config.apply_overrides(yaml.safe_load(layout.PARAMS.read_text()), yaml.safe_load(path.read_text()))
    config.parse(raw)
    return raw


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
    parser.add_argument("--profile", type=Path, default=PROFILE, help="dotted overrides of params.yaml")
    args = parser.parse_args()
    raw = profile_params(args.profile)
    params_file = OUT_DIR / "params.yaml"
    io.write_text(params_file, yaml.safe_dump(raw, sort_keys=False))
    profile, default = config.load(params_file), config.load()
    shared, new = shared_cells(profile, default)
    link_default(shared, WORK_DIR)
    say(f"[full] {len(shared)} cells read from the default's runs, {len(new)} to train")
    jobs = []
    for cell in new:
        _, cell_params = grid.cell_params(str(params_file), cell.axis, cell.name)
        folder = WORK_DIR / cell.folder
        jobs.append(CellJob(cell_params.all, grid.seeds_of(profile, cell.seed_count), folder / layout.RUNS,
                            folder / layout.CELL_METRICS))
    train_cells(jobs, ProcessedData.load(layout.PROCESSED), profile.base.parallel_runs, progress=False, label="full")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(layout.NOTEBOOKS / "03_figures.ipynb"), str(OUT_DIR / "03_figures.ipynb"), kernel_name="python3",
        progress_bar=False, cwd=str(layout.ROOT), engine_name="tmkt",
        parameters=dict(params_file=str(params_file), processed_dir=str(layout.PROCESSED),
                        figures_dir=str(OUT_DIR / "figures"), models_dir=str(OUT_DIR / "models"),
                        reports_root=str(WORK_DIR)),
    )
    say(f"[full] done: {OUT_DIR.relative_to(layout.ROOT)}")


if __name__ == "__main__":
    main()
