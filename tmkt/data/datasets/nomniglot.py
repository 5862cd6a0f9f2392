"""N-Omniglot recordings paired with the Omniglot drawings they replay.

N-Omniglot (Li et al. 2022, "N-Omniglot, a large-scale neuromorphic dataset for spatio-temporal sparse
few-shot learning", Sci. Data 9:746; figshare 16821427) replays the strokes of every Omniglot drawing
(Lake et al. 2015; 1,623 characters of 50 alphabets, each drawn by 20 people) on a monitor in front of a
DAVIS346 (346 x 260 pixels). The raw release holds one AEDAT 4 file per character with all 20 drawings
one after another, and beside it a CSV whose 20 rows (after a header) give the start and end timestamp
of each drawing, in drawer order::

    N-Omniglot/dvs_background/<alphabet>/characterNN/<id>.aedat4 + <id>.csv    (and dvs_evaluation/)
    Omniglot/images_background/<alphabet>/characterNN/<id>_<rr>.png            (and images_evaluation/)

Identity. The class is ``<alphabet>/characterNN``, the folder names both datasets share; the sample is
the drawer: CSV row k (1-based) is the drawing Omniglot files as ``_<rr>.png`` with rr = k. So
``pair_key = "<alphabet>/characterNN/<k>"`` in both modalities, never a position in a folder listing.
Checks that fail loudly: the two datasets must have the same character folders, every character folder
exactly one image per drawer 01-20 and exactly one recording with a 20-row CSV.

Split. The benchmark's own: drawers 1-15 train, 16-20 test (``official_split``), the split of He et al.
and TMKT; a drawing and its recording share it.

Geometry. The stream's sensor size is read from the file and must be 346 x 260. The characters are
shown in the central 250 x 250 window, columns 54-303 and rows 4-253 (the crop of the authors' loader):
events outside it are dropped and the window is the sensor of this source, so square Omniglot drawings
and recordings share one geometry.

Contrast. Omniglot drawings are dark strokes (0) on white (255); the events of a recording sit on the
strokes. ``data.readers.omniglot_strokes: bright`` inverts the drawings (255 - v) so the image, like the
event activity, is bright on the strokes; ``dark`` keeps them as stored.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from tmkt.config import ReaderOptions
from tmkt.data.datasets.aedat import read_aedat4
from tmkt.data.datasets.base import DatasetError, Item, ScannedItems, check_events
from tmkt.data.datasets.imagefiles import class_folders, read_image_file

SUBSETS: dict[str, tuple[str, str]] = {  # Omniglot's two halves: N-Omniglot folder, Omniglot folder
    "background": ("dvs_background", "images_background"),
    "evaluation": ("dvs_evaluation", "images_evaluation"),
}
EVENT_ROOT, IMAGE_ROOT = Path("N-Omniglot"), Path("Omniglot")
DRAWERS = 20
TRAIN_DRAWERS = 15  #: drawers 1-15 train, 16-20 test
DAVIS346 = (346, 260)
WINDOW = (54, 4, 250, 250)  #: x0, y0, width, height of the area the characters are shown in
_IMAGE_NAME = re.compile(r"^(?P<id>.+)_(?P<drawer>\d{2})\.png$", re.IGNORECASE)

LAYOUT = """\
data/raw/
├── N-Omniglot/                   Li et al. 2022, figshare 16821427 (the raw AEDAT 4 release)
│   ├── dvs_background/<alphabet>/characterNN/<id>.aedat4 + <id>.csv   (20 drawings per file)
│   └── dvs_evaluation/...
└── Omniglot/                     Lake et al. 2015, github.com/brendenlake/omniglot (python/images_*.zip)
    ├── images_background/<alphabet>/characterNN/<id>_01.png ... <id>_20.png
    └── images_evaluation/..."""


def _layout_error(problem: str) -> DatasetError:
    return DatasetError(f"N-Omniglot/Omniglot: {problem}\nExpected layout (data.dataset: nomniglot):\n{LAYOUT}")


def read_segments(path: Path) -> list[tuple[int, int]]:
    """The (start, end) timestamps of the 20 drawings listed in an N-Omniglot CSV (columns 1 and 2)."""
    try:
        with open(path, newline="") as stream:
            rows = [row for row in csv.reader(stream) if row][1:]
        segments = [(int(float(row[1])), int(float(row[2]))) for row in rows]
    except (OSError, UnicodeDecodeError, IndexError, ValueError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read the drawings' start and end timestamps ({exc!r})") from exc
    if len(segments) != DRAWERS:
        raise DatasetError(f"{path}: lists {len(segments)} drawings after its header, expected {DRAWERS}")
    bad = [k + 1 for k, (start, end) in enumerate(segments) if end < start]
    if bad:
        raise DatasetError(f"{path}: drawings {bad} end before they start")
    return segments


class NOmniglot(ScannedItems):
    """N-Omniglot recordings and Omniglot drawings under ``raw_dir`` (see :data:`LAYOUT`)."""

    name = "nomniglot"
    sensor_size = (WINDOW[2], WINDOW[3], 2)

    def __init__(self, raw_dir: Path, options: ReaderOptions):
        self.raw_dir = Path(raw_dir)
        self.invert = options.omniglot_strokes == "bright"
        #: the last file decoded, with its drawings' time segments: a file's 20 drawings are read in turn
        self._decoded: dict[Path, tuple[np.ndarray, list[tuple[int, int]]]] = {}
        self._event_items, self._image_items = [], []
        for subset, (event_folder, image_folder) in SUBSETS.items():
            recordings = self._characters(self.raw_dir / EVENT_ROOT / event_folder)
            drawings = self._characters(self.raw_dir / IMAGE_ROOT / image_folder)
            if set(recordings) != set(drawings):
                only = sorted(set(recordings) ^ set(drawings))[:5]
                raise DatasetError(
                    f"{event_folder} and {image_folder} hold different characters (e.g. {', '.join(only)}); "
                    "expected the same <alphabet>/characterNN folders in both"
                )
            for character in sorted(recordings):
                self._event_items += self._recording_items(character, recordings[character])
                self._image_items += self._drawing_items(character, drawings[character])

    @staticmethod
    def _characters(root: Path) -> dict[str, Path]:
        """``<alphabet>/characterNN`` -> its folder, for every character of one half."""
        if not root.is_dir():
            raise _layout_error(f"missing folder {root}")
        found = {f"{a.name}/{c.name}": c for a in class_folders(root) for c in class_folders(a)}
        if not found:
            raise _layout_error(f"no <alphabet>/characterNN folders in {root}")
        return found

    @staticmethod
    def _item(character: str, drawer: int, path: Path, modality: str) -> Item:
        key = f"{character}/{drawer:02d}"
        split = "train" if drawer <= TRAIN_DRAWERS else "test"
        return Item(id=key, class_name=character, pair_key=key, official_split=split, path=path,
                    index=drawer if modality == "event" else None)

    def _recording_items(self, character: str, folder: Path) -> list[Item]:
        files = sorted(folder.glob("*.aedat4"))
        if len(files) != 1 or not files[0].with_suffix(".csv").is_file():
            raise DatasetError(
                f"{folder}: holds {len(files)} .aedat4 files; expected one <id>.aedat4 with its <id>.csv"
            )
        return [self._item(character, k, files[0], "event") for k in range(1, DRAWERS + 1)]

    def _drawing_items(self, character: str, folder: Path) -> list[Item]:
        by_drawer: dict[int, list[Path]] = {}
        for path in sorted(folder.iterdir()):
            match = _IMAGE_NAME.match(path.name)
            if match:
                by_drawer.setdefault(int(match["drawer"]), []).append(path)
        wrong = {k: len(by_drawer.get(k, [])) for k in range(1, DRAWERS + 1) if len(by_drawer.get(k, [])) != 1}
        extra = sorted(set(by_drawer) - set(range(1, DRAWERS + 1)))
        if wrong or extra:
            raise DatasetError(
                f"{folder}: expected exactly one <id>_<rr>.png per drawer rr = 01..{DRAWERS}; "
                f"drawers with another count: {wrong or 'none'}, drawer numbers out of range: {extra or 'none'}"
            )
        return [self._item(character, k, by_drawer[k][0], "image") for k in range(1, DRAWERS + 1)]

    def _file(self, path: Path) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """(events, the drawings' (start, end) timestamps) of one character's recording."""
        if path not in self._decoded:
            events, size = read_aedat4(path)
            if size != DAVIS346:
                raise DatasetError(
                    f"{path}: the file's event stream is {size[0]}x{size[1]} pixels, but N-Omniglot was recorded "
                    f"with a {DAVIS346[0]}x{DAVIS346[1]} DAVIS346"
                )
            self._decoded = {path: (check_events(events, path, (*DAVIS346, 2)), read_segments(path.with_suffix(".csv")))}
        return self._decoded[path]

    def read_events(self, item: Item) -> np.ndarray:
        """Drawing ``item.index`` of its file: the events from its start to its end timestamp, in the window."""
        events, segments = self._file(item.path)
        start, end = segments[item.index - 1]
        events = events[np.searchsorted(events["t"], start, "left"):np.searchsorted(events["t"], end, "right")]
        x0, y0, width, height = WINDOW
        inside = (events["x"] >= x0) & (events["x"] < x0 + width) & (events["y"] >= y0) & (events["y"] < y0 + height)
        events = events[inside].copy()
        events["x"] -= x0
        events["y"] -= y0
        where = f"{item.path} (drawing {item.index}, {start}-{end} us)"
        return check_events(events, Path(where), self.sensor_size)

    def read_image(self, item: Item) -> np.ndarray:
        drawing = read_image_file(item.path)
        if drawing.ndim != 2:
            raise DatasetError(f"{item.path}: expected a grey Omniglot drawing, found shape {drawing.shape}")
        return 255 - drawing if self.invert else drawing
