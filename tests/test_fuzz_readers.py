"""Property-based fuzzing of every binary reader (hypothesis): damaged files fail loudly, never wrongly.

For random bytes, valid files cut at any byte, valid files with random bytes flipped, and empty files, a
reader either raises :class:`DatasetError` naming the file, or returns a result that satisfies the
format's invariants; where the damage leaves a valid prefix (a cut at a record boundary), that result
must be exactly the events the prefix holds. Anything else (another exception, a hang) fails the test.
Stray files in a dataset folder (system files, partial downloads, notes) are ignored by the listing, and
a stray with a reader's suffix is named when read.
"""

from __future__ import annotations

import pickle
import signal
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from formats import (
    dvs128_address, write_aedat2, write_aedat4, write_atis, write_cifar_batch, write_idx, write_image, write_mat,
    write_nomniglot_character, write_omniglot_character,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tmkt import config
from tmkt.data.datasets.atis import read_atis_bin
from tmkt.data.datasets.base import DatasetError
from tmkt.data.datasets.cepdvs import read_cepdvs_mat
from tmkt.data.datasets.cifar10dvs import read_dvs128_aedat2, read_dvs128_aedat4
from tmkt.data.datasets.imagefiles import read_cifar_batch, read_idx, read_image_file
from tmkt.data.datasets.nomniglot import NOmniglot, read_segments

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HANG_S = 30  # a read this slow on a file of a few hundred bytes is a hang, not noise


@contextmanager
def no_hang():
    def hung(*_):
        raise AssertionError(f"a reader took over {HANG_S} s on a tiny file")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def events_valid(events: np.ndarray, width: int | None, height: int | None) -> bool:
    inside = (events["x"] >= 0).all() and (events["y"] >= 0).all()
    if width is not None:
        inside = inside and (events["x"] < width).all() and (events["y"] < height).all()
    return len(events) > 0 and inside and bool((np.diff(events["t"]) >= 0).all())


def outcome(read, path: Path):
    """The reader's result, or None when it raised a DatasetError that names the file."""
    try:
        with no_hang():
            return read(path)
    except DatasetError as exc:
        assert path.name in str(exc), f"the error does not name the file: {exc}"
        return None


# ------------------------------------------------------------------------- the readers and valid files
def _atis(path: Path) -> None:
    write_atis(path, [0, 3, 33, 7], [1, 2, 33, 0], [1, 0, 1, 1], [10, 20, 20, 4000])


def _aedat2(path: Path) -> None:
    write_aedat2(path, [dvs128_address(a, b, a % 2) for a, b in [(1, 2), (127, 0), (5, 99)]], [3, 3, 90])


def _aedat4(path: Path) -> None:
    write_aedat4(path, 128, 128, [([1, 2], [3, 127], [4, 0], [1, 0]), ([9], [5], [6], [1])], camera="DVS128")


def _mat(path: Path) -> None:
    write_mat(path, x=[[1, 40, 7]], y=[[2, 3, 30]], ts=[[0, 5, 5]], p=[[1, -1, 1]])


def _idx(path: Path) -> None:
    write_idx(path, np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))


def _cifar(path: Path) -> None:
    write_cifar_batch(path, np.arange(2 * 32 * 32 * 3, dtype=np.uint8).reshape(2, 32, 32, 3) % 251, [1, 7])


def _png(path: Path) -> None:
    write_image(path, (np.arange(64, dtype=np.uint8).reshape(8, 8) * 4))


#: name -> (writer of a valid file, reader, check of a returned value, bytes per record or None)
READERS = {
    "atis.bin": (_atis, lambda p: read_atis_bin(p, (34, 34, 2)), lambda e: events_valid(e, 34, 34), 5),
    "dvs128.aedat": (_aedat2, lambda p: read_dvs128_aedat2(p, "jaer"), lambda e: events_valid(e, 128, 128), 8),
    "dvs128.aedat4": (_aedat4, read_dvs128_aedat4, lambda e: events_valid(e, 128, 128), None),
    "cepdvs.mat": (_mat, read_cepdvs_mat, lambda e: events_valid(e, None, None), None),
    "images.idx": (_idx, read_idx, lambda a: a.dtype == np.uint8, None),
    "cifar_batch": (_cifar, read_cifar_batch, lambda r: r[0].shape[1:] == (32, 32, 3) and len(r[0]) == len(r[1]), None),
    "drawing.png": (_png, read_image_file, lambda a: a.dtype == np.uint8 and a.ndim in (2, 3), None),
}
EVENT_READERS = ["atis.bin", "dvs128.aedat", "dvs128.aedat4", "cepdvs.mat"]


@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes_fail_loudly_or_read_validly(tmp_path, name, data):
    _, read, valid, _ = READERS[name]
    path = tmp_path / name
    path.write_bytes(data)
    result = outcome(read, path)
    assert result is None or valid(result)


@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_truncated_files_fail_loudly_or_keep_a_valid_prefix(tmp_path, name, cut):
    write, read, valid, record_bytes = READERS[name]
    whole_path = tmp_path / f"whole_{name}"
    write(whole_path)
    whole = read(whole_path)
    raw = whole_path.read_bytes()
    path = tmp_path / name
    path.write_bytes(raw[: cut % len(raw)])  # every proper prefix, from 0 bytes up
    result = outcome(read, path)
    if result is None:
        return
    assert valid(result)
    if record_bytes and name in EVENT_READERS:  # a cut at a record boundary: exactly the events before it
        assert result.tolist() == whole[: len(result)].tolist()


@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=1, max_value=255)), min_size=1, max_size=4))
def test_flipped_bytes_fail_loudly_or_read_validly(tmp_path, name, flips):
    write, read, valid, _ = READERS[name]
    path = tmp_path / name
    write(path)
    raw = bytearray(path.read_bytes())
    for position, mask in flips:
        raw[position % len(raw)] ^= mask
    path.write_bytes(bytes(raw))
    result = outcome(read, path)
    assert result is None or valid(result)


@pytest.mark.parametrize("name", EVENT_READERS)
def test_empty_files_say_the_recording_holds_no_events(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match=f"{name}: .*holds no events"):
        READERS[name][1](path)


def test_omniglot_segments_csv_fails_loudly_on_garbage(tmp_path):
    @FUZZ
    @given(text=st.text(max_size=300))
    def check(text):
        path = tmp_path / "0001.csv"
        path.write_text(text)
        result = outcome(read_segments, path)
        assert result is None or (len(result) == 20 and all(start <= end for start, end in result))

    check()


# ------------------------------------------------------------------------------- stray files in folders
STRAYS = [".DS_Store", "Thumbs.db", "notes.txt", "desktop.ini", "image_0001.bin.part", "._image_0001.jpg"]


def test_stray_files_in_an_omniglot_tree_are_ignored_or_named(tmp_path):
    readers = config.section("data").readers
    drawings = [([1000 * k + 1, 1000 * k + 2], [60, 70], [10, 20], [1, 0]) for k in range(20)]
    for subset in ("background", "evaluation"):
        write_nomniglot_character(tmp_path, "Latin/character01", "0001", drawings, subset)
        write_omniglot_character(tmp_path, "Latin/character01", "0001", [np.ones((105, 105), bool)] * 20, subset)
    clean = NOmniglot(tmp_path, readers)
    for folder in [tmp_path / "N-Omniglot/dvs_background/Latin/character01",
                   tmp_path / "Omniglot/images_background/Latin/character01", tmp_path / "N-Omniglot"]:
        for stray in STRAYS:
            (folder / stray).write_bytes(b"\x00garbage")
    (tmp_path / "Omniglot/images_background/Latin/character01/.hidden").mkdir()
    strayed = NOmniglot(tmp_path, readers)
    assert strayed.event_items() == clean.event_items() and strayed.image_items() == clean.image_items()


@pytest.mark.parametrize("stray", STRAYS)
def test_stray_files_in_an_ncaltech101_tree_are_ignored(tmp_path, stray):
    from tmkt.data.datasets.ncaltech101 import NCaltech101

    readers = config.section("data").readers
    _atis(tmp_path / "N-Caltech101/Caltech101/airplanes/image_0001.bin")
    write_image(tmp_path / "Caltech101/101_ObjectCategories/airplanes/image_0001.jpg", np.zeros((8, 8, 3), np.uint8))
    clean = NCaltech101(tmp_path, readers).event_items()
    for folder in ["N-Caltech101/Caltech101/airplanes", "Caltech101/101_ObjectCategories/airplanes", "N-Caltech101"]:
        (tmp_path / folder / stray).write_bytes(pickle.dumps("not data"))
    assert NCaltech101(tmp_path, readers).event_items() == clean
