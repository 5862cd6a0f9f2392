"""Stage ``convert``: a dataset source -> paired, time-binned arrays + a manifest in ``data/processed``.

Outputs (written into a temporary folder that replaces ``data/processed`` only once complete):

- ``events.npy``  float16 (N_e, T, 2, H, W): each recording cut into T equal-duration bins of ON/OFF
  event counts (``tmkt.data.frames.to_frames``), resized to H×W, normalised by ``data.frame_norm``;
- ``images.npy``  uint8 (N_i, H, W): the HSV value channel of each image (×255), centred on the sensor
  canvas where the recording framed it that way (MNIST family), resized to H×W. It is repeated to
  2 channels × T steps at load time (``tmkt.data.processed``);
- ``simulated_images.npy``  float16 (N_i, T, 2, H, W), only with ``data.simulated_images``: a simulated
  recording of every image (``tmkt.data.datasets.simulator.record_image``, ``simulator:``), framed like the
  recordings; row i records image row i;
- ``manifest.csv``  one row per item: modality, row (index into its array), id, class_name, label,
  pair_key, official_split, split, n_events, duration_ms (events only);
- ``meta.json``  dataset, classes, shapes, the data parameters.

Every file is a function of the source and the parameters alone (no timings, no paths), so the folder's
DVC hash is the same on every run of the same machine and a forced re-run of this stage does not cascade
into the training stages. Per-step timings travel in :class:`ConvertResult` instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tmkt import atomic, layout
from tmkt.parallel import map_in_processes
from tmkt.terminal import duration, say
from tmkt.config import DataConfig, Params, SimulatorConfig
from tmkt.data import frames
from tmkt.data.datasets import open_source
from tmkt.data.datasets.base import Item, Source
from tmkt.data.datasets.simulator import record_image
from tmkt.data.splits import build_manifest


def cap_per_class(items: list[Item], max_per_class: int | None) -> list[Item]:
    """The first ``max_per_class`` items of each class in id order (all when None)."""
    if max_per_class is None:
        return items
    seen: dict[str, int] = {}
    kept = []
    for item in sorted(items, key=lambda it: (it.class_name, it.id)):
        if seen.get(item.class_name, 0) < max_per_class:
            seen[item.class_name] = seen.get(item.class_name, 0) + 1
            kept.append(item)
    return kept


@dataclass(frozen=True)
class Reading:
    """What every item of a conversion needs: the source, the data parameters and, for the simulated recordings
    of the images, the simulator's. :func:`map_items` sends it once to each worker process."""

    source: Source
    data: DataConfig | None
    simulator: SimulatorConfig | None = None


def _one_thread() -> None:
    """A worker's torch runs on one thread: the workers already fill the cores."""
    torch.set_num_threads(1)


def _framed(events: np.ndarray, sensor: tuple[int, int, int] | None, data: DataConfig) -> np.ndarray:
    """A recording as the stage's float16 (T, 2, H, W) frames; ``sensor`` None: binned on its own extent."""
    return frames.FramePipeline.of(data)(events, sensor).astype(np.float16)


def _event_frames(reading: Reading, item: Item) -> tuple[np.ndarray, int, float]:
    events = reading.source.read_events(item)
    duration_us = float(events["t"].max() - events["t"].min()) if len(events) else 0.0
    return _framed(events, reading.source.sensor_size, reading.data), len(events), duration_us


def _simulated_frames(reading: Reading, job: tuple[Item, int]) -> np.ndarray:
    """The simulator's recording of image ``job[0]`` (row ``job[1]``) as frames on the simulator's canvas."""
    item, row = job
    simulator = reading.simulator
    events = record_image(reading.source.read_image(item), simulator, row)
    return _framed(events, (simulator.canvas, simulator.canvas, 2), reading.data)


def _image_value(reading: Reading, item: Item) -> np.ndarray:
    source, data = reading.source, reading.data
    value = frames.image_to_value(source.read_image(item))
    if source.image_centred_on_sensor:
        value = centre_on_canvas(value, source.sensor_size[1], source.sensor_size[0])
    resized = frames.resize(value, (data.height, data.width), data.resize)
    return np.clip(np.rint(np.asarray(resized) * 255), 0, 255).astype(np.uint8)


def centre_on_canvas(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` (h, w) centred on a zero canvas of (height, width); larger images are centre-cropped."""
    h, w = image.shape
    canvas = np.zeros((height, width), dtype=image.dtype)
    top, left = (height - h) // 2, (width - w) // 2
    src = image[max(0, -top) : max(0, -top) + min(h, height), max(0, -left) : max(0, -left) + min(w, width)]
    canvas[max(0, top) : max(0, top) + src.shape[0], max(0, left) : max(0, left) + src.shape[1]] = src
    return canvas


def map_items(fn, items: list, reading: Reading, workers: int, desc: str, progress: bool) -> list:
    """``[fn(reading, item) for item in items]`` in order, in ``workers`` processes (in this one when
    ``workers <= 1``; :func:`tmkt.parallel.map_in_processes`), each on one torch thread.

    ``fn`` is a module-level function; ``reading`` travels once to each worker, not with every item. The
    convert stage and the survey of a raw tree (:mod:`tmkt.data.survey`) read their files through it.
    """
    return map_in_processes(fn, items, workers, shared=reading, initializer=_one_thread, chunksize=32,
                            progress=progress, label=desc)


@dataclass
class ConvertResult:
    manifest: pd.DataFrame
    meta: dict
    out_dir: Path
    timings: dict[str, float]  # seconds per step: index_and_split_s, events_s, images_s, [simulated_s,] write_s


def convert(params: Params, out_dir: Path, workers: int | None = None, progress: bool = True) -> ConvertResult:
    """Run the whole stage; ``out_dir`` is replaced only when every file is written."""
    data = params.data
    workers = params.base.parallel_runs if workers is None else workers
    timings: dict[str, float] = {}

    start = time.perf_counter()
    source = open_source(params.data, params.simulator)
    event_items = cap_per_class(source.event_items(), data.max_per_class)
    if not event_items:
        raise ValueError(f"dataset {source.name!r} has no event recordings")
    # Images of classes without recordings (e.g. a background class) cannot be paired with anything.
    event_classes = {it.class_name for it in event_items}
    image_items = cap_per_class([it for it in source.image_items() if it.class_name in event_classes], data.max_per_class)
    manifest = build_manifest(event_items, image_items, data)
    timings["index_and_split_s"] = time.perf_counter() - start
    say(f"[convert] {source.name}: {len(event_items)} recordings and {len(image_items)} images of "
        f"{len(event_classes)} classes, split by identity; {workers} process{'es' * (workers != 1)}")

    start = time.perf_counter()
    reading = Reading(source, data, params.simulator if data.simulated_images else None)
    converted = map_items(_event_frames, event_items, reading, workers, "events -> frames", progress)
    event_frames = np.stack([c[0] for c in converted])
    manifest.loc[manifest["modality"] == "event", "n_events"] = [c[1] for c in converted]
    manifest.loc[manifest["modality"] == "event", "duration_ms"] = [c[2] / 1e3 for c in converted]
    timings["events_s"] = time.perf_counter() - start
    say(f"[convert] {len(event_items)} recordings -> {data.time_bins}x2x{data.height}x{data.width} frames in "
        f"{duration(timings['events_s'])}")

    start = time.perf_counter()
    images = np.stack(map_items(_image_value, image_items, reading, workers, "images -> V channel", progress))
    timings["images_s"] = time.perf_counter() - start
    say(f"[convert] {len(image_items)} images -> value channels in {duration(timings['images_s'])}")

    simulated = None
    if data.simulated_images:
        start = time.perf_counter()
        simulated = np.stack(map_items(_simulated_frames, list(zip(image_items, range(len(image_items)))), reading,
                                       workers, "images -> simulated recordings", progress))
        timings["simulated_s"] = time.perf_counter() - start
        say(f"[convert] {len(image_items)} images -> simulated recordings in {duration(timings['simulated_s'])}")

    classes = manifest.drop_duplicates("label").sort_values("label")["class_name"].tolist()
    meta = dict(
        dataset=source.name,
        classes=classes,
        sensor_size=list(source.sensor_size) if source.sensor_size else None,
        events_shape=list(event_frames.shape),
        images_shape=list(images.shape),
        duration_ms=float(manifest["duration_ms"].median()),
        data=data.model_dump(),
    )
    start = time.perf_counter()
    with atomic.atomic_dir(out_dir) as tmp:
        np.save(tmp / layout.EVENT_FRAMES, event_frames)
        np.save(tmp / layout.IMAGE_VALUES, images)
        if simulated is not None:
            np.save(tmp / layout.SIMULATED_FRAMES, simulated)
        manifest.to_csv(tmp / layout.MANIFEST, index=False)
        atomic.write_json(tmp / layout.META, meta)
    timings["write_s"] = time.perf_counter() - start
    say(f"[convert] wrote {out_dir} in {duration(timings['write_s'])}; "
        f"{duration(sum(timings.values()))} in all")
    return ConvertResult(manifest=manifest, meta=meta, out_dir=out_dir, timings=timings)

