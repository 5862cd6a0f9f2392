"""Low-level readers of the static-image datasets: MNIST idx files, CIFAR-10 python batches, image folders.

MNIST idx (LeCun et al., yann.lecun.com/exdb/mnist): a big-endian header, then the array in C order::

    bytes 0-1   0x0000
    byte  2     element type (0x08 = unsigned byte; the only type MNIST uses)
    byte  3     number of dimensions d
    4*d bytes   the size of each dimension (uint32, big-endian)
    then        prod(sizes) elements

Files may be gzip-compressed (``.gz``, as distributed). A wrong magic number or a body whose length is
not prod(sizes) raises :class:`~tmkt.data.datasets.base.DatasetError` naming the file.

CIFAR-10 python batches (Krizhevsky 2009, cs.toronto.edu/~kriz/cifar.html): each ``data_batch_k`` /
``test_batch`` is a pickled dict with ``data`` (N x 3072 uint8: 1024 red, 1024 green, 1024 blue values,
each a 32x32 image in row-major order) and ``labels``; ``batches.meta`` holds ``label_names``. Pickles
are read with an unpickler that only admits the numpy array constructors, so a tampered file cannot run
code. Images come back as (N, 32, 32, 3) uint8.

Image files are decoded with Pillow: grey images as (H, W) uint8, everything else as (H, W, 3) RGB.
"""

from __future__ import annotations

import gzip
import zlib
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from tmkt.data.datasets.base import DatasetError

IDX_UBYTE = 0x08
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm")
_GREY_MODES = ("1", "L", "LA")


def class_folders(root: Path) -> list[Path]:
    """The sub-folders of ``root``, sorted, without hidden or archive-tool folders (``.x``, ``__MACOSX``)."""
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def find_idx(folder: Path, name: str) -> Path | None:
    """``folder/name`` or ``folder/name.gz``, whichever exists (plain first); None if neither."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path) -> np.ndarray:
    """The unsigned-byte array stored in an idx file (plain or ``.gz``)."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                raw = stream.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # a damaged .gz: BadGzipFile (OSError) or zlib.error
        raise DatasetError(f"{path}: cannot read the idx file ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != IDX_UBYTE:
        raise DatasetError(f"{path}: not an unsigned-byte idx file (magic {raw[:4].hex() or 'missing'})")
    ndim = raw[3]
    header_bytes = 4 + 4 * ndim
    if len(raw) < header_bytes:
        raise DatasetError(f"{path}: idx header truncated ({len(raw)} bytes, expected at least {header_bytes})")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    body = np.frombuffer(raw, dtype=np.uint8, offset=header_bytes)
    if body.size != int(np.prod(shape)):
        raise DatasetError(
            f"{path}: idx body holds {body.size} bytes, expected {int(np.prod(shape))} for shape {shape} "
            "(truncated or corrupt file)"
        )
    return body.reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An unsigned-byte array as an idx file (the layout above; gzip-compressed if the name ends in ``.gz``)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, IDX_UBYTE, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes() + array.tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits only what a pickled numpy array needs; anything else in the file is refused."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are expected)")
        return super().find_class(module, name)


def _load_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as stream:
            content = _ArraysOnlyUnpickler(stream, encoding="bytes").load()
    except Exception as exc:  # a damaged pickle can fail in any way (EOF, attribute, key, value, memory errors)
        raise DatasetError(f"{path}: cannot read the CIFAR-10 python pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(content, dict):
        raise DatasetError(f"{path}: expected a pickled dict, found {type(content).__name__}")
    return content


def _field(content: dict, key: str, path: Path):
    """``content[key]``, accepting the bytes keys of the original Python 2 pickles."""
    for candidate in (key.encode(), key):
        if candidate in content:
            return content[candidate]
    raise DatasetError(f"{path}: the pickle has no '{key}' entry; expected a CIFAR-10 python batch")


def read_cifar_label_names(path: Path) -> list[str]:
    """The class names listed in CIFAR-10's ``batches.meta``, in label order."""
    names = _field(_load_pickle(path), "label_names", path)
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8, labels (N,) int64) of one CIFAR-10 python batch file."""
    content = _load_pickle(path)
    data = np.asarray(_field(content, "data", path))
    labels = np.asarray(_field(content, "labels", path), dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise DatasetError(
            f"{path}: data has shape {data.shape} and dtype {data.dtype} for {len(labels)} labels; "
            "expected N x 3072 uint8 with one label per row"
        )
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def read_image_file(path: Path) -> np.ndarray:
    """An image file as uint8: (H, W) if grey, else (H, W, 3) RGB."""
    try:
        with Image.open(path) as image:
            image.load()
            mode = "L" if image.mode in _GREY_MODES else "RGB"
            return np.asarray(image.convert(mode), dtype=np.uint8)
    except Exception as exc:  # Pillow's errors on a damaged file: OSError, ValueError, SyntaxError, struct.error, ...
        raise DatasetError(f"{path}: cannot decode the image ({type(exc).__name__}: {exc})") from exc
