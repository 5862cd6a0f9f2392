"""A named profile of the comparison grid, outside the default ``dvc repro``: ``python studies/profile.py NAME``.

``studies/profiles/NAME.yaml`` holds the profile as dotted overrides of ``params.yaml``, and optionally a
``prepare`` step that writes the data it reads (``nmnist_subset``: the real N-MNIST recordings numbered
``1 .. first`` from the release under ``source``, :func:`tmkt.data.datasets.nmnist.write_subset`), or
``extends: BASE``: the profile is BASE's with further overrides, reads BASE's converted data and links every cell
BASE's grid has too from BASE's runs (run BASE first). This script

1. writes the profile's parameters to ``reports/studies/NAME/params.yaml`` (exactly what ran);
2. if the profile keeps the default's data (no ``data`` or ``simulator`` override), links every cell the default
   grid has too (same axis, name and overrides) from ``reports/``: the default's runs are read, not retrained
   (run ``dvc repro`` first; a cell whose runs are missing is an error naming it); a profile that ``extends``
   another links that profile's cells from ``data/studies/BASE`` and reads its data alike; otherwise it converts
   the profile's data into ``data/studies/NAME/processed`` and trains every cell;
3. trains the other cells into ``data/studies/NAME/<cell folder>`` in one pool of ``base.parallel_runs``
   processes (checkpointed every epoch: an interrupted profile resumes);
4. runs the figures notebook on the whole grid into ``reports/studies/NAME/`` (tables, figures, the executed
   notebook), the same code that writes the default's ``reports/figures``;
5. on real recordings with simulated recordings of the images (``data.simulated_images``), tests every network of
   the headline, control and variant cells on both (``tmkt.results.transfer``): ``transfer.csv`` and ``transfer.md``.

Profiles: ``full`` (what does not fit into the default: controls, schedules, variants, the long-budget check and the
data-ratio curve), ``nmnist`` (the default's comparison on real N-MNIST recordings, with sim-to-real transfer) and
``nmnist_ratio`` (extends ``nmnist``: its data-ratio curve).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import papermill as pm
import yaml

from tmkt import atomic, config, grid, layout
from tmkt.data.convert import convert
from tmkt.data.datasets import nmnist
from tmkt.data.processed import ProcessedData
from tmkt.results import tables, transfer
from tmkt.terminal import say
from tmkt.training.runs import CellJob, train_cells

PROFILES = layout.ROOT / "studies/profiles"
#: Sections whose override gives a profile data of its own (converted, not the default's ``data/processed``).
DATA_SECTIONS = ("data", "simulator")
#: ``prepare`` steps a profile may name: the function and the keyword arguments it takes.
PREPARE = {"nmnist_subset": nmnist.write_subset}


def read_profile(name: str) -> tuple[dict, dict, str | None]:
    """The profile ``name``: its ``prepare`` steps, ``params.yaml`` with its overrides (validated; a profile that
    ``extends`` BASE: BASE's parameters with them) and the name of BASE (None for none)."""
    path = PROFILES / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.yaml")))
        raise SystemExit(f"no profile {name!r}: expected one of {known} (files in {PROFILES})")
    content = yaml.safe_load(path.read_text()) or {}
    prepare = content.pop("prepare", {}) or {}
    base = content.pop("extends", None)
    unknown = set(prepare) - set(PREPARE)
    if unknown:
        raise SystemExit(f"{path}: unknown prepare step {sorted(unknown)}; known: {', '.join(PREPARE)}")
    if base is not None and prepare:
        raise SystemExit(f"{path}: a profile that extends {base!r} reads its data and prepares none")
    start = read_profile(base)[1] if base is not None else yaml.safe_load(layout.PARAMS.read_text())
    raw = config.apply_overrides(start, content)
    config.parse(raw)
    return prepare, raw, base


def own_data(raw: dict, base: dict) -> bool:
    """Whether the profile's data differ from those of ``base`` (then they are converted for it)."""
    return any(raw[section] != base[section] for section in DATA_SECTIONS)


def shared_cells(profile: config.Params, base: config.Params) -> tuple[list[grid.Cell], list[grid.Cell]]:
    """The profile's cells split into those ``base``'s grid has too (same axis, name and overrides) and the rest."""
    known = {(c.axis, c.name): c.overrides for c in grid.with_reference(base)}
    cells = grid.with_reference(profile)
    shared = [c for c in cells if known.get((c.axis, c.name)) == c.overrides]
    return shared, [c for c in cells if c not in shared]


def link_base(cells: list[grid.Cell], work: Path, root: Path = layout.ROOT, how: str = "`dvc repro`") -> None:
    """``work/<cell folder>`` -> ``root/<cell folder>`` for every cell the base (the default's pipeline, or the
    profile extended, whose work folder is ``root``) trained; ``how`` says how to train the base."""
    for cell in cells:
        source, target = root / cell.folder, work / cell.folder
        if not (source / layout.RUNS / layout.RUNS_TABLE).is_file():
            raise SystemExit(f"{source} has no runs: run the base first ({how})")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        os.symlink(source, target, target_is_directory=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="a profile of studies/profiles/ (full, nmnist, nmnist_ratio)")
    args = parser.parse_args()
    prepare, raw, base = read_profile(args.name)
    work, out = layout.ROOT / "data/studies" / args.name, layout.ROOT / "reports/studies" / args.name
    params_file = out / "params.yaml"
    atomic.write_text(params_file, yaml.safe_dump(raw, sort_keys=False))
    profile = config.load(params_file)
    for step, options in prepare.items():
        counts = PREPARE[step](layout.resolve(options["source"]), layout.resolve(profile.data.raw_dir), options["first"])
        say(f"[{args.name}] {step}: {sum(counts.values())} recordings written to {profile.data.raw_dir}")
    base_raw = read_profile(base)[1] if base else yaml.safe_load(layout.PARAMS.read_text())
    base_root = layout.ROOT / "data/studies" / base if base else layout.ROOT
    if own_data(raw, base_raw):
        processed = work / "processed"
        convert(profile, processed, workers=profile.base.parallel_runs, progress=False)
        shared, new = [], grid.with_reference(profile)
    else:
        processed = base_root / "processed" if base else layout.PROCESSED
        shared, new = shared_cells(profile, config.parse(base_raw))
        link_base(shared, work, base_root, f"`python studies/profile.py {base}`" if base else "`dvc repro`")
    say(f"[{args.name}] {len(shared)} cells read from {base or 'the default'}'s runs, {len(new)} to train")
    jobs = []
    for cell in new:
        _, cell_params = grid.cell_params(str(params_file), cell.axis, cell.name)
        folder = work / cell.folder
        jobs.append(CellJob(cell_params.all, grid.seeds_of(profile, cell.seed_count), folder / layout.RUNS,
                            folder / layout.CELL_METRICS))
    data = ProcessedData.load(processed)
    train_cells(jobs, data, profile.base.parallel_runs, progress=False, label=args.name)
    pm.execute_notebook(
        str(layout.NOTEBOOKS / "03_figures.ipynb"), str(out / "03_figures.ipynb"), kernel_name="python3",
        progress_bar=False, cwd=str(layout.ROOT), engine_name="tmkt",
        parameters=dict(params_file=str(params_file), processed_dir=str(processed), figures_dir=str(out / "figures"),
                        models_dir=str(out / "models"), reports_root=str(work), dvc_dir=str(out / "dvc")),
    )
    if data.simulated is not None and profile.data.dataset != "mnist_sim":
        write_transfer(profile, params_file, data, work, out)
    say(f"[{args.name}] done: {out.relative_to(layout.ROOT)}")


def write_transfer(profile: config.Params, params_file: Path, data: ProcessedData, work: Path, out: Path) -> None:
    """``out/transfer.{csv,md}``: the reference, method, control and variant cells tested on real and on simulated
    recordings of the same test digits."""
    cells = {}
    for cell in grid.with_reference(profile):
        if cell.axis in ("reference", "method", "control", "variant"):
            cells[cell.label] = (work / cell.folder / layout.RUNS,
                                 grid.cell_params(str(params_file), cell.axis, cell.name)[1].model)
    runs = transfer.transfer_runs(cells, data)
    atomic.write_csv(out / "transfer.csv", runs.to_dict("records"))
    atomic.write_text(out / "transfer.md", tables.to_markdown(transfer.transfer_table(runs, profile.base.confidence)))


if __name__ == "__main__":
    main()
