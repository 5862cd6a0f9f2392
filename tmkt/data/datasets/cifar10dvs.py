"""CIFAR10-DVS recordings with CIFAR-10 images of the same ten classes.

CIFAR10-DVS (Li et al. 2017, Front. Neurosci. 11:309; figshare "CIFAR10-DVS New") holds 10,000
recordings (1,000 per class) of CIFAR-10 images moved on a monitor in front of a DVS128 (128 x 128
pixels), filed as ``<class>/<name>.aedat``. Which CIFAR-10 image each recording shows is not published,
so ``pair_key`` is None in both modalities: the split cannot keep a recording's source image out of the
image pool (a known, unavoidable leak for this dataset). Recordings have no official split; CIFAR-10
images have one (``data_batch_1..5`` = train, ``test_batch`` = test). Classes are matched by name with
CIFAR-10's ``batches.meta``.

AEDAT 2.0 (the original files): '#' header lines, then big-endian (uint32 address, uint32 timestamp in
microseconds) records, parsed by ``tonic.io`` (``read_aedat_header_from_file``, ``get_aer_events_from_file``;
tonic 1.7's ``read_dvs_128`` cannot be called: it unpacks the header reader's three return values
into two). A DVS128 address holds 15 bits::

    bit 0       polarity bit (0 = ON, 1 = OFF: jAER's DVS128 convention)
    bits 1-7    a = first coordinate          bits 8-14   b = second coordinate

and is decoded as SpikingJelly's CIFAR10-DVS loader does, the reference of most CIFAR10-DVS results:
``x = 127 - b, y = 127 - a, p = ON``. (jAER's generic DVS128 convention is x = 127 - a, y = b with y
pointing up; SpikingJelly's decoding is that picture with rows and columns swapped, and tonic's
``read_dvs_128`` likewise takes b as x. Not checked here against real recordings.) An address with bits
above 14 set is not a pixel and raises :class:`~tmkt.data.datasets.base.DatasetError`, as do a truncated
record, a non-2.x version, backwards timestamps and an empty file.

AEDAT 4 (``.aedat4``, tonic's conversion of the same recordings) is decoded with ``tonic.io.read_aedat4``,
which needs the optional ``aedat`` package; x, y and polarity are taken as the conversion stored them.
Keep one format per recording: a stem present as both raises DatasetError. t is left as stored in
either format (the recorder's microsecond clock, not shifted to 0).
"""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path

import numpy as np
from tonic.io import get_aer_events_from_file, read_aedat4, read_aedat_header_from_file

from tmkt.data.datasets.base import DatasetError, Item, ScannedItems, as_events, check_events
from tmkt.data.datasets.imagefiles import class_folders, read_cifar_batch, read_cifar_label_names

EVENT_FOLDER = Path("CIFAR10-DVS")
IMAGE_FOLDER = Path("CIFAR-10") / "cifar-10-batches-py"
EVENT_SUFFIXES = (".aedat", ".aedat4")
#: official split -> CIFAR-10 python batch files
BATCHES: dict[str, tuple[str, ...]] = {
    "train": tuple(f"data_batch_{k}" for k in range(1, 6)),
    "test": ("test_batch",),
}
AEDAT2_RECORD_BYTES = 8
DVS128_SIDE = 128

LAYOUT = """\
data/raw/
├── CIFAR10-DVS/                  Li et al. 2017, figshare "CIFAR10-DVS New" (one zip per class)
│   ├── airplane/<name>.aedat ... AEDAT 2.0 originals, or tonic's converted <name>.aedat4
│   └── ... automobile bird cat deer dog frog horse ship truck
└── CIFAR-10/                     Krizhevsky 2009, cs.toronto.edu/~kriz/cifar.html (cifar-10-python.tar.gz)
    └── cifar-10-batches-py/
        ├── batches.meta
        ├── data_batch_1 ... data_batch_5
        └── test_batch"""


def _layout_error(problem: str) -> DatasetError:
    return DatasetError(f"CIFAR10-DVS/CIFAR-10: {problem}\nExpected layout (data.dataset: cifar10dvs):\n{LAYOUT}")


def read_dvs128_aedat2(path: Path) -> np.ndarray:
    """The events of a DVS128 AEDAT 2.0 file as ``events_struct`` (see the module doc for the decoding)."""
    path = Path(path)
    try:
        version, data_start, _ = read_aedat_header_from_file(str(path))
    except Exception as exc:  # tonic's header parser fails in many ways on a bad header
        raise DatasetError(f"{path}: cannot read an AEDAT header ({exc!r}); expected '#!AER-DAT2.0' first") from exc
    if not 2 <= version < 3:
        raise DatasetError(f"{path}: AEDAT version {version}, expected 2.x (the original CIFAR10-DVS files)")
    body_bytes = path.stat().st_size - data_start
    if body_bytes % AEDAT2_RECORD_BYTES:
        raise DatasetError(
            f"{path}: {body_bytes} data bytes is not a multiple of {AEDAT2_RECORD_BYTES} "
            "(address + timestamp records); the file is truncated"
        )
    records = get_aer_events_from_file(str(path), version, data_start)
    address = records["address"].astype(np.int64)
    if (address >> 15).any():
        i = int(np.flatnonzero(address >> 15)[0])
        raise DatasetError(f"{path}: record {i} has address {address[i]:#x}, not a DVS128 pixel (15 bits)")
    first, second = (address >> 1) & 0x7F, (address >> 8) & 0x7F
    events = as_events(
        DVS128_SIDE - 1 - second, DVS128_SIDE - 1 - first, records["timeStamp"].astype(np.int64), (address & 1) == 0
    )
    return check_events(events, path, (DVS128_SIDE, DVS128_SIDE, 2))


def read_dvs128_aedat4(path: Path) -> np.ndarray:
    """The events of an AEDAT 4 file as ``events_struct``; needs the optional ``aedat`` package."""
    path = Path(path)
    try:
        importlib.import_module("aedat")
    except ImportError as exc:
        raise DatasetError(
            f"{path}: reading AEDAT 4 files needs the 'aedat' package, which is not installed "
            "(pip install aedat), or use the original AEDAT 2.0 .aedat files"
        ) from exc
    try:
        raw = read_aedat4(str(path))
        events = as_events(raw["x"], raw["y"], raw["t"].astype(np.int64), raw["on"])
    except Exception as exc:  # the decoder's own errors (corrupt file, no event stream, other fields)
        raise DatasetError(f"{path}: cannot decode as an AEDAT 4 event stream ({exc!r})") from exc
    return check_events(events, path, (DVS128_SIDE, DVS128_SIDE, 2))


class CIFAR10DVS(ScannedItems):
    """CIFAR10-DVS recordings and CIFAR-10 images under ``raw_dir`` (see :data:`LAYOUT`)."""

    name = "cifar10dvs"
    sensor_size = (DVS128_SIDE, DVS128_SIDE, 2)

    def __init__(self, raw_dir: Path):
        self.raw_dir = Path(raw_dir)
        image_root = self.raw_dir / IMAGE_FOLDER
        needed = ["batches.meta", *(name for names in BATCHES.values() for name in names)]
        missing = [name for name in needed if not (image_root / name).is_file()]
        if missing:
            raise _layout_error(f"missing {', '.join(missing)} in {image_root}")
        self.classes = read_cifar_label_names(image_root / "batches.meta")
        self._batches: dict[Path, tuple[np.ndarray, np.ndarray]] = {}
        self._image_items = [
            item for split in BATCHES for item in self._batch_items(split, [image_root / n for n in BATCHES[split]])
        ]
        self._event_items = self._scan_recordings(self.raw_dir / EVENT_FOLDER)

    def _batch(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        if path not in self._batches:
            self._batches[path] = read_cifar_batch(path)
        return self._batches[path]

    def _batch_items(self, split: str, paths: list[Path]) -> list[Item]:
        items: list[Item] = []
        for path in paths:
            labels = self._batch(path)[1]
            if labels.min() < 0 or labels.max() >= len(self.classes):
                raise DatasetError(f"{path}: labels outside 0..{len(self.classes) - 1} (batches.meta's classes)")
            items += [
                Item(
                    id=f"{split}/{len(items) + row:05d}",
                    class_name=self.classes[label],
                    official_split=split,
                    path=path,
                    index=row,
                )
                for row, label in enumerate(labels)
            ]
        return items

    def _scan_recordings(self, root: Path) -> list[Item]:
        if not root.is_dir():
            raise _layout_error(f"missing folder {root}")
        folders = {folder.name: folder for folder in class_folders(root)}
        if set(folders) != set(self.classes):
            raise _layout_error(
                f"class folders of {root} are {sorted(folders)}, expected CIFAR-10's classes {self.classes}"
            )
        items: list[Item] = []
        for label in self.classes:
            paths = sorted(p for p in folders[label].iterdir() if p.suffix.lower() in EVENT_SUFFIXES)
            if not paths:
                raise _layout_error(f"class folder {folders[label]} holds no .aedat/.aedat4 recordings")
            twice = sorted(stem for stem, n in Counter(p.stem for p in paths).items() if n > 1)
            if twice:
                raise DatasetError(
                    f"{folders[label]}: recordings {', '.join(twice[:5])} are present both as .aedat and "
                    ".aedat4; keep one format per recording"
                )
            items += [Item(id=f"{label}/{p.stem}", class_name=label, path=p) for p in paths]
        return items

    def read_events(self, item: Item) -> np.ndarray:
        if item.path.suffix.lower() == ".aedat4":
            return read_dvs128_aedat4(item.path)
        return read_dvs128_aedat2(item.path)

    def read_image(self, item: Item) -> np.ndarray:
        """The 32 x 32 x 3 uint8 image (its batch is loaded once, then served from memory)."""
        return self._batch(item.path)[0][item.index].copy()
