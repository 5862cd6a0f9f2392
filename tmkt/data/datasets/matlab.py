"""A strict reader of the numeric arrays in a MATLAB 5 ``.mat`` file (the format of CEP-DVS's recordings).

``scipy.io.loadmat`` reads the same files but can crash the interpreter (a segmentation fault, not an
exception) on a damaged one: the property tests of ``tests/test_fuzz_readers.py`` found it with a few
flipped bytes. A reader that must name a bad file and carry on cannot use it, so this module decodes the
little that CEP-DVS needs in numpy and Python alone, checking every length against the bytes it has.

MAT-file level 5 (MathWorks, "MAT-File Format", 2023)::

    header        116 bytes of text, 8 bytes subsystem offset, uint16 version 0x0100, 2 bytes 'IM'
                  (little-endian file) or 'MI' (big-endian)
    data element  tag: uint32 type, uint32 byte count (or, when the upper 16 bits of the first word are
                  set, a small element: count in those bits, type in the lower 16, data in the next 4
                  bytes), then the data, padded to a multiple of 8 bytes
    miCOMPRESSED  (type 15) a zlib stream holding one data element
    miMATRIX      (type 14) sub-elements: array flags (uint32 x 2; class in the low byte of the first,
                  0x0800 = complex), dimensions (int32 x n), name (int8), real part, [imaginary part]

Numeric matrices (classes 6-15) become arrays of their dimensions (column-major, as MATLAB stores them);
other classes (cells, structs, chars, sparse) are skipped. Anything inconsistent raises
:class:`~tmkt.data.datasets.base.DatasetError` naming the file.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from tmkt.data.datasets.base import DatasetError

HEADER_BYTES = 128
MI_MATRIX, MI_COMPRESSED = 14, 15
#: data element type -> numpy element type (without byte order)
ELEMENT_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
NUMERIC_CLASSES = range(6, 16)  # double, single, int8 ... uint64
COMPLEX_FLAG = 0x0800


class _Elements:
    """The data elements of one byte string, read in order, every length checked."""

    def __init__(self, raw: bytes, order: str, path: Path):
        self.raw, self.order, self.path, self.at = raw, order, path, 0

    def fail(self, problem: str) -> DatasetError:
        return DatasetError(f"{self.path}: not a readable MATLAB 5 file ({problem} at byte {self.at})")

    def next(self, padded: bool = True) -> tuple[int, bytes]:
        if self.at + 8 > len(self.raw):
            raise self.fail("a data element tag is cut off")
        first, second = np.frombuffer(self.raw, dtype=f"{self.order}u4", count=2, offset=self.at)
        if first >> 16:  # small data element: 4 bytes of data inside the tag
            kind, count, start, span = int(first & 0xFFFF), int(first >> 16), self.at + 4, 8
            if count > 4:
                raise self.fail(f"a small data element claims {count} bytes")
        else:
            kind, count, start = int(first), int(second), self.at + 8
            span = 8 + (count + 7) // 8 * 8 if padded else 8 + count
        if start + count > len(self.raw):
            raise self.fail(f"an element of {count} bytes runs past the end of the data")
        self.at += span
        return kind, self.raw[start:start + count]

    def done(self) -> bool:
        return self.at >= len(self.raw)


def _numbers(kind: int, data: bytes, order: str, elements: _Elements) -> np.ndarray:
    if kind not in ELEMENT_TYPES:
        raise elements.fail(f"numeric data of unknown element type {kind}")
    dtype = np.dtype(f"{order}{ELEMENT_TYPES[kind]}")
    if len(data) % dtype.itemsize:
        raise elements.fail(f"{len(data)} bytes of {dtype} data")
    return np.frombuffer(data, dtype=dtype)


def _matrix(data: bytes, order: str, path: Path) -> tuple[str, np.ndarray] | None:
    """(name, array) of a numeric miMATRIX element, None for other classes."""
    parts = _Elements(data, order, path)
    kind, flags = parts.next()
    if kind != 6 or len(flags) != 8:
        raise parts.fail("a matrix without its array flags")
    word = int(np.frombuffer(flags, dtype=f"{order}u4", count=1)[0])
    matrix_class, is_complex = word & 0xFF, bool(word & COMPLEX_FLAG)
    kind, dims = parts.next()
    if kind != 5 or not dims or len(dims) % 4:
        raise parts.fail("a matrix without int32 dimensions")
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=f"{order}i4"))
    _, name = parts.next()
    if matrix_class not in NUMERIC_CLASSES:
        return None
    if min(shape) < 0:
        raise parts.fail(f"negative dimensions {shape}")
    kind, real = parts.next()
    values = _numbers(kind, real, order, parts)
    if is_complex:
        kind, imaginary = parts.next()
        values = values + 1j * _numbers(kind, imaginary, order, parts)
    if values.size != int(np.prod(shape)):
        raise parts.fail(f"{values.size} values for dimensions {shape}")
    return name.decode("latin-1"), values.reshape(shape, order="F")


def read_mat(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The numeric variables ``names`` of a MATLAB 5 file (those present; the caller checks for missing ones)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc})") from exc
    if len(raw) < HEADER_BYTES:
        raise DatasetError(f"{path}: {len(raw)} bytes is shorter than a MATLAB 5 header ({HEADER_BYTES} bytes)")
    order = {b"IM": "<", b"MI": ">"}.get(raw[126:128])
    if order is None:
        raise DatasetError(f"{path}: no MATLAB 5 endian indicator in the header (found {raw[126:128]!r})")
    version = int(np.frombuffer(raw, dtype=f"{order}u2", count=1, offset=124)[0])
    if version != 0x0100:
        raise DatasetError(
            f"{path}: MAT-file version {version:#06x}"
            + (" (MATLAB 7.3, HDF5)" if version == 0x0200 else "")
            + "; expected MATLAB 5 (0x0100: save -v7 or -v6)"
        )
    elements, found = _Elements(raw, order, path), {}
    elements.at = HEADER_BYTES
    while not elements.done():
        kind, data = elements.next(padded=False)
        elements.at = (elements.at + 7) // 8 * 8 if kind != MI_COMPRESSED else elements.at
        if kind == MI_COMPRESSED:
            try:
                data = zlib.decompress(data)
            except zlib.error as exc:
                raise DatasetError(f"{path}: a compressed variable does not decompress ({exc})") from exc
            inner = _Elements(data, order, path)
            kind, data = inner.next()
        if kind == MI_MATRIX:
            matrix = _matrix(data, order, path)
            if matrix and matrix[0] in names:
                found[matrix[0]] = matrix[1]
    return found
