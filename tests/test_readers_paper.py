"""The readers of the paper's other two benchmarks, CEP-DVS and N-Omniglot, on tiny files in their formats.

Files are written by ``tests/formats.py``; expected values are derived by hand from the layouts in
``tmkt/data/datasets/cepdvs.py`` and ``nomniglot.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from formats import write_image, write_mat, write_nomniglot_character, write_omniglot_character

from tmkt import config
from tmkt.data.datasets.base import DatasetError
from tmkt.data.datasets.cepdvs import CEPDVS, read_cepdvs_mat
from tmkt.data.datasets.nomniglot import NOmniglot

READERS = config.section("data").readers


# ---------------------------------------------------------------------------------------- N-Omniglot
def drawing_events(k: int) -> tuple[list, list, list, list]:
    """Drawing k (0-based): three events inside the 250 x 250 window and one outside it, at times 1000 k + ..."""
    t = [1000 * k + 1, 1000 * k + 2, 1000 * k + 3, 1000 * k + 4]
    x = [54 + k, 303, 10, 54]  # 10 lies left of the window (columns 54-303)
    y = [4, 253, 100, 4 + k]
    return t, x, y, [1, 0, 1, 0]


def stroke(k: int) -> np.ndarray:
    """A 105 x 105 Omniglot-style drawing: white (True) with a dark (False) row k."""
    drawing = np.ones((105, 105), dtype=bool)
    drawing[k, 10:20] = False
    return drawing


CHARACTERS = {"background": ["Latin/character01", "Greek/character02"], "evaluation": ["Atlantean/character01"]}


@pytest.fixture
def omniglot_raw(tmp_path) -> Path:
    for subset, characters in CHARACTERS.items():
        for number, character in enumerate(characters):
            ident = f"{subset[0]}{number:03d}"
            write_nomniglot_character(tmp_path, character, ident, [drawing_events(k) for k in range(20)], subset)
            write_omniglot_character(tmp_path, character, ident, [stroke(k) for k in range(20)], subset)
    return tmp_path


def test_nomniglot_pairs_by_character_and_drawer_and_splits_by_drawer(omniglot_raw):
    source = NOmniglot(omniglot_raw, READERS)
    events, images = source.event_items(), source.image_items()
    assert len(events) == len(images) == 60
    assert sorted(i.pair_key for i in events) == sorted(i.pair_key for i in images)
    assert {i.class_name for i in events} == {c for cs in CHARACTERS.values() for c in cs}
    train = [i for i in events if i.official_split == "train"]
    assert len(train) == 45 and {i.pair_key[-2:] for i in train} == {f"{k:02d}" for k in range(1, 16)}
    by_key = {i.pair_key: i for i in images}
    assert by_key["Greek/character02/07"].path.name == "b001_07.png"


def test_nomniglot_reads_one_drawing_inside_the_window(omniglot_raw):
    source = NOmniglot(omniglot_raw, READERS)
    item = next(i for i in source.event_items() if i.pair_key == "Latin/character01/03")  # drawer 3: k = 2
    events = source.read_events(item)
    assert events.tolist() == [(2, 0, 2001, True), (249, 249, 2002, False), (0, 2, 2004, False)]


@pytest.mark.parametrize("strokes, ink, paper", [("bright", 255, 0), ("dark", 0, 255)])
def test_omniglot_contrast_is_an_explicit_choice(omniglot_raw, strokes, ink, paper):
    source = NOmniglot(omniglot_raw, READERS.model_copy(update={"omniglot_strokes": strokes}))
    item = next(i for i in source.image_items() if i.pair_key == "Latin/character01/05")  # dark row 4
    drawing = source.read_image(item)
    assert drawing.shape == (105, 105) and (drawing[4, 10:20] == ink).all() and drawing[50, 50] == paper


def test_nomniglot_stream_of_another_sensor_names_both_sizes(omniglot_raw):
    from formats import write_aedat4

    path = omniglot_raw / "N-Omniglot/dvs_background/Latin/character01/b000.aedat4"
    write_aedat4(path, 320, 240, [drawing_events(k) for k in range(20)], camera="DVXplorer")
    source = NOmniglot(omniglot_raw, READERS)
    with pytest.raises(DatasetError, match=r"b000.aedat4: the file's event stream is 320x240 .*346x260"):
        source.read_events(source.event_items()[20])  # Latin/character01 sorts after Greek/character02


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: (r / "Omniglot/images_background/Greek/character02/b001_20.png").unlink(), r"drawers with another count: \{20: 0\}"),
        (lambda r: shutil.rmtree(r / "Omniglot/images_background/Latin"), "hold different characters .*Latin/character01"),
        (lambda r: (r / "N-Omniglot/dvs_background/Latin/character01/b000.csv").unlink(), "expected one <id>.aedat4 with its <id>.csv"),
        (lambda r: shutil.rmtree(r / "N-Omniglot/dvs_evaluation"), "Expected layout"),
    ],
    ids=["missing-drawer", "character-in-one-dataset", "missing-csv", "missing-half"],
)
def test_nomniglot_incomplete_trees_fail_loudly(omniglot_raw, damage, message):
    damage(omniglot_raw)
    with pytest.raises(DatasetError, match=message):
        NOmniglot(omniglot_raw, READERS)


def test_nomniglot_csv_must_list_twenty_drawings(omniglot_raw):
    csv = omniglot_raw / "N-Omniglot/dvs_background/Greek/character02/b001.csv"
    csv.write_text("\n".join(csv.read_text().splitlines()[:-1]) + "\n")
    source = NOmniglot(omniglot_raw, READERS)
    with pytest.raises(DatasetError, match="b001.csv: lists 19 drawings after its header, expected 20"):
        source.read_events(source.event_items()[0])


# ------------------------------------------------------------------------------------------ CEP-DVS
CEP_LINES = ["0 D: CEP-DVS img fish", "1 D: CEP-DVS img trees", "2 D: CEP-DVS img fish", "3 D: CEP-DVS img people"]


@pytest.fixture
def cep_raw(tmp_path) -> Path:
    root = tmp_path / "CEP-DVS"
    root.mkdir()
    (root / "pathFile.csv").write_text("index path\n" + "\n".join(CEP_LINES) + "\n")
    rng = np.random.default_rng(0)
    for n, name in enumerate(["00000", "1", "00002", "3"]):  # zero-padded or not: numbers decide
        write_mat(root / "data/MAT/img" / f"{name}.mat", x=[[3, 4 + n]], y=[[5, 6]], ts=[[10, 20]], p=[[1, -1]])
        write_image(root / "data/img" / f"{n:05d}.jpg", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    return tmp_path


def test_cepdvs_pairs_by_number_with_classes_from_pathfile(cep_raw):
    source = CEPDVS(cep_raw, READERS)
    events, images = source.event_items(), source.image_items()
    assert [(i.pair_key, i.class_name) for i in events] == [("0", "fish"), ("1", "trees"), ("2", "fish"), ("3", "people")]
    assert [i.pair_key for i in images] == ["0", "1", "2", "3"] and images[1].path.name == "00001.jpg"
    assert source.sensor_size is None
    assert source.read_events(events[1]).tolist() == [(3, 5, 10, True), (5, 6, 20, False)]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: (r / "data/img/00003.jpg").unlink(), r"recordings without a picture: \[3\]"),
        (lambda r: shutil.copy(r / "data/MAT/img/1.mat", r / "data/MAT/img/0001.mat"), "are both number 1"),
        (lambda r: (r / "pathFile.csv").write_text("h\n0 fish\n1 trees\n"), r"recordings without a line in pathFile.csv: \[2, 3\]"),
        (lambda r: (r / "pathFile.csv").write_text("h\n0 fish\n1 tree\n2 fish\n3 people\n"), "line 3 .*names 0 classes"),
        (lambda r: (r / "pathFile.csv").unlink(), "Expected layout"),
    ],
    ids=["picture-missing", "number-twice", "line-missing", "unknown-class", "no-pathfile"],
)
def test_cepdvs_pairing_problems_fail_loudly(cep_raw, damage, message):
    damage(cep_raw / "CEP-DVS")
    with pytest.raises(DatasetError, match=message):
        CEPDVS(cep_raw, READERS)


@pytest.mark.parametrize(
    "variables, message",
    [
        (dict(x=[1], y=[1], ts=[1]), "lacks the variables p"),
        (dict(x=[1, 2], y=[1], ts=[1], p=[1]), "differ in length"),
        (dict(x=[1], y=[1], ts=[1], p=[2]), "polarities other than"),
        (dict(x=[1, 1], y=[1, 1], ts=[5, 4], p=[1, 1]), "backwards"),
        (dict(x=[-1], y=[1], ts=[1], p=[1]), "negative coordinate"),
        (dict(x=np.zeros(0), y=np.zeros(0), ts=np.zeros(0), p=np.zeros(0)), "holds no events"),
    ],
    ids=["missing-variable", "ragged", "polarity", "backwards", "negative", "empty"],
)
def test_cepdvs_bad_recordings_raise_naming_the_file(tmp_path, variables, message):
    path = tmp_path / "bad_0.mat"
    write_mat(path, **variables)
    with pytest.raises(DatasetError, match=message) as err:
        read_cepdvs_mat(path)
    assert "bad_0.mat" in str(err.value)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "compressed"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.uint8, np.int64])
def test_mat_reader_equals_scipy_on_valid_files(tmp_path, compressed, dtype):
    """On intact files the strict reader gives what scipy.io.loadmat gives (scipy is the reference here)."""
    import scipy.io

    from tmkt.data.datasets.matlab import read_mat

    rng = np.random.default_rng(1)
    variables = dict(x=rng.integers(0, 300, (1, 7)).astype(dtype), y=rng.integers(0, 200, (7, 1)).astype(dtype),
                     grid=rng.random((2, 3)), empty=np.zeros((0, 0)), label=np.array(["skipped: a char array"]))
    path = tmp_path / "v.mat"
    scipy.io.savemat(path, variables, do_compression=compressed)
    ours, reference = read_mat(path, ("x", "y", "grid", "empty", "label")), scipy.io.loadmat(path)
    assert set(ours) == {"x", "y", "grid", "empty"}
    for name, array in ours.items():
        assert array.dtype == reference[name].dtype and array.shape == reference[name].shape
        np.testing.assert_array_equal(array, reference[name])


def test_mat_reader_refuses_matlab_73_files(tmp_path):
    path = tmp_path / "v73.mat"
    header = b"MATLAB 7.3 MAT-file".ljust(116) + b"\0" * 8 + (0x0200).to_bytes(2, "little") + b"IM"
    path.write_bytes(header + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(DatasetError, match=r"v73.mat: MAT-file version 0x0200 \(MATLAB 7.3, HDF5\)"):
        read_cepdvs_mat(path)
