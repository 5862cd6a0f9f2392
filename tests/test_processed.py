"""Reading the convert stage's outputs: a missing or damaged file is an error that names it and how to rebuild it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tmkt import config
from tmkt.data.datasets.base import DatasetError, Item
from tmkt.data.processed import ProcessedData
from tmkt.data.splits import build_manifest

T, SIZE, CLASSES, PER_CLASS = 2, 4, 2, 5
FILES = ("events.npy", "images.npy", "simulated_images.npy", "manifest.csv", "meta.json")
REBUILD = re.escape("(`dvc repro convert`)")


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> Path:
    """A tiny processed folder as the convert stage writes it, simulated recordings included."""
    items = [Item(id=f"{k}-{i}", class_name=str(k), pair_key=f"{k}-{i}") for k in range(CLASSES) for i in range(PER_CLASS)]
    manifest = build_manifest(items, items, config.section("data", split={"train": 0.6, "val": 0.2, "test": 0.2}))
    folder = tmp_path_factory.mktemp("processed")
    np.save(folder / "events.npy", np.zeros((len(items), T, 2, SIZE, SIZE), np.float16))
    np.save(folder / "images.npy", np.zeros((len(items), SIZE, SIZE), np.uint8))
    np.save(folder / "simulated_images.npy", np.zeros((len(items), T, 2, SIZE, SIZE), np.float16))
    manifest.to_csv(folder / "manifest.csv", index=False)
    (folder / "meta.json").write_text(json.dumps(dict(dataset="synthetic", classes=[str(k) for k in range(CLASSES)])))
    return folder


@pytest.fixture
def folder(valid, tmp_path) -> Path:
    """A fresh copy of the valid folder, for a test to damage."""
    return Path(shutil.copytree(valid, tmp_path / "processed"))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])


def garble(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 4)


def test_the_valid_folder_loads(valid):
    data = ProcessedData.load(valid)
    assert data.classes == ["0", "1"] and data.time_steps == T and data.simulated is not None


def test_a_missing_file_names_it_and_the_convert_stage(folder):
    (folder / "images.npy").unlink()
    with pytest.raises(DatasetError, match=f"lacks images.npy: run the convert stage first {REBUILD}"):
        ProcessedData.load(folder)


@pytest.mark.parametrize("damage", [truncate, garble, lambda path: path.write_bytes(b"")])
@pytest.mark.parametrize("name", FILES)
def test_a_damaged_file_names_it_and_the_convert_stage(folder, name, damage):
    damage(folder / name)
    with pytest.raises(DatasetError) as err:
        ProcessedData.load(folder)
    message = str(err.value)
    assert str(folder) in message and name in message and "damaged" in message, message
    assert re.search(REBUILD, message) and "allow_pickle" not in message, message


@pytest.mark.parametrize("text, reason", [('{"dataset": "x"', "Expecting"), ('["0", "1"]', "'classes' list")])
def test_meta_that_is_not_the_expected_json_object_says_what_is_wrong(folder, text, reason):
    (folder / "meta.json").write_text(text)
    with pytest.raises(DatasetError, match=f"meta.json is damaged: .*{reason}.*{REBUILD}"):
        ProcessedData.load(folder)


def test_a_manifest_cut_at_a_line_end_disagrees_with_the_arrays(folder):
    lines = (folder / "manifest.csv").read_text().splitlines(keepends=True)
    (folder / "manifest.csv").write_text("".join(lines[:-3]))
    with pytest.raises(DatasetError, match=f"manifest.csv lists 7 image rows but images.npy holds 10: .*{REBUILD}"):
        ProcessedData.load(folder)
