"""The pipeline's stages as DVC resolves them from ``dvc.yaml``, for code that must run a stage exactly as
``dvc repro`` does but elsewhere (the memory benchmark, the terminal-output test)."""

from __future__ import annotations

from pathlib import Path

from dvc.repo import Repo

from tmkt import layout

#: The pipeline outputs a relocated stage writes into its work folder instead (every report of reports/).
RELOCATED = ("data/processed", "reports/")


def command(stage: str) -> str:
    """The shell command of ``stage`` (e.g. ``convert``, ``train``, ``ablate-method@he2024``) in ``dvc.yaml``."""
    with Repo(str(layout.ROOT)) as repo:
        commands = {s.name: s.cmd for s in repo.index.stages}
    if stage not in commands:
        raise KeyError(f"dvc.yaml has no stage {stage!r}; stages: {', '.join(commands)}")
    return commands[stage]


def relocated_command(stage: str, work: str | Path) -> str:
    """``stage``'s command with its outputs (data/processed, everything under reports/ and, for a training
    stage, the reports root of its runs) moved under ``work``; run it from the repository root."""
    cmd = command(stage)
    for folder in RELOCATED:
        cmd = cmd.replace(folder, f"{Path(work)}/{folder}")
    if "notebooks/02_train.ipynb" in cmd:
        cmd += f" -p reports_root {work}"
    return cmd
