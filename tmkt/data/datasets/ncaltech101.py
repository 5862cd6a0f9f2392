"""N-Caltech101 recordings paired with the Caltech101 pictures they were recorded from.

N-Caltech101 (Orchard et al. 2015, Front. Neurosci. 9:437; garrickorchard.com/datasets/n-caltech101)
holds one ATIS recording (at most 240 x 180 pixels, three saccades, ~300 ms) per Caltech101 picture
(Fei-Fei et al. 2004), filed as ``Caltech101/<class>/image_NNNN.bin`` beside Caltech101's
``101_ObjectCategories/<class>/image_NNNN.jpg``. Recording and picture share the class folder and the
file stem, so ``pair_key = "<canonical class>/<stem>"`` in both modalities. There is no official split.

Classes are matched by folder name, never by position. The canonical class is the N-Caltech101 folder
name; :data:`FOLDER_ALIASES` lists the folder names that are not a canonical class. Both datasets spell
the 100 shared object classes and ``BACKGROUND_Google`` identically; the one difference is Caltech101's
``Faces``: it holds other crops of the very photographs in ``Faces_easy``, so N-Caltech101 dropped it
("to avoid confusion, leaving 100 object classes plus a background class", Orchard's dataset page). It
is skipped, never merged into ``Faces_easy``: that would put a second copy of a recording's source
photograph into the image pool under another name. ``BACKGROUND_Google`` (clutter, no object) is kept when
``data.readers.ncaltech101_background`` is true: 101 classes and 8,709 recordings, the class list of
He et al. and TMKT; false leaves the 100 object classes. A class folder present in one dataset only raises
:class:`~tmkt.data.datasets.base.DatasetError` naming it (add its spelling to :data:`FOLDER_ALIASES`).

Events are read as stored (x, y in the recording's own frame, not shifted to start at 0; t in the
recording's microsecond clock; p: True = ON); see ``atis.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmkt.config import ReaderOptions
from tmkt.data.datasets.atis import read_atis_bin
from tmkt.data.datasets.base import DatasetError, Item, ScannedItems
from tmkt.data.datasets.imagefiles import IMAGE_SUFFIXES, class_folders, read_image_file

EVENT_FOLDER = Path("N-Caltech101") / "Caltech101"
IMAGE_FOLDER = Path("Caltech101") / "101_ObjectCategories"
BACKGROUND = "BACKGROUND_Google"
#: Folder name (either dataset) -> canonical class, for folder names that are not one; None: skipped.
FOLDER_ALIASES: dict[str, str | None] = {
    "Faces": None,  # Caltech101 only: re-crops of the Faces_easy photographs, removed from N-Caltech101
}

LAYOUT = """\
data/raw/
├── N-Caltech101/                 Orchard et al. 2015, garrickorchard.com/datasets/n-caltech101
│   └── Caltech101/               (Caltech101.zip inside the N-Caltech101 archive)
│       ├── airplanes/image_0001.bin ...
│       └── ... one folder per class (100 classes + BACKGROUND_Google)
└── Caltech101/                   Fei-Fei et al. 2004, data.caltech.edu (101_ObjectCategories.tar.gz)
    └── 101_ObjectCategories/
        ├── airplanes/image_0001.jpg ...
        └── ... one folder per class (Faces is not used)"""


def _layout_error(problem: str) -> DatasetError:
    return DatasetError(f"N-Caltech101/Caltech101: {problem}\nExpected layout (data.dataset: ncaltech101):\n{LAYOUT}")


class NCaltech101(ScannedItems):
    """N-Caltech101 recordings and Caltech101 pictures under ``raw_dir`` (see :data:`LAYOUT`)."""

    name = "ncaltech101"
    sensor_size = (240, 180, 2)

    def __init__(self, raw_dir: Path, options: ReaderOptions):
        self.raw_dir = Path(raw_dir)
        self.include_background = options.ncaltech101_background
        recordings = self._scan(self.raw_dir / EVENT_FOLDER, (".bin",))
        pictures = self._scan(self.raw_dir / IMAGE_FOLDER, IMAGE_SUFFIXES)
        unmatched = {
            "N-Caltech101": sorted(set(recordings) - set(pictures)),
            "Caltech101": sorted(set(pictures) - set(recordings)),
        }
        if any(unmatched.values()):
            only = "; ".join(f"only in {name}: {', '.join(c)}" for name, c in unmatched.items() if c)
            raise DatasetError(
                f"class folders do not match between the datasets ({only}); "
                "add the differing spelling to FOLDER_ALIASES in tmkt/data/datasets/ncaltech101.py"
            )
        self._event_items = self._items(recordings)
        self._image_items = self._items(pictures)

    def _scan(self, root: Path, suffixes: tuple[str, ...]) -> dict[str, list[Path]]:
        """Canonical class -> sorted files, for the kept class folders of ``root``."""
        if not root.is_dir():
            raise _layout_error(f"missing folder {root}")
        files: dict[str, list[Path]] = {}
        for folder in class_folders(root):
            label = FOLDER_ALIASES.get(folder.name, folder.name)
            if label is None or (label == BACKGROUND and not self.include_background):
                continue
            found = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)
            if not found:
                raise _layout_error(f"class folder {folder} holds no {'/'.join(suffixes)} files")
            files.setdefault(label, []).extend(found)
        if not files:
            raise _layout_error(f"no class folders in {root}")
        return files

    @staticmethod
    def _items(files: dict[str, list[Path]]) -> list[Item]:
        items = [
            Item(id=f"{label}/{path.stem}", class_name=label, pair_key=f"{label}/{path.stem}", path=path)
            for label, paths in sorted(files.items())
            for path in paths
        ]
        seen: dict[str, Path] = {}
        for item in items:
            if item.id in seen:
                raise DatasetError(f"{item.path} and {seen[item.id]} both claim {item.id}; expected one file per stem")
            seen[item.id] = item.path
        return items

    def read_events(self, item: Item) -> np.ndarray:
        return read_atis_bin(item.path, self.sensor_size)

    def read_image(self, item: Item) -> np.ndarray:
        return read_image_file(item.path)
