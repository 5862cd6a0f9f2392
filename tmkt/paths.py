"""Every path of the compendium, anchored at the repository root.

Notebooks run with the repository root as working directory under ``dvc repro`` (papermill) but from
``notebooks/`` in JupyterLab; nothing here depends on the current directory.
"""

from __future__ import annotations

from pathlib import Path

ROOT: Path = Path(__file__).resolve().parent.parent
PARAMS: Path = ROOT / "params.yaml"
DATA: Path = ROOT / "data"
RAW: Path = DATA / "raw"
PROCESSED: Path = DATA / "processed"
REPORTS: Path = ROOT / "reports"
NOTEBOOKS: Path = ROOT / "notebooks"


def resolve(path: str | Path) -> Path:
    """An absolute path: absolute inputs unchanged, relative ones taken from the repository root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else ROOT / path
