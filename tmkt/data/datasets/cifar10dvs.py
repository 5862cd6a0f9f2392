"""CIFAR10-DVS recordings with CIFAR-10 images of the same ten classes.

CIFAR10-DVS (Li et al. 2017, Front. Neurosci. 11:309; figshare "CIFAR10-DVS New") holds 10,000
recordings (1,000 per class) of CIFAR-10 images moved on a monitor in front of a DVS128 (128 x 128
pixels), filed as ``<class>/<name>.aedat``. Which CIFAR-10 image each recording shows is not published,
so ``pair_key`` is None in both modalities: the split cannot keep a recording's source image out of the
image pool (a known, unavoidable leak for this dataset). Recordings have no official split; CIFAR-10
images have one (``data_batch_1..5`` = train, ``test_batch`` = test). Classes are matched by name with
CIFAR-10's ``batches.meta``.

AEDAT 2.0 (the original files) is read by :mod:`tmkt.data.datasets.aedat`. A DVS128 address holds 15 bits::

    bit 0       polarity bit (0 = ON, 1 = OFF: jAER's DVS128 convention)
    bits 1-7    a = the column as the chip counts it      bits 8-14   b = the row, counted from the bottom

Which way up the picture is, is the option ``data.readers.dvs128_orientation``:

- ``jaer``: ``x = 127 - a, y = 127 - b``. jAER's DVS128 convention (x = 127 - a, y = b with y pointing up),
  written with rows counted from the top as in an image array: the picture jAER shows.
- ``transposed``: ``x = 127 - b, y = 127 - a``, rows and columns swapped. SpikingJelly's CIFAR10-DVS loader
  decodes this way (tonic's ``read_dvs_128`` likewise takes b as x), so most published CIFAR10-DVS results
  saw this picture; on a jAER DVS128 recording of a person walking it shows the person lying on their side.

Whether CIFAR10-DVS's recordings are upright under ``jaer`` (the camera's convention) is not checked here
against the CIFAR-10 images: the convert notebook shows an accumulated event image beside an image of
the same class so the user can see it. An address with bits above 14 set is not a pixel and raises
:class:`~tmkt.data.datasets.base.DatasetError`, as do a truncated record, a non-2.x version, backwards
timestamps and a recording without events (header only).

AEDAT 4 (``.aedat4``, tonic's conversion of the same recordings) is decoded with the ``aedat`` package;
x, y and polarity are taken as the conversion stored them, and the stream's own sensor size must be
128 x 128. Keep one format per recording: a stem present as both raises DatasetError. t is left as stored
in either format (the recorder's microsecond clock, not shifted to 0).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from tmkt.config import Dvs128Orientation, ReaderOptions
from tmkt.data.datasets.aedat import read_aedat2_records, read_aedat4
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


def read_dvs128_aedat2(path: Path, orientation: Dvs128Orientation) -> np.ndarray:
    """The events of a DVS128 AEDAT 2.0 file as ``events_struct`` (see the module doc for the decoding)."""
    path = Path(path)
    records = read_aedat2_records(path)
    address = records["address"].astype(np.int64)
    if (address >> 15).any():
        i = int(np.flatnonzero(address >> 15)[0])
        raise DatasetError(f"{path}: record {i} has address {address[i]:#x}, not a DVS128 pixel (15 bits)")
    column, row_up = (address >> 1) & 0x7F, (address >> 8) & 0x7F
    x, y = DVS128_SIDE - 1 - column, DVS128_SIDE - 1 - row_up
    if orientation == "transposed":
        x, y = y, x
    events = as_events(x, y, records["timeStamp"].astype(np.int64), (address & 1) == 0)
    return check_events(events, path, (DVS128_SIDE, DVS128_SIDE, 2))


def read_dvs128_aedat4(path: Path) -> np.ndarray:
    """The events of an AEDAT 4 file as ``events_struct``, from a stream of the DVS128's 128 x 128 pixels."""
    events, (width, height) = read_aedat4(path)
    if (width, height) != (DVS128_SIDE, DVS128_SIDE):
        raise DatasetError(
            f"{path}: the file's event stream is {width}x{height} pixels, but CIFAR10-DVS was recorded with a "
            f"{DVS128_SIDE}x{DVS128_SIDE} DVS128; expected a conversion of a CIFAR10-DVS recording"
        )
    return check_events(events, path, (DVS128_SIDE, DVS128_SIDE, 2))


class CIFAR10DVS(ScannedItems):
    """CIFAR10-DVS recordings and CIFAR-10 images under ``raw_dir`` (see :data:`LAYOUT`)."""

    name = "cifar10dvs"
    sensor_size = (DVS128_SIDE, DVS128_SIDE, 2)

    def __init__(self, raw_dir: Path, options: ReaderOptions):
        self.raw_dir = Path(raw_dir)
        self.orientation = options.dvs128_orientation
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
        return read_dvs128_aedat2(item.path, self.orientation)

    def read_image(self, item: Item) -> np.ndarray:
        """The 32 x 32 x 3 uint8 image (its batch is loaded once, then served from memory)."""
        return self._batch(item.path)[0][item.index].copy()
