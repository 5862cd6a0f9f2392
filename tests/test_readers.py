"""Readers of the real datasets, on tiny files written here in each published format.

The files are written by ``tests/formats.py`` from the format specifications; expected values are derived by hand.
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from formats import (blocks, dvs128_address, write_aedat2, write_aedat4, write_atis, write_cifar_batch, write_idx,
                     write_image, write_nmnist_tree)
from tmkt import config
from tmkt.data.datasets.atis import read_atis_bin
from tmkt.data.datasets.base import DatasetError
from tmkt.data.datasets.cifar10dvs import CIFAR10DVS, read_dvs128_aedat2, read_dvs128_aedat4
from tmkt.data.datasets.imagefiles import read_cifar_batch, read_idx, read_image_file
from tmkt.data.datasets.ncaltech101 import NCaltech101
from tmkt.data.datasets.nmnist import NMNIST

READERS = config.section("data").readers  # params.yaml's data.readers
OBJECTS_ONLY = READERS.model_copy(update={"ncaltech101_background": False})
TRANSPOSED = READERS.model_copy(update={"dvs128_orientation": "transposed"})
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# -------------------------------------------------------------------------------------------- ATIS
def test_atis_round_trip_and_overflow_marker(tmp_path):
    path = tmp_path / "rec.bin"
    # Events 0-2, an overflow marker (y = 240), events 3-4: timestamps after the marker gain 2**13 us.
    x, y, p = [0, 33, 5, 9, 7, 12], [0, 20, 33, 240, 1, 2], [1, 0, 1, 0, 0, 1]
    t = [0, 70, 8_000, 0, 8_001, 2**23 - 1 - 2**13]
    write_atis(path, x, y, p, t)
    events = read_atis_bin(path, (34, 34, 2))
    keep = [0, 1, 2, 4, 5]
    np.testing.assert_array_equal(events["x"], np.take(x, keep))
    np.testing.assert_array_equal(events["y"], np.take(y, keep))
    np.testing.assert_array_equal(events["p"], np.take(p, keep).astype(bool))
    np.testing.assert_array_equal(events["t"], [0, 70, 8_000, 8_001 + 2**13, 2**23 - 1])


@pytest.mark.parametrize(
    "x, y, t, cut, message",
    [
        ([1, 2], [1, 2], [0, 10], 2, "multiple of 5"),
        ([1, 34], [1, 2], [0, 10], 0, "outside the 34x34 sensor"),
        ([1, 2], [1, 34], [0, 10], 0, "outside the 34x34 sensor"),
        ([1, 2], [1, 2], [10, 9], 0, "backwards"),
        ([], [], [], 0, "no events"),
    ],
)
def test_atis_bad_files_raise_naming_the_file(tmp_path, x, y, t, cut, message):
    path = tmp_path / "bad_recording.bin"
    write_atis(path, x, y, [1] * len(t), t)
    if cut:
        path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(DatasetError, match=message) as err:
        read_atis_bin(path, (34, 34, 2))
    assert "bad_recording.bin" in str(err.value)


# ----------------------------------------------------------------------------------------- N-MNIST
MNIST_LABELS = {"train": [5, 0, 4], "t10k": [7, 2, 1, 0]}


@pytest.fixture
def nmnist_raw(tmp_path) -> Path:
    write_nmnist_tree(tmp_path, MNIST_LABELS, np.random.default_rng(0), gzipped=("train",))  # one split gzipped
    # File number n is MNIST index n - 1: train[0] = 5, train[1] = 0, test[0] = 7, test[3] = 0.
    for i, name in enumerate(["Train/5/00001.bin", "Train/0/00002.bin", "Test/7/00001.bin", "Test/0/00004.bin"]):
        write_atis(tmp_path / "N-MNIST" / name, [i, 3], [4, 33], [1, 0], [i, 100 + i])
    return tmp_path


def test_nmnist_items_splits_and_pair_keys(nmnist_raw):
    source = NMNIST(nmnist_raw, READERS)
    events = {item.id: item for item in source.event_items()}
    assert set(events) == {"train/5/00001", "train/0/00002", "test/7/00001", "test/0/00004"}
    assert events["test/0/00004"].official_split == "test" and events["test/0/00004"].class_name == "0"
    images = {item.pair_key: item for item in source.image_items()}
    assert len(images) == 3 + 4
    for item in events.values():
        partner = images[item.pair_key]
        assert partner.class_name == item.class_name and partner.official_split == item.official_split
    assert images[events["test/0/00004"].pair_key].index == 3
    stored = read_idx(nmnist_raw / "MNIST" / "t10k-images-idx3-ubyte")
    np.testing.assert_array_equal(source.read_image(images["test/3"]), stored[3])
    assert source.read_image(images["train/1"]).shape == (28, 28)


def test_nmnist_events_round_trip(nmnist_raw):
    source = NMNIST(nmnist_raw, READERS)
    item = next(i for i in source.event_items() if i.id == "train/0/00002")
    events = source.read_events(item)
    assert events.tolist() == [(1, 4, 1, True), (3, 33, 101, False)]


def test_nmnist_rejects_recording_whose_digit_contradicts_mnist(nmnist_raw):
    write_atis(nmnist_raw / "N-MNIST/Train/4/00001.bin", [1], [1], [1], [0])  # MNIST train[0] is a 5
    with pytest.raises(DatasetError, match=r"Train/4/00001.bin \(MNIST label 5\)"):
        NMNIST(nmnist_raw, READERS)


@pytest.mark.parametrize("remove", ["N-MNIST/Test", "MNIST/t10k-labels-idx1-ubyte"])
def test_nmnist_missing_parts_show_expected_layout(nmnist_raw, remove):
    target = nmnist_raw / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(DatasetError, match="Expected layout") as err:
        NMNIST(nmnist_raw, READERS)
    assert "Train/0/00002.bin" in str(err.value) and "garrickorchard.com" in str(err.value)


def test_a_release_without_its_test_split_is_read_as_a_training_split(nmnist_raw):
    shutil.rmtree(nmnist_raw / "N-MNIST/Test")
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (nmnist_raw / "MNIST" / name).unlink()
    source = NMNIST(nmnist_raw, READERS)
    assert {item.id for item in source.event_items()} == {"train/5/00001", "train/0/00002"}
    assert {item.official_split for item in source.image_items()} == {"train"} and len(source.image_items()) == 3


def test_the_subset_is_the_recordings_numbered_one_to_first_whatever_the_source_holds(nmnist_raw, tmp_path):
    from tmkt.data.datasets.nmnist import write_subset

    write_atis(nmnist_raw / "N-MNIST/Train/4/00003.bin", [2], [2], [1], [5])  # MNIST train[2] is a 4
    out = tmp_path / "subset"
    assert write_subset(nmnist_raw, out, first=2)["5"] == 1
    source = NMNIST(out, READERS)  # training only: the test split is not written
    assert {item.id for item in source.event_items()} == {"train/5/00001", "train/0/00002"}
    np.testing.assert_array_equal(read_idx(out / "MNIST/train-images-idx3-ubyte"),
                                  read_idx(nmnist_raw / "MNIST/train-images-idx3-ubyte.gz")[:2])
    assert (out / "N-MNIST/Train/0/00002.bin").read_bytes() == (nmnist_raw / "N-MNIST/Train/0/00002.bin").read_bytes()
    with pytest.raises(DatasetError, match="holds 3 digits; the subset needs the first 4"):
        write_subset(nmnist_raw, out, first=4)
    (nmnist_raw / "N-MNIST/Train/0/00002.bin").unlink()
    with pytest.raises(DatasetError, match="1 of the 2 recordings .* Train/0/00002.bin"):
        write_subset(nmnist_raw, out, first=2)


def test_idx_truncated_or_wrong_magic_raises_naming_the_file(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    write_idx(path, np.zeros((2, 3, 3), dtype=np.uint8))
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-1]))
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz.*expected 18"):
        read_idx(path)
    path.write_bytes(gzip.compress(bytes([0, 0, 0x0D, 1]) + raw[4:]))  # float idx, not MNIST's ubyte
    with pytest.raises(DatasetError, match="not an unsigned-byte idx"):
        read_idx(path)


# ------------------------------------------------------------------------------------ N-Caltech101
@pytest.fixture
def caltech_raw(tmp_path) -> Path:
    rng = np.random.default_rng(1)
    events, images = tmp_path / "N-Caltech101" / "Caltech101", tmp_path / "Caltech101" / "101_ObjectCategories"
    recorded = ["airplanes/image_0001", "airplanes/image_0002", "Faces_easy/image_0001", "BACKGROUND_Google/image_0001"]
    for name in recorded:
        write_atis(events / f"{name}.bin", [0, 239], [179, 0], [1, 0], [10, 20])
    for name in [*recorded, "airplanes/image_0003", "Faces/image_0001"]:
        write_image(images / f"{name}.jpg", blocks(rng))
    (events / ".DS_Store").write_bytes(b"")  # junk from archive tools is ignored
    return tmp_path


def test_ncaltech101_classes_by_name_and_pair_keys(caltech_raw):
    source = NCaltech101(caltech_raw, OBJECTS_ONLY)
    events, images = source.event_items(), source.image_items()
    assert {i.class_name for i in events} == {i.class_name for i in images} == {"airplanes", "Faces_easy"}
    assert {i.pair_key for i in events} == {"airplanes/image_0001", "airplanes/image_0002", "Faces_easy/image_0001"}
    assert {i.pair_key for i in events} < {i.pair_key for i in images}  # image_0003 has no recording
    assert all(i.official_split is None for i in events + images)
    assert len({i.id for i in images}) == len(images)
    assert all(i.path.parent.name != "Faces" for i in images)  # the re-crops are skipped, never merged


def test_ncaltech101_background_only_on_request(caltech_raw):
    source = NCaltech101(caltech_raw, READERS)
    for items in (source.event_items(), source.image_items()):
        assert "BACKGROUND_Google/image_0001" in {i.pair_key for i in items}


def test_ncaltech101_events_and_images_round_trip(caltech_raw, tmp_path):
    source = NCaltech101(caltech_raw, OBJECTS_ONLY)
    item = source.event_items()[0]
    assert source.read_events(item).tolist() == [(0, 179, 10, True), (239, 0, 20, False)]
    rng = np.random.default_rng(2)
    colour, grey = blocks(rng), blocks(rng, grey=True)
    write_image(tmp_path / "exact.png", colour)
    np.testing.assert_array_equal(read_image_file(tmp_path / "exact.png"), colour)
    write_image(tmp_path / "grey.jpg", grey)
    decoded = read_image_file(tmp_path / "grey.jpg")
    assert decoded.shape == (16, 16) and np.abs(decoded.astype(int) - grey).max() <= 3
    picture = source.read_image(source.image_items()[0])
    assert picture.shape == (16, 16, 3) and picture.dtype == np.uint8


def test_ncaltech101_out_of_sensor_event_and_bad_image_raise(caltech_raw):
    source = NCaltech101(caltech_raw, OBJECTS_ONLY)
    item = source.event_items()[0]
    write_atis(item.path, [240], [0], [1], [0])
    with pytest.raises(DatasetError, match="outside the 240x180 sensor"):
        source.read_events(item)
    picture = source.image_items()[0]
    picture.path.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match=picture.path.name):
        source.read_image(picture)


def test_ncaltech101_unmatched_class_folder_is_named(caltech_raw):
    write_atis(caltech_raw / "N-Caltech101/Caltech101/cougar_body/image_0001.bin", [1], [1], [1], [0])
    with pytest.raises(DatasetError, match="only in N-Caltech101: cougar_body.*FOLDER_ALIASES"):
        NCaltech101(caltech_raw, OBJECTS_ONLY)


def test_ncaltech101_missing_folder_shows_expected_layout(tmp_path):
    with pytest.raises(DatasetError, match="101_ObjectCategories") as err:
        NCaltech101(tmp_path, READERS)
    assert "Expected layout" in str(err.value) and "garrickorchard.com/datasets/n-caltech101" in str(err.value)


# ------------------------------------------------------------------------------------- CIFAR10-DVS
# (a, b, polarity bit, t) -> decoded (x = 127 - b, y = 127 - a, ON = bit 0 clear), worked out by hand.
AEDAT_RECORDS = [(10, 20, 0, 100), (0, 127, 1, 250), (127, 0, 0, 250)]
AEDAT_DECODED = [(107, 117, 100, True), (0, 127, 250, False), (127, 0, 250, True)]


@pytest.fixture
def cifar_raw(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    batches = tmp_path / "CIFAR-10" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    (batches / "batches.meta").write_bytes(
        pickle.dumps({b"label_names": [c.encode() for c in CIFAR_CLASSES]}, protocol=2)
    )
    for k in range(1, 6):
        write_cifar_batch(batches / f"data_batch_{k}", rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8), [k, 9])
    write_cifar_batch(batches / "test_batch", rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8), [0, 1, 2])
    addresses = [dvs128_address(a, b, bit) for a, b, bit, _ in AEDAT_RECORDS]
    for label in CIFAR_CLASSES:
        write_aedat2(tmp_path / "CIFAR10-DVS" / label / f"cifar10_{label}_0.aedat", addresses,
                     [t for *_, t in AEDAT_RECORDS])
    return tmp_path


def test_aedat2_dvs128_decoding(cifar_raw):
    path = cifar_raw / "CIFAR10-DVS" / "cat" / "cifar10_cat_0.aedat"
    assert read_dvs128_aedat2(path, "transposed").tolist() == AEDAT_DECODED


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-3]), "truncated"),
        (lambda p: write_aedat2(p, [dvs128_address(1, 1, 0)], [0], version="3.1"), "version 3.1"),
        (lambda p: write_aedat2(p, [1 << 15], [0]), "not a DVS128 pixel"),
        (lambda p: write_aedat2(p, [dvs128_address(1, 1, 0)] * 2, [5, 4]), "backwards"),
        (lambda p: p.write_bytes(b"\x00\x01"), "not an AEDAT file"),
    ],
    ids=["truncated", "aedat3", "non-pixel-address", "backwards", "no-header"],
)
def test_aedat2_bad_files_raise_naming_the_file(cifar_raw, damage, message):
    path = cifar_raw / "CIFAR10-DVS" / "dog" / "cifar10_dog_0.aedat"
    damage(path)
    with pytest.raises(DatasetError, match=message) as err:
        read_dvs128_aedat2(path, "transposed")
    assert "cifar10_dog_0.aedat" in str(err.value)


def test_cifar10dvs_items_splits_and_images(cifar_raw):
    source = CIFAR10DVS(cifar_raw, TRANSPOSED)
    events, images = source.event_items(), source.image_items()
    assert sorted(i.class_name for i in events) == sorted(CIFAR_CLASSES)
    assert all(i.pair_key is None for i in events + images)
    assert all(i.official_split is None for i in events)
    assert [i.official_split for i in images].count("train") == 10 and len(images) == 13
    assert [i.class_name for i in images if i.official_split == "test"] == ["airplane", "automobile", "bird"]
    third_batch = [i for i in images if i.path.name == "data_batch_3"]
    assert [i.class_name for i in third_batch] == ["cat", "truck"]
    stored, _ = read_cifar_batch(cifar_raw / "CIFAR-10/cifar-10-batches-py/data_batch_3")
    np.testing.assert_array_equal(source.read_image(third_batch[1]), stored[1])
    assert source.read_events(events[0]).tolist() == AEDAT_DECODED


def test_cifar_batch_decodes_channel_planes(tmp_path):
    image = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    image[0, 0, 1] = (200, 100, 50)  # row 0, column 1
    write_cifar_batch(tmp_path / "b", image, [3])
    raw = pickle.loads((tmp_path / "b").read_bytes())[b"data"][0]
    assert (raw[1], raw[1024 + 1], raw[2048 + 1]) == (200, 100, 50)  # the format: R plane, G plane, B plane
    images, labels = read_cifar_batch(tmp_path / "b")
    assert tuple(images[0, 0, 1]) == (200, 100, 50) and labels.tolist() == [3]


def test_cifar_pickle_with_foreign_objects_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.getcwd, ())

    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": Payload()}, protocol=2))
    with pytest.raises(DatasetError, match="refusing to load"):
        read_cifar_batch(tmp_path / "data_batch_1")


def test_aedat4_events_and_sensor_size_come_from_the_file(tmp_path):
    path = tmp_path / "rec.aedat4"
    write_aedat4(path, 128, 128, [([5, 7], [1, 127], [2, 0], [1, 0]), ([9], [3], [4], [1])], camera="DVS128")
    assert read_dvs128_aedat4(path).tolist() == [(1, 2, 5, True), (127, 0, 7, False), (3, 4, 9, True)]
    write_aedat4(path, 128, 128, [([5], [128], [0], [1])])
    with pytest.raises(DatasetError, match="outside the 128x128 sensor"):
        read_dvs128_aedat4(path)


def test_aedat4_of_another_sensor_size_names_both_sizes(tmp_path):
    """A 320 x 240 DVXplorer file is not a CIFAR10-DVS conversion: the message names both sizes."""
    path = tmp_path / "dvxplorer.aedat4"
    write_aedat4(path, 320, 240, [([1, 2], [154, 10], [204, 20], [1, 0])], camera="DVXplorer")
    with pytest.raises(DatasetError, match=r"dvxplorer.aedat4: the file's event stream is 320x240 .*128x128"):
        read_dvs128_aedat4(path)


@pytest.mark.parametrize("packets", [[], [([], [], [], [])]], ids=["no-packet", "empty-packet"])
def test_aedat4_without_events_says_so(tmp_path, packets):
    path = tmp_path / "quiet.aedat4"
    write_aedat4(path, 128, 128, packets)
    with pytest.raises(DatasetError, match="quiet.aedat4: the recording holds no events"):
        read_dvs128_aedat4(path)


def test_aedat2_header_only_file_holds_no_events(tmp_path):
    """jAER writes a header and no records for a recording without events (599 bytes in the real case)."""
    path = tmp_path / "empty.aedat"
    write_aedat2(path, [], [])
    with pytest.raises(DatasetError, match="empty.aedat: the recording holds no events"):
        read_dvs128_aedat2(path, "jaer")


@pytest.mark.parametrize("reader", ["atis", "aedat2", "aedat4"])
def test_zero_byte_files_hold_no_events_in_every_reader(tmp_path, reader):
    path = tmp_path / f"zero.{reader}"
    path.write_bytes(b"")
    read = {"atis": lambda p: read_atis_bin(p, (34, 34, 2)), "aedat2": lambda p: read_dvs128_aedat2(p, "jaer"),
            "aedat4": read_dvs128_aedat4}[reader]
    with pytest.raises(DatasetError, match=f"zero.{reader}: the file is empty .*holds no events"):
        read(path)


def test_dvs128_orientation_jaer_is_upright_transposed_swaps_rows_and_columns(tmp_path):
    """An L drawn in jAER's coordinates (x = 127 - a, y up = b): a vertical bar at column 10 rising from
    the bottom row, and a short foot to its right along the bottom row."""
    bar = [(127 - 10, b) for b in range(0, 40)]  # (a, b): jAER column 10, rows 0-39 counted from the bottom
    foot = [(127 - x, 0) for x in range(11, 20)]
    path = tmp_path / "ell.aedat"
    write_aedat2(path, [dvs128_address(a, b, 0) for a, b in bar + foot], list(range(len(bar) + len(foot))))
    upright = read_dvs128_aedat2(path, "jaer")
    image = np.zeros((128, 128), dtype=int)
    image[upright["y"], upright["x"]] = 1
    assert image[88:128, 10].all() and image[127, 11:20].all()  # the bar stands on the bottom row
    assert image.sum() == len(bar) + len(foot) and image[:88].sum() == 0
    swapped = read_dvs128_aedat2(path, "transposed")
    np.testing.assert_array_equal(swapped["x"], upright["y"])
    np.testing.assert_array_equal(swapped["y"], upright["x"])


def test_cifar10dvs_one_format_per_recording(cifar_raw):
    (cifar_raw / "CIFAR10-DVS" / "frog" / "cifar10_frog_0.aedat4").write_bytes(b"")
    with pytest.raises(DatasetError, match="cifar10_frog_0 are present both"):
        CIFAR10DVS(cifar_raw, TRANSPOSED)


@pytest.mark.parametrize("remove", ["CIFAR-10/cifar-10-batches-py/test_batch", "CIFAR10-DVS/truck"])
def test_cifar10dvs_incomplete_folders_show_expected_layout(cifar_raw, remove):
    target = cifar_raw / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(DatasetError, match="Expected layout") as err:
        CIFAR10DVS(cifar_raw, TRANSPOSED)
    assert "cifar-10-batches-py" in str(err.value) and "Li et al. 2017" in str(err.value)
