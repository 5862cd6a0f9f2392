"""A run's identity and its checkpoint: a run killed after any epoch resumes exactly where it stopped.

The checkpoint holds everything the next epoch depends on (weights, optimiser, LR schedule, history,
the best epoch's weights) and the run's :func:`fingerprint`; it is written atomically after every epoch,
so a kill never leaves half a file, and it is loaded only by the very run that wrote it.

A checkpoint holds only tensors and plain Python values (:func:`plain`), so it loads with
``torch.load(..., weights_only=True)``: reading one never runs code from the file.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import torch

from tmkt import atomic, layout
from tmkt.config import Params
from tmkt.provenance import closure
from tmkt.training.methods import MethodSwitches, effective_config

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
    optional = [layout.SIMULATED_FRAMES] if MethodSwitches.of(params).appearance == "simulated" else []
    for name in (*layout.PROCESSED_FILES, *optional):
        with open(Path(data_folder) / name, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()[:16]


def plain(value):
    """``value`` with every numpy scalar turned into the Python number it holds and every numpy array into
    a (nested) list, inside dicts, lists and tuples at any depth; tensors and other values are kept as they are.

    Containers that hold nothing to convert are returned as the very same objects (a model's ``state_dict``
    keeps its ``_metadata``); the others are copied (a dict with its type), never changed in place.
    """
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        converted = {k: plain(v) for k, v in value.items()}
        if all(converted[k] is v for k, v in value.items()):
            return value
        copy = value.copy()
        copy.update(converted)
        return copy
    if isinstance(value, list | tuple):
        converted = [plain(v) for v in value]
        if all(c is v for c, v in zip(converted, value)):
            return value
        return converted if isinstance(value, list) else tuple(converted)
    return value


def save(run_dir: str | Path, state: dict) -> None:
    """Write ``state`` (with its ``fingerprint``) as the run's checkpoint, atomically, its numpy values made
    plain (:func:`plain`) so that it loads with ``weights_only=True``."""
    with atomic.atomic_path(Path(run_dir) / layout.CHECKPOINT) as tmp:
        torch.save(plain(state), tmp)


def load(run_dir: str | Path, fingerprint: str, device: torch.device) -> dict | None:
    """The run's checkpoint if there is one written by the run ``fingerprint`` names; None otherwise.

    A checkpoint that does not load with ``weights_only=True`` (written before checkpoints were made
    :func:`plain`, so by other training code and another run) is another run's: None, and the run starts afresh.
    """
    path = Path(run_dir) / layout.CHECKPOINT
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        return None
    return state if state.get("fingerprint") == fingerprint else None
