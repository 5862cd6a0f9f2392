"""A run's identity and its checkpoint: a run killed after any epoch resumes exactly where it stopped.

The checkpoint holds everything the next epoch depends on (weights, optimiser, LR schedule, history,
the best epoch's weights) and the run's :func:`fingerprint`; it is written atomically after every epoch,
so a kill never leaves half a file, and it is loaded only by the very run that wrote it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from tmkt import io, layout
from tmkt.config import Params
from tmkt.provenance import closure
from tmkt.training.methods import Method, effective_config

#: The module whose import closure is the training code.
TRAINING_CODE = "tmkt.training.runs"


def fingerprint(params: Params, seed: int, data_folder: str | Path, world_size: int = 1) -> str:
    """Identity of a run: the parameters that shape it (its method's effective configuration,
    ``tmkt.training.methods.effective_config``: not ``base``, which holds seeds, device, threads and processes, nor
    a knob its method does not read), the seed, the number of processes (``world_size``), the processed data and
    the code that trains it. The data and
    simulator parameters count through the processed files they produced.

    The code is every package file :data:`TRAINING_CODE` reaches through its imports (``tmkt.provenance``),
    so an edit of a plotting or results module keeps every checkpoint. After a change of parameters, data or
    training code the run starts afresh.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(effective_config(params) | {"seed": seed, "world_size": world_size}, sort_keys=True).encode())
    for source in closure({TRAINING_CODE}):
        digest.update(str(source).encode() + (layout.ROOT / source).read_bytes())
    optional = [layout.SIMULATED_FRAMES] if Method.of(params).appearance == "simulated" else []
    for name in (*layout.PROCESSED_FILES, *optional):
        with open(Path(data_folder) / name, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()[:16]


def save(run_dir: str | Path, state: dict) -> None:
    """Write ``state`` (with its ``fingerprint``) as the run's checkpoint, atomically."""
    with io.atomic_path(Path(run_dir) / layout.CHECKPOINT) as tmp:
        torch.save(state, tmp)


def load(run_dir: str | Path, fingerprint: str, device: torch.device) -> dict | None:
    """The run's checkpoint if there is one written by the run ``fingerprint`` names; None otherwise."""
    path = Path(run_dir) / layout.CHECKPOINT
    if not path.is_file():
        return None
    state = torch.load(path, map_location=device, weights_only=False)
    return state if state.get("fingerprint") == fingerprint else None
