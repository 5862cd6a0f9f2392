"""N-MNIST recordings paired with the MNIST digits they were recorded from.

N-MNIST (Orchard et al. 2015, Front. Neurosci. 9:437; garrickorchard.com/datasets/n-mnist) holds one
ATIS recording (34 x 34 pixels, three saccades, ~300 ms) of each of MNIST's 60,000 training and 10,000
test digits, filed as ``Train|Test/<digit>/<NNNNN>.bin``. The folder gives the official split and the label.

Pairing. The file number is the 1-based position of the digit in the MNIST idx file of the same split:

    Train/<d>/<n>.bin  <->  train-images-idx3-ubyte[n - 1]        Test/<d>/<n>.bin  <->  t10k-images[n - 1]

The dataset's description states only that the recordings are of the same 60,000 + 10,000 samples; the
numbering was established from file names used in public N-MNIST code: ``Train/0/00002.bin`` and
``Test/0/00004.bin``, ``00011.bin``, ``00014.bin`` are zeros exactly where MNIST's label files hold a 0
(0-based train index 1; test indices 3, 10, 13), while a 0-based reading would put them on a 4, 4, 6 and 1.
Because the assumption is checkable, it is checked: every recording's folder digit must equal the MNIST
label at its mapped index, otherwise :class:`~tmkt.data.datasets.base.DatasetError` lists the disagreements.
``pair_key`` is ``"<split>/<0-based MNIST index>"`` for both modalities.

Events are read as stored (t: the recording's own microsecond clock; p: True = ON); see ``atis.py``.

A release without its test split (no ``N-MNIST/Test`` and no ``t10k`` files) is read as a training split alone,
whose recordings a run splits by identity. :func:`write_subset` writes such a release from any N-MNIST tree: the
training recordings numbered ``1 .. first`` and the MNIST digits they record, so that a user of the full release
and a user of a copy of the subset read exactly the same recordings (the compendium's real-data target reads
``first = 1000``: 97, 116, 99, 93, 105, 92, 94, 117, 87, 100 recordings of the digits 0-9).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from tmkt.config import ReaderOptions
from tmkt.data.datasets.atis import read_atis_bin
from tmkt.data.datasets.base import DatasetError, Item, ScannedItems
from tmkt.data.datasets.imagefiles import find_idx, read_idx, write_idx

EVENT_FOLDER = "N-MNIST"
IMAGE_FOLDER = "MNIST"
#: official split -> (N-MNIST folder, MNIST idx file prefix)
SPLITS: dict[str, tuple[str, str]] = {"train": ("Train", "train"), "test": ("Test", "t10k")}
DIGITS = tuple(str(d) for d in range(10))

LAYOUT = """\
data/raw/
├── N-MNIST/                      Orchard et al. 2015, garrickorchard.com/datasets/n-mnist (Train.zip, Test.zip)
│   ├── Train/0/00002.bin ...     one folder per digit 0-9, <NNNNN>.bin ATIS recordings
│   └── Test/0/00004.bin ...
└── MNIST/                        LeCun et al., yann.lecun.com/exdb/mnist (plain or .gz)
    ├── train-images-idx3-ubyte
    ├── train-labels-idx1-ubyte
    ├── t10k-images-idx3-ubyte
    └── t10k-labels-idx1-ubyte"""


def _layout_error(problem: str) -> DatasetError:
    return DatasetError(f"N-MNIST/MNIST: {problem}\nExpected layout (data.dataset: nmnist):\n{LAYOUT}")


class NMNIST(ScannedItems):
    """N-MNIST recordings and MNIST digits under ``raw_dir`` (see :data:`LAYOUT`)."""

    name = "nmnist"
    sensor_size = (34, 34, 2)
    image_centred_on_sensor = True

    def __init__(self, raw_dir: Path, options: ReaderOptions):
        """``options`` (``data.readers``) holds nothing N-MNIST needs; every reader takes it."""
        self.raw_dir = Path(raw_dir)
        self._image_files: dict[str, Path] = {}
        self._labels: dict[str, np.ndarray] = {}
        self._images: dict[str, np.ndarray] = {}
        for split in self._splits():
            prefix = SPLITS[split][1]
            images = find_idx(self.raw_dir / IMAGE_FOLDER, f"{prefix}-images-idx3-ubyte")
            labels = find_idx(self.raw_dir / IMAGE_FOLDER, f"{prefix}-labels-idx1-ubyte")
            if images is None or labels is None:
                raise _layout_error(f"missing {prefix}-images/labels idx files in {self.raw_dir / IMAGE_FOLDER}")
            self._image_files[split] = images
            self._labels[split] = read_idx(labels)
        self._event_items = [item for split in self._splits() for item in self._scan_recordings(split)]

    def _splits(self) -> tuple[str, ...]:
        """Both official splits, or the training split alone when the release has no trace of the test split."""
        test_folder, prefix = SPLITS["test"]
        has_test = (self.raw_dir / EVENT_FOLDER / test_folder).exists() or any(
            find_idx(self.raw_dir / IMAGE_FOLDER, f"{prefix}-{kind}-idx{d}-ubyte") for kind, d in (("images", 3), ("labels", 1)))
        return tuple(SPLITS) if has_test else ("train",)

    def _scan_recordings(self, split: str) -> list[Item]:
        folder = self.raw_dir / EVENT_FOLDER / SPLITS[split][0]
        missing = [d for d in DIGITS if not (folder / d).is_dir()]
        if missing:
            raise _layout_error(f"{folder} lacks the digit folders {', '.join(missing)}")
        labels = self._labels[split]
        items, disagreements = [], []
        for digit in DIGITS:
            for path in sorted((folder / digit).glob("*.bin")):
                if not path.stem.isdigit() or not 1 <= int(path.stem) <= len(labels):
                    raise DatasetError(
                        f"{path}: expected a file number 00001-{len(labels):05d} (the 1-based MNIST {split} index)"
                    )
                index = int(path.stem) - 1
                if str(labels[index]) != digit:
                    disagreements.append(f"{path} (MNIST label {labels[index]})")
                items.append(
                    Item(
                        id=f"{split}/{digit}/{path.stem}",
                        class_name=digit,
                        pair_key=f"{split}/{index}",
                        official_split=split,
                        path=path,
                    )
                )
        if disagreements:
            raise DatasetError(
                f"{len(disagreements)} N-MNIST recordings disagree with the MNIST label at their mapped index "
                f"(file number n -> MNIST index n - 1), e.g. {'; '.join(disagreements[:5])}"
            )
        if not items:
            raise _layout_error(f"no .bin recordings under {folder}")
        return items

    def image_items(self) -> list[Item]:
        return [
            Item(
                id=f"{split}/{index:05d}",
                class_name=str(label),
                pair_key=f"{split}/{index}",
                official_split=split,
                path=self._image_files[split],
                index=index,
            )
            for split, labels in self._labels.items()
            for index, label in enumerate(labels)
        ]

    def read_events(self, item: Item) -> np.ndarray:
        return read_atis_bin(item.path, self.sensor_size)

    def read_image(self, item: Item) -> np.ndarray:
        """The 28 x 28 uint8 digit (loaded once per split, then served from memory)."""
        split = item.official_split
        if split not in self._images:
            images = read_idx(self._image_files[split])
            if images.ndim != 3 or len(images) != len(self._labels[split]):
                raise DatasetError(
                    f"{self._image_files[split]}: holds images of shape {images.shape}, expected "
                    f"({len(self._labels[split])}, H, W) to match the label file"
                )
            self._images[split] = images
        return self._images[split][item.index].copy()


def write_subset(source: Path, out: Path, first: int) -> dict[str, int]:
    """A training-only N-MNIST release under ``out``: the training recordings of ``source`` numbered ``1 .. first``
    (copied) and the first ``first`` MNIST training digits and labels. ``source`` may be the full release or a
    subset holding at least these files; a missing recording or too few digits is an error naming what is missing.
    Returns the recordings per digit."""
    source, out = Path(source), Path(out)
    train_folder, prefix = SPLITS["train"]
    images = find_idx(source / IMAGE_FOLDER, f"{prefix}-images-idx3-ubyte")
    labels = find_idx(source / IMAGE_FOLDER, f"{prefix}-labels-idx1-ubyte")
    if images is None or labels is None:
        raise _layout_error(f"missing {prefix}-images/labels idx files in {source / IMAGE_FOLDER}")
    digits, label_array = read_idx(images), read_idx(labels)
    if len(label_array) < first:
        raise DatasetError(f"{labels} holds {len(label_array)} digits; the subset needs the first {first}")
    wanted = {n: f"{train_folder}/{label_array[n - 1]}/{n:05d}.bin" for n in range(1, first + 1)}
    missing = [name for name in wanted.values() if not (source / EVENT_FOLDER / name).is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} of the {first} recordings are not under {source / EVENT_FOLDER}, "
                           f"e.g. {', '.join(missing[:3])}")
    if out.exists():
        shutil.rmtree(out)
    for name in wanted.values():
        (out / EVENT_FOLDER / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / EVENT_FOLDER / name, out / EVENT_FOLDER / name)
    for digit in DIGITS:  # a digit without a recording among the first still has its folder
        (out / EVENT_FOLDER / train_folder / digit).mkdir(parents=True, exist_ok=True)
    write_idx(out / IMAGE_FOLDER / f"{prefix}-images-idx3-ubyte", digits[:first])
    write_idx(out / IMAGE_FOLDER / f"{prefix}-labels-idx1-ubyte", label_array[:first])
    return {d: int((label_array[:first] == int(d)).sum()) for d in DIGITS}
