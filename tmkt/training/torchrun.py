"""Train one cell of the grid on several processes: ``torchrun --nproc_per_node=N -m tmkt.training.torchrun``.

``[--axis A --cell C]`` names the cell (default: the train stage's reference cell). Its seeds are trained one
after another, each on all N processes (:mod:`tmkt.training.distributed`), into the stage's runs folder; ``dvc
repro`` then finds the finished runs (their checkpoints) and only writes the stage's outputs.
"""

from __future__ import annotations

import argparse

import torch.distributed as dist

from tmkt import config, grid, layout
from tmkt.data.processed import ProcessedData
from tmkt.training import distributed
from tmkt.training.loop import Trainer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tmkt.training.torchrun", description=__doc__.split("\n")[0])
    parser.add_argument("--params", default="params.yaml", help="parameter file (repository-relative)")
    parser.add_argument("--axis", default="reference", help="the cell's ablation axis (reference: the train stage)")
    parser.add_argument("--cell", default="reference", help="the cell's name on its axis")
    parser.add_argument("--overrides", default="", help='dotted overrides as a YAML mapping, "{train.epochs: 5}"')
    parser.add_argument("--processed", default=str(layout.PROCESSED), help="the convert stage's output folder")
    parser.add_argument("--reports-root", default=".", help="the folder the cells' reports/... folders are in")
    args = parser.parse_args(argv)
    try:
        cell, params = grid.cell_params(args.params, args.axis, args.cell, config.as_overrides(args.overrides))
    except (config.ParamsError, ValueError) as exc:  # a bad parameter or an unknown cell: say so, no traceback
        raise SystemExit(f"tmkt.training.torchrun: {exc}") from None
    world = distributed.init()
    data = ProcessedData.load(layout.resolve(args.processed))
    runs_dir = layout.resolve(args.reports_root) / cell.folder / layout.RUNS
    for seed in grid.seeds_of(params, cell.seed_count):
        metrics = Trainer(params, data, layout.seed_folder(runs_dir, seed), seed).fit(progress=False)
        if world.main:
            print(f"[{cell.stage}] seed {seed} on {world.size} processes: best epoch {metrics['best_epoch']}, "
                  f"validation {metrics['val_acc']:.3f}", flush=True)
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
