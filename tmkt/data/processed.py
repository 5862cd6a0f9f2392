"""Reading the ``convert`` stage's outputs, and pairing recordings with images at training time.

**Pairing** (docs/method.md §2): every time an event sample is used, it is paired with an image of the same
class drawn uniformly from the *training* image pool. The image's value channel becomes the appearance
sequence ``x_a^t = (V, V)`` for every t: shape (T, B, 2, H, W), like the events. With
``train.appearance: simulated`` (and for ``sim2real``) the drawn image enters as the simulator's recording of it
instead (``simulated_images.npy``, written by the convert stage with ``data.simulated_images``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from tmkt import layout
from tmkt.data.datasets.base import DatasetError


@dataclass
class ProcessedData:
    """The arrays and manifest written by ``tmkt.data.convert`` (events memory-mapped)."""

    events: np.ndarray  #: float16 (N_e, T, 2, H, W)
    images: np.ndarray  #: uint8 (N_i, H, W)
    manifest: pd.DataFrame
    meta: dict
    folder: Path  #: where the arrays were read from (worker processes re-open them)
    simulated: np.ndarray | None = None  #: float16 (N_i, T, 2, H, W): a simulated recording per image, if converted

    @classmethod
    def load(cls, folder: str | Path) -> "ProcessedData":
        """Read the convert stage's outputs in ``folder``. A missing file, or one that cannot be read (truncated,
        overwritten, not what the convert stage writes), is a :class:`DatasetError` naming the file, what is wrong
        and the command that rebuilds it."""
        folder = Path(folder)
        missing = [name for name in layout.PROCESSED_FILES if not (folder / name).is_file()]
        if missing:
            raise DatasetError(f"{folder} lacks {', '.join(missing)}: run the convert stage first ({REBUILD})")
        data = cls(
            events=_read(folder / layout.EVENT_FRAMES, "a numpy array", _memory_mapped),
            images=_read(folder / layout.IMAGE_VALUES, "a numpy array", np.load),
            manifest=_read(folder / layout.MANIFEST, "the manifest table", _read_manifest),
            meta=_read(folder / layout.META, "the metadata JSON object", _read_meta),
            folder=folder,
            simulated=_read(folder / layout.SIMULATED_FRAMES, "a numpy array", _memory_mapped)
            if (folder / layout.SIMULATED_FRAMES).is_file() else None,
        )
        data._check_row_counts()
        return data

    def _check_row_counts(self) -> None:
        """Each array holds one row per manifest row of its modality (a truncated manifest or array breaks this)."""
        arrays = {layout.EVENT_FRAMES: ("event", self.events), layout.IMAGE_VALUES: ("image", self.images)}
        if self.simulated is not None:
            arrays[layout.SIMULATED_FRAMES] = ("image", self.simulated)
        for name, (modality, array) in arrays.items():
            listed = int((self.manifest["modality"] == modality).sum())
            if listed != len(array):
                raise DatasetError(
                    f"{self.folder}: {layout.MANIFEST} lists {listed} {modality} rows but {name} holds {len(array)}: "
                    f"one of them is damaged or from another conversion; rebuild them by re-running the convert "
                    f"stage ({REBUILD})")

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def time_steps(self) -> int:
        return int(self.events.shape[1])

    @property
    def frame_size(self) -> tuple[int, int]:
        return int(self.events.shape[-2]), int(self.events.shape[-1])

    def rows(self, modality: str, split: str) -> pd.DataFrame:
        m = self.manifest
        return m[(m["modality"] == modality) & (m["split"] == split)]

    @cached_property
    def image_pool(self) -> list[np.ndarray]:
        """Per class label, the rows of its training images."""
        pool = self.rows("image", "train")
        by_label = [pool.loc[pool["label"] == k, "row"].to_numpy() for k in range(len(self.classes))]
        empty = [self.classes[k] for k, rows in enumerate(by_label) if len(rows) == 0]
        if empty:
            raise DatasetError(f"no training images to pair with for classes {empty[:5]}")
        return by_label

    def event_frames(self, rows: np.ndarray) -> torch.Tensor:
        """Recordings ``rows`` as a float32 (T, B, 2, H, W) tensor."""
        return _time_major(self.events, rows)

    def draw_images(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """For each label, the row of a uniformly drawn training image of that class."""
        return np.array([self.image_pool[k][rng.integers(len(self.image_pool[k]))] for k in labels])

    def require_simulated(self) -> np.ndarray:
        """The simulated recordings of the images; a clear error if the convert stage did not write them."""
        if self.simulated is None:
            raise DatasetError(f"{self.folder} has no {layout.SIMULATED_FRAMES}: set data.simulated_images: true "
                               "and re-run the convert stage to train on simulated recordings of the images")
        return self.simulated

    def appearance(self, image_rows: np.ndarray, kind: str = "images") -> torch.Tensor:
        """Images ``image_rows`` as the appearance sequence, (T, B, 2, H, W): V/255 on both channels at all T steps
        (``kind`` "images"), or the simulator's recordings of them ("simulated")."""
        if kind == "simulated":
            return _time_major(self.require_simulated(), image_rows)
        value = torch.from_numpy(self.images[image_rows].astype(np.float32) / 255.0)  # (B, H, W)
        return value[None, :, None].expand(self.time_steps, -1, 2, -1, -1).contiguous()


#: How to rebuild the processed data, for error messages.
REBUILD = "`dvc repro convert`"
#: The manifest columns every row fills (``pair_key`` and ``official_split`` may be empty).
MANIFEST_COLUMNS: tuple[str, ...] = ("modality", "row", "id", "class_name", "label", "split")


def _read(path: Path, expected: str, reader: Callable[[Path], Any]) -> Any:
    """``reader(path)``; if it fails (numpy, pandas, JSON and the readers below raise ValueError, EOFError or
    OSError), a :class:`DatasetError` that names the file, what was expected and the command that rebuilds it."""
    try:
        return reader(path)
    except (ValueError, EOFError, OSError) as exc:
        raise DatasetError(f"{path} is damaged: it does not read as {expected} ({_reason(exc)}); rebuild it by "
                           f"re-running the convert stage ({REBUILD})") from None


def _reason(exc: Exception) -> str:
    """The first line of a reader's error, without numpy's advice to unpickle (the convert stage writes no pickles)."""
    line = str(exc).strip().split("\n")[0] or type(exc).__name__
    return line.split(" If you trust the file")[0]


def _memory_mapped(path: Path) -> np.ndarray:
    """The array in the ``.npy`` file ``path``, memory-mapped read-only."""
    return np.load(path, mmap_mode="r")


def _read_manifest(path: Path) -> pd.DataFrame:
    """The manifest table; a ValueError if a column of :data:`MANIFEST_COLUMNS` is absent or has empty cells."""
    manifest = pd.read_csv(path, dtype={"id": str, "pair_key": str, "class_name": str})
    absent = [c for c in MANIFEST_COLUMNS if c not in manifest]
    if absent:
        raise ValueError(f"no column {', '.join(absent)}")
    empty = manifest[list(MANIFEST_COLUMNS)].isna().any(axis=1)
    if empty.any():
        raise ValueError(f"empty cells in {int(empty.sum())} of its rows, the first at line {int(empty.idxmax()) + 2}")
    return manifest


def _read_meta(path: Path) -> dict:
    """The metadata; a ValueError unless it is a JSON object with a ``classes`` list."""
    meta = json.loads(path.read_text())
    if not isinstance(meta, dict) or not isinstance(meta.get("classes"), list):
        raise ValueError("expected an object with a 'classes' list")
    return meta


def _time_major(frames: np.ndarray, rows: np.ndarray) -> torch.Tensor:
    """Rows of a (N, T, 2, H, W) frame array as a float32 (T, B, 2, H, W) tensor."""
    return torch.from_numpy(np.array(frames[rows], dtype=np.float32)).transpose(0, 1)
