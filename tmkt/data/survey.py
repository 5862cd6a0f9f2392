"""A survey of a dataset's raw tree before converting it: what the reader lists, and which files it cannot read.

Run after unpacking a dataset under ``data/raw/`` (data/raw/README.md), before ``dvc repro``::

    tmkt-survey --set data.dataset=nmnist

:func:`survey` summarises a source (:func:`tmkt.data.datasets.open_source`) as a :class:`Survey`, whose
:meth:`Survey.markdown` renders it as Markdown tables:

- recordings and images per class and per official split (from the reader's listing);
- the sensor size, and the ranges (min, median, max) of duration and event count of the readable recordings;
- the empty or unreadable recordings, each with the reader's
  :class:`~tmkt.data.datasets.base.DatasetError` message (which names the file);
- pairing by identity: recordings whose ``pair_key`` is an image's, recordings with no known source image, and
  images no recording was made of. Where no item has a ``pair_key`` (CIFAR10-DVS) there is no identity pairing,
  only shared classes, and the survey says so.

Recordings are read as the convert stage reads them, in worker processes (:func:`tmkt.data.convert.map_items`).
``max_recordings`` reads an even share of every class; ``0`` reads none and leaves the listing's part alone
(what the convert notebook shows before converting). Images are counted, not read. The command exits with 0
when every recording read is readable, 1 when some are not, and 2 when the dataset cannot be opened (the
reader's message shows the expected tree) or the parameters are invalid.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tmkt import config
from tmkt.data.convert import Reading, map_items
from tmkt.data.datasets import open_source
from tmkt.data.datasets.base import DatasetError, Item, Source

MODALITIES = {"event": "recordings", "image": "images"}
NO_SPLIT = "no split"  #: the column of items without an official split


@dataclass(frozen=True)
class Range:
    """Minimum, median and maximum of a quantity over the readable recordings."""

    min: float
    median: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Range | None:
        return cls(float(np.min(values)), float(np.median(values)), float(np.max(values))) if values else None


@dataclass(frozen=True)
class Unreadable:
    """A recording the reader refused: its id, its file and the reader's message."""

    id: str
    path: str
    message: str


@dataclass(frozen=True)
class Pairing:
    """How recordings and images of a source match by ``pair_key``."""

    paired: int  #: recordings whose pair_key is an image's
    unpaired_recordings: int  #: recordings with no known source image
    unrecorded_images: int  #: images no recording was made of


@dataclass
class Survey:
    """What :func:`survey` found; :meth:`markdown` renders it."""

    dataset: str
    sensor_size: tuple[int, int, int] | None  #: (W, H, polarities); None: each recording's own extent
    counts: pd.DataFrame  #: items per class (rows) and (modality, official split) (columns: "recordings"/"images", split)
    read: int  #: recordings read (all, or ``max_recordings``)
    duration_ms: Range | None  #: of the readable recordings read; None when none was
    n_events: Range | None
    largest_xy: tuple[int, int] | None  #: the largest x and y of any event of the readable recordings read
    unreadable: list[Unreadable]
    pairing: Pairing | None  #: None: no pair keys, no identity pairing (classes only)

    def per_class(self, modality: str) -> pd.Series:
        """Items of ``modality`` ("recordings" or "images") per class, over every official split."""
        if modality not in self.counts:
            return pd.Series(0, index=self.counts.index)
        return self.counts[modality].sum(axis=1)

    @property
    def recordings(self) -> int:
        return int(self.per_class("recordings").sum())

    @property
    def images(self) -> int:
        return int(self.per_class("images").sum())

    def classes_with_only(self, modality: str) -> list[str]:
        """Classes holding ``modality`` ("recordings" or "images") and none of the other."""
        other = "images" if modality == "recordings" else "recordings"
        only = (self.per_class(modality) > 0) & (self.per_class(other) == 0)
        return [str(c) for c in self.counts.index[only.to_numpy()]]

    def markdown(self) -> str:
        n_classes = {name: int((self.per_class(name) > 0).sum()) for name in MODALITIES.values()}
        overview = [
            ["sensor (W × H)", "{} × {}, {} polarities".format(*self.sensor_size) if self.sensor_size
             else "none stated: each recording is binned on its own extent"],
            ["recordings", f"{self.recordings:,} of {n_classes['recordings']} classes"],
            ["images", f"{self.images:,} of {n_classes['images']} classes"],
            ["recordings read", f"{self.read:,} of {self.recordings:,}"],
            ["unreadable recordings", f"{len(self.unreadable):,}" if self.read else "not read"],
        ]
        if self.largest_xy:
            x, y = self.largest_xy
            overview.insert(1, ["largest event coordinates", f"x = {x}, y = {y} (of the recordings read)"])
        out = [f"### Survey of `{self.dataset}`", "", _table(["", ""], overview), ""]

        if self.duration_ms and self.n_events:
            out += ["#### Readable recordings", "", _table(
                ["per recording", "min", "median", "max"],
                [["duration (ms)", *(f"{v:,.1f}" for v in _values(self.duration_ms))],
                 ["events", *(f"{v:,.0f}" if v == int(v) else f"{v:,.1f}" for v in _values(self.n_events))]],
            ), ""]
        elif not self.read:
            out += ["No recording was read (`max_recordings=0`): durations, event counts and unreadable files are "
                    "not known yet.", ""]

        columns = list(self.counts.columns)
        rows = [[str(c), *(f"{int(n):,}" for n in self.counts.loc[c])] for c in self.counts.index]
        rows.append(["**total**", *(f"**{int(n):,}**" for n in self.counts.sum(axis=0))])
        out += ["#### Items per class and official split", "",
                _table(["class", *(f"{modality} · {split}" for modality, split in columns)], rows), ""]
        for modality, remark in (("images", "the convert stage leaves them out (nothing to pair them with)"),
                                 ("recordings", "training has no image of their class to pair them with")):
            only = self.classes_with_only(modality)
            if only:
                out += [f"Classes with {modality} only: {', '.join(f'`{c}`' for c in only)}; {remark}.", ""]

        out += ["#### Pairing by identity", ""]
        if self.pairing is None:
            out += ["No identity pairing (classes only): no item has a `pair_key`, so which image a recording was "
                    "made of is unknown and recordings are paired with images of their class.", ""]
        else:
            p = self.pairing
            out += [_table(["", "count", "share"], [
                ["recordings with their source image", f"{p.paired:,}", _share(p.paired, self.recordings, "recordings")],
                ["recordings with no known source image", f"{p.unpaired_recordings:,}",
                 _share(p.unpaired_recordings, self.recordings, "recordings")],
                ["images no recording was made of", f"{p.unrecorded_images:,}",
                 _share(p.unrecorded_images, self.images, "images")],
            ]), ""]

        if self.unreadable:
            out += ["#### Empty or unreadable recordings", "", _table(
                ["recording", "file", "reader's message"],
                [[u.id, f"`{Path(u.path).name}`", u.message] for u in self.unreadable],
            ), ""]
        return "\n".join(out).rstrip() + "\n"


def survey(source: Source, workers: int = 1, progress: bool = False, max_recordings: int | None = None) -> Survey:
    """The survey of ``source``: its listing, and ``max_recordings`` of its recordings (all when None) read."""
    events, images = source.event_items(), source.image_items()
    sample = _even_sample(events, max_recordings)
    results = map_items(_inspect, sample, Reading(source, None), workers, "survey: reading recordings", progress) if sample else []
    readable = [r for r in results if not isinstance(r, Unreadable)]
    return Survey(
        dataset=source.name,
        sensor_size=tuple(source.sensor_size) if source.sensor_size else None,
        counts=_counts(events, images),
        read=len(sample),
        duration_ms=Range.of([r[1] for r in readable]),
        n_events=Range.of([r[0] for r in readable]),
        largest_xy=(max(r[2] for r in readable), max(r[3] for r in readable)) if readable else None,
        unreadable=[r for r in results if isinstance(r, Unreadable)],
        pairing=_pairing(events, images),
    )


def _inspect(reading: Reading, item: Item) -> tuple[int, float, int, int] | Unreadable:
    """(events, duration in ms, largest x, largest y) of one recording, or why it cannot be read."""
    source = reading.source
    path = str(item.path if item.path is not None else item.id)
    try:
        events = source.read_events(item)
    except DatasetError as exc:
        return Unreadable(id=item.id, path=path, message=str(exc))
    if not len(events):  # the readers raise on an empty recording (base.check_events); a source may not
        return Unreadable(id=item.id, path=path, message=f"{path}: the recording holds no events")
    duration_ms = float(events["t"].max() - events["t"].min()) / 1e3
    return len(events), duration_ms, int(events["x"].max()), int(events["y"].max())


def _even_sample(items: list[Item], limit: int | None) -> list[Item]:
    """The first ``limit`` items taken from every class in turn (in id order), so each class gets a share."""
    if limit is None or limit >= len(items):
        return items
    by_class: dict[str, list[Item]] = defaultdict(list)
    for item in sorted(items, key=lambda it: (it.class_name, it.id)):
        by_class[item.class_name].append(item)
    turns = [item for turn in zip_longest(*by_class.values()) for item in turn if item is not None]
    return turns[:limit]


def _counts(events: list[Item], images: list[Item]) -> pd.DataFrame:
    rows = [(MODALITIES[modality], it.official_split or NO_SPLIT, it.class_name)
            for modality, items in (("event", events), ("image", images)) for it in items]
    frame = pd.DataFrame(rows, columns=["modality", "split", "class_name"])
    counts = pd.crosstab(frame["class_name"], [frame["modality"], frame["split"]])
    order = {name: i for i, name in enumerate([*MODALITIES.values(), "train", "test", NO_SPLIT])}
    columns = sorted(counts.columns, key=lambda c: (order[c[0]], order.get(c[1], len(order)), c[1]))
    return counts[columns].rename_axis(index="class", columns=["modality", "split"])


def _pairing(events: list[Item], images: list[Item]) -> Pairing | None:
    if all(it.pair_key is None for it in [*events, *images]):
        return None
    image_keys = {it.pair_key for it in images if it.pair_key is not None}
    event_keys = {it.pair_key for it in events if it.pair_key is not None}
    paired = sum(it.pair_key in image_keys for it in events if it.pair_key is not None)
    return Pairing(
        paired=paired,
        unpaired_recordings=len(events) - paired,
        unrecorded_images=sum(it.pair_key not in event_keys for it in images),
    )


def _values(r: Range) -> tuple[float, float, float]:
    return r.min, r.median, r.max


def _share(count: int, total: int, of: str) -> str:
    return f"{100 * count / total:.1f} % of {of}" if total else "—"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; pipes and line breaks inside a cell are escaped."""
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", "<br>")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ command line
def _overrides(settings: list[str]) -> dict[str, object]:
    """``["data.dataset=nmnist", "data.max_per_class=5"]`` -> dotted overrides, values read as YAML."""
    out = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            raise config.ParamsError(f"--set {setting!r}: expected key=value, e.g. --set data.dataset=nmnist")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _count(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    """``tmkt-survey``: the survey of ``data.dataset`` as Markdown; exit 0 (all readable), 1 (some not), 2 (cannot open)."""
    parser = argparse.ArgumentParser(
        prog="tmkt-survey",
        description="Summarise the dataset under data/raw before converting it: items per class and split, "
                    "durations and event counts, unreadable files, pairing of recordings with images.",
    )
    parser.add_argument("--params", type=Path, default=None,
                        help="parameter file, relative to the current folder (default: the repository's params.yaml)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="override one parameter (dotted key, YAML value), repeatable: --set data.dataset=nmnist")
    parser.add_argument("--workers", type=_count(1), default=None,
                        help="processes reading recordings (default: base.parallel_runs)")
    parser.add_argument("--max-recordings", type=_count(0), default=None, metavar="N",
                        help="read at most N recordings, an even share of every class (0: count only; default: all)")
    args = parser.parse_args(argv)
    try:
        path = args.params.resolve() if args.params is not None else None
        params = config.load(path, _overrides(args.settings), stage="convert")
        source = open_source(params.data, params.simulator)
    except (config.ParamsError, DatasetError) as exc:
        print(exc, file=sys.stderr)
        return 2
    workers = params.base.parallel_runs if args.workers is None else args.workers
    result = survey(source, workers=workers, progress=sys.stderr.isatty(), max_recordings=args.max_recordings)
    print(result.markdown(), end="")
    return 1 if result.unreadable else 0


if __name__ == "__main__":
    raise SystemExit(main())
