"""CEP-DVS recordings paired with the RGB pictures they were recorded from.

CEP-DVS (IEEE 9426390; the release He et al. use) holds 10,000 event recordings of pictures, 500 for
each of 20 classes, which are the 20 superclasses of CIFAR-100 (:data:`CLASSES`). Its layout::

    CEP-DVS/pathFile.csv           a header line, then one line per recording: line n (0-based, after the
                                   header) describes recording n and names its class
    CEP-DVS/data/MAT/img/<n>.mat   recording n: MATLAB variables x, y, ts, p (p = +1 ON, -1 OFF)
    CEP-DVS/data/img/<n>.jpg       the RGB picture recording n was made of

Identity. Recording and picture share the number n, which is the pair key; numbers are compared as
integers (``01891.mat`` is recording 1891) and a number claimed by two files is an error, so neither a
directory listing nor a string sort decides a pair. The class of both is read from line n of
``pathFile.csv``: the one field of the line (split at whitespace and commas) that is a class name. A
recording without its picture, a picture without its recording, a line naming no class (or two) and a
missing line raise :class:`~tmkt.data.datasets.base.DatasetError` naming the file. (He et al.'s code
instead labels recordings in string-sorted and pictures in numerically sorted order and pairs each
recording with a random picture of its class, by position within the training subset.)

Split. None is published (He et al. take the first 250 recordings of each class for training and the
next 100 for testing, by position); ``data.split`` splits by identity.

Geometry. The recordings differ in size (the release does not state a sensor), so ``sensor_size`` is
None: each recording is binned on its own extent, max x + 1 by max y + 1, as tonic's
``ToFrame(sensor_size=None)`` in He et al.'s loader does, and then resized to ``data.height`` x
``data.width``. ``ts`` is kept as stored (its unit is not documented; only its order matters here). The ``.mat`` files are
decoded by :mod:`tmkt.data.datasets.matlab`, not scipy, which crashes on some damaged files.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tmkt.config import ReaderOptions
from tmkt.data.datasets.base import DatasetError, Item, ScannedItems, as_events, check_events, file_size
from tmkt.data.datasets.imagefiles import IMAGE_SUFFIXES, read_image_file
from tmkt.data.datasets.matlab import read_mat

ROOT = Path("CEP-DVS")
LABELS = ROOT / "pathFile.csv"
EVENT_FOLDER = ROOT / "data" / "MAT" / "img"
IMAGE_FOLDER = ROOT / "data" / "img"
#: CIFAR-100's superclasses, the classes of CEP-DVS (labels follow this order).
CLASSES = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2",
)  # fmt: skip
MAT_FIELDS = ("x", "y", "ts", "p")

LAYOUT = """\
data/raw/
└── CEP-DVS/                      IEEE 9426390; the release used by He et al. 2024
    ├── pathFile.csv              a header, then one line per recording naming its class
    └── data/
        ├── MAT/img/<n>.mat       recording n: x, y, ts, p
        └── img/<n>.jpg           the RGB picture of recording n"""


def _layout_error(problem: str) -> DatasetError:
    return DatasetError(f"CEP-DVS: {problem}\nExpected layout (data.dataset: cepdvs):\n{LAYOUT}")


def read_class_lines(path: Path) -> list[str]:
    """The class named by each line of ``pathFile.csv`` after its header, in line order."""
    try:
        lines = [line for line in Path(path).read_text().splitlines()[1:] if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the recordings' classes ({exc})") from exc
    classes = []
    for number, line in enumerate(lines):
        named = [field for field in re.split(r"[\s,]+", line) if field in CLASSES]
        if len(named) != 1:
            raise DatasetError(
                f"{path}: line {number + 2} (recording {number}) names {len(named)} classes ({line[:80]!r}); "
                f"expected exactly one of the 20 CEP-DVS classes"
            )
        classes.append(named[0])
    return classes


def read_cepdvs_mat(path: Path) -> np.ndarray:
    """A CEP-DVS ``.mat`` recording as ``events_struct`` (p: True = ON, i.e. p > 0 in the file)."""
    path = Path(path)
    file_size(path)
    content = read_mat(path, MAT_FIELDS)
    missing = [name for name in MAT_FIELDS if name not in content]
    if missing:
        raise DatasetError(f"{path}: lacks the variables {', '.join(missing)}; expected {', '.join(MAT_FIELDS)}")
    columns = [np.asarray(content[name]).ravel() for name in MAT_FIELDS]
    if len({len(c) for c in columns}) != 1:
        raise DatasetError(f"{path}: x, y, ts and p differ in length ({[len(c) for c in columns]})")
    if not all(np.issubdtype(c.dtype, np.number) for c in columns):
        raise DatasetError(f"{path}: x, y, ts and p must be numeric")
    x, y, t, p = columns
    if not np.isin(p, (-1, 0, 1)).all():
        raise DatasetError(f"{path}: polarities other than -1/0/+1 ({np.unique(p)[:5]})")
    if (np.abs(x) > np.iinfo(np.int16).max).any() or (np.abs(y) > np.iinfo(np.int16).max).any():
        raise DatasetError(f"{path}: coordinates beyond 32767; not a camera's pixel grid")
    return check_events(as_events(x, y, t.astype(np.int64), p > 0), path, None)


def _numbered(folder: Path, suffixes: tuple[str, ...]) -> dict[int, Path]:
    """Number -> file for the ``<n>.<suffix>`` files of ``folder``; two files of one number are an error."""
    if not folder.is_dir():
        raise _layout_error(f"missing folder {folder}")
    found: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in suffixes or not path.stem.isdigit():
            continue
        number = int(path.stem)
        if number in found:
            raise DatasetError(f"{path} and {found[number]} are both number {number}; expected one file per number")
        found[number] = path
    if not found:
        raise _layout_error(f"no <n>{'/'.join(suffixes)} files in {folder}")
    return found


class CEPDVS(ScannedItems):
    """CEP-DVS recordings and their RGB pictures under ``raw_dir`` (see :data:`LAYOUT`)."""

    name = "cepdvs"
    sensor_size = None

    def __init__(self, raw_dir: Path, options: ReaderOptions):
        """``options`` (``data.readers``) holds nothing CEP-DVS needs; every reader takes it."""
        self.raw_dir = Path(raw_dir)
        if not (self.raw_dir / LABELS).is_file():
            raise _layout_error(f"missing {self.raw_dir / LABELS}")
        classes = read_class_lines(self.raw_dir / LABELS)
        recordings = _numbered(self.raw_dir / EVENT_FOLDER, (".mat",))
        pictures = _numbered(self.raw_dir / IMAGE_FOLDER, IMAGE_SUFFIXES)
        unmatched = {
            "recordings without a picture": sorted(set(recordings) - set(pictures)),
            "pictures without a recording": sorted(set(pictures) - set(recordings)),
            "recordings without a line in pathFile.csv": sorted(n for n in recordings if n >= len(classes)),
        }
        if any(unmatched.values()):
            problems = "; ".join(f"{what}: {numbers[:5]}" for what, numbers in unmatched.items() if numbers)
            raise DatasetError(f"CEP-DVS under {self.raw_dir}: {problems}; expected one <n>.mat, <n>.jpg and line per n")
        self._event_items = [self._item(n, classes[n], path) for n, path in sorted(recordings.items())]
        self._image_items = [self._item(n, classes[n], path) for n, path in sorted(pictures.items())]

    @staticmethod
    def _item(number: int, class_name: str, path: Path) -> Item:
        return Item(id=f"{number:05d}", class_name=class_name, pair_key=str(number), path=path)

    def read_events(self, item: Item) -> np.ndarray:
        return read_cepdvs_mat(item.path)

    def read_image(self, item: Item) -> np.ndarray:
        return read_image_file(item.path)
