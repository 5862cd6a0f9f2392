"""The survey of a raw tree (``tmkt.data.survey``, ``tmkt-survey``) on tiny files written in the published formats.

The files are written by ``tests/formats.py``; every expected number is worked out by hand from the fixture.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from formats import dvs128_address, write_aedat2, write_atis, write_cifar_batch, write_nmnist_tree
from tmkt import config, layout
from tmkt.data.datasets.base import Item
from tmkt.data.datasets.cifar10dvs import CIFAR10DVS
from tmkt.data.datasets.nmnist import NMNIST
from tmkt.data.survey import Pairing, Range, main, survey

READERS = config.section("data").readers  # params.yaml's data.readers

MNIST_LABELS = {"train": [5, 0, 4, 1, 0], "t10k": [7, 2, 1, 0]}
#: N-MNIST file -> (x, y, t) of its events; file number n is MNIST index n - 1 of its split.
RECORDINGS = {
    "Train/5/00001.bin": ([1, 2, 3], [4, 5, 6], [0, 1_000, 2_500]),  # 3 events, 2.5 ms
    "Train/0/00002.bin": ([7, 33], [0, 20], [10, 4_010]),  # 2 events, 4.0 ms
    "Train/0/00005.bin": ([0, 1, 2, 3, 4], [9, 9, 9, 9, 30], [0, 100, 200, 300, 1_000]),  # 5 events, 1.0 ms
    "Test/7/00001.bin": ([5, 6, 7, 8], [1, 2, 3, 4], [0, 500, 1_000, 6_000]),  # 4 events, 6.0 ms
}
EMPTY, TRUNCATED = "Test/0/00004.bin", "Test/2/00002.bin"


@pytest.fixture
def nmnist_raw(tmp_path) -> Path:
    """Four readable recordings, an empty one and a truncated one; 5 + 4 MNIST digits."""
    write_nmnist_tree(tmp_path, MNIST_LABELS, np.random.default_rng(0))
    for name, (x, y, t) in RECORDINGS.items():
        write_atis(tmp_path / "N-MNIST" / name, x, y, [1] * len(t), t)
    (tmp_path / "N-MNIST" / EMPTY).write_bytes(b"")
    write_atis(tmp_path / "N-MNIST" / TRUNCATED, [1, 2], [1, 2], [1, 0], [0, 10])
    path = tmp_path / "N-MNIST" / TRUNCATED
    path.write_bytes(path.read_bytes()[:-2])  # 8 bytes: not whole 5-byte events
    return tmp_path


def test_counts_per_class_and_split(nmnist_raw):
    result = survey(NMNIST(nmnist_raw, READERS), max_recordings=0)
    counts = result.counts
    assert (result.recordings, result.images, result.read) == (6, 9, 0)
    assert counts.loc["0", ("recordings", "train")] == 2 and counts.loc["0", ("recordings", "test")] == 1
    assert counts.loc["5", ("recordings", "train")] == 1 and counts.loc["5", ("recordings", "test")] == 0
    assert counts.loc["2", ("recordings", "test")] == 1 and counts.loc["7", ("recordings", "test")] == 1
    assert counts.loc["0", ("images", "train")] == 2 and counts.loc["1", ("images", "train")] == 1
    assert counts.loc["1", ("images", "test")] == 1 and counts.loc["4", ("recordings", "train")] == 0
    assert counts["recordings"].sum().to_dict() == {"train": 3, "test": 3}
    assert counts["images"].sum().to_dict() == {"train": 5, "test": 4}
    assert result.classes_with_only("images") == ["1", "4"] and result.classes_with_only("recordings") == []
    # Nothing read: no ranges, no unreadable files, and the Markdown says why.
    assert result.duration_ms is None and result.n_events is None and result.unreadable == []
    assert "No recording was read" in result.markdown()


def test_ranges_and_unreadable_files(nmnist_raw):
    result = survey(NMNIST(nmnist_raw, READERS))
    assert result.read == 6 and result.sensor_size == (34, 34, 2)
    assert result.duration_ms == Range(1.0, 3.25, 6.0)  # of 2.5, 4.0, 1.0 and 6.0 ms
    assert result.n_events == Range(2.0, 3.5, 5.0)  # of 3, 2, 5 and 4 events
    assert result.largest_xy == (33, 30)
    bad = {u.id: u for u in result.unreadable}
    assert set(bad) == {"test/0/00004", "test/2/00002"}
    assert bad["test/0/00004"].path.endswith(EMPTY) and "holds no events" in bad["test/0/00004"].message
    assert bad["test/2/00002"].path.endswith(TRUNCATED) and "8 bytes is not a multiple of 5" in bad["test/2/00002"].message
    for u in bad.values():
        assert Path(u.path).name in u.message  # the reader's message names the file
    text = result.markdown()
    assert "| 1.0 | 3.2 | 6.0 |" in text or "| 1.0 | 3.3 | 6.0 |" in text  # 3.25 rounded either way
    assert text.count("`00004.bin`") == 1 and text.count("`00002.bin`") == 1


def test_workers_read_what_one_process_reads(nmnist_raw):
    one, two = survey(NMNIST(nmnist_raw, READERS), workers=1), survey(NMNIST(nmnist_raw, READERS), workers=2)
    assert (two.duration_ms, two.n_events, two.unreadable) == (one.duration_ms, one.n_events, one.unreadable)


def test_max_recordings_reads_every_class_in_turn(nmnist_raw):
    # Classes in order 0, 2, 5, 7, each in id order: test/0/00004 (empty), test/2/00002 (truncated), train/5/00001.
    result = survey(NMNIST(nmnist_raw, READERS), max_recordings=3)
    assert result.read == 3
    assert {u.id for u in result.unreadable} == {"test/0/00004", "test/2/00002"}
    assert result.n_events == Range(3.0, 3.0, 3.0) and result.duration_ms == Range(2.5, 2.5, 2.5)


def test_pairing_coverage_of_nmnist(nmnist_raw):
    # Every recording's MNIST digit exists; train indices 2 (a 4) and 3 (a 1) and test index 2 (a 1) have no recording.
    result = survey(NMNIST(nmnist_raw, READERS), max_recordings=0)
    assert result.pairing == Pairing(paired=6, unpaired_recordings=0, unrecorded_images=3)
    assert "| images no recording was made of | 3 | 33.3 % of images |" in result.markdown()


class PartlyPaired:
    """A source whose listing has a recording without a pair key and one whose key no image holds."""

    name, sensor_size, image_centred_on_sensor = "partly", (8, 8, 2), False

    def event_items(self):
        return [Item("a", "x", pair_key="1"), Item("b", "x", pair_key=None), Item("c", "y", pair_key="9"),
                Item("d", "y", pair_key="2")]

    def image_items(self):
        return [Item("i1", "x", pair_key="1"), Item("i2", "y", pair_key="2"), Item("i3", "y", pair_key="3"),
                Item("i4", "y", pair_key=None)]


def test_pairing_counts_unknown_and_unmatched_keys():
    result = survey(PartlyPaired(), max_recordings=0)
    assert result.pairing == Pairing(paired=2, unpaired_recordings=2, unrecorded_images=2)


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def test_cifar10dvs_has_no_identity_pairing(tmp_path):
    rng = np.random.default_rng(3)
    batches = tmp_path / "CIFAR-10" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    (batches / "batches.meta").write_bytes(pickle.dumps({b"label_names": [c.encode() for c in CIFAR_CLASSES]}))
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        write_cifar_batch(batches / name, rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8), [0])
    for label in CIFAR_CLASSES:
        write_aedat2(tmp_path / "CIFAR10-DVS" / label / "r.aedat", [dvs128_address(3, 4, 0)] * 2, [0, 2_000])
    result = survey(CIFAR10DVS(tmp_path, READERS))
    assert result.pairing is None and result.unreadable == []
    assert result.counts.loc["airplane", ("recordings", "no split")] == 1
    assert result.counts.loc["airplane", ("images", "train")] == 5 and result.counts.loc["cat", ("images", "train")] == 0
    assert result.duration_ms == Range(2.0, 2.0, 2.0) and result.largest_xy == (124, 123)  # jaer: x = 127 - a = 127 - 3, y = 127 - b = 127 - 4
    assert "No identity pairing (classes only)" in result.markdown()


# ------------------------------------------------------------------------------------------- the command
def nmnist_args(raw: Path) -> list[str]:
    return ["--set", "data.dataset=nmnist", "--set", f"data.raw_dir={raw}", "--workers", "1"]


def test_command_exits_1_and_lists_unreadable_files(nmnist_raw, capsys):
    assert main(nmnist_args(nmnist_raw)) == 1
    out = capsys.readouterr().out
    assert "### Survey of `nmnist`" in out and "| recordings read | 6 of 6 |" in out
    assert "`00004.bin`" in out and "`00002.bin`" in out


def test_command_exits_0_when_every_recording_reads(nmnist_raw, capsys):
    (nmnist_raw / "N-MNIST" / EMPTY).unlink()
    (nmnist_raw / "N-MNIST" / TRUNCATED).unlink()
    assert main(nmnist_args(nmnist_raw)) == 0
    assert "| unreadable recordings | 0 |" in capsys.readouterr().out
    # Counting only reads no file, so the bad files would not change the status.
    assert main(nmnist_args(nmnist_raw) + ["--max-recordings", "0"]) == 0


def test_command_exits_2_on_a_missing_dataset_with_the_expected_tree(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tmkt.data.survey", *nmnist_args(tmp_path)], cwd=layout.ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Expected layout (data.dataset: nmnist)" in done.stderr and "t10k-labels-idx1-ubyte" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_command_exits_2_on_a_bad_parameter(capsys):
    assert main(["--set", "data.dataset=nmnsit"]) == 2
    assert "data.dataset = 'nmnsit'" in capsys.readouterr().err


def test_survey_of_recordings_without_a_stated_sensor(tmp_path):
    """CEP-DVS states no sensor size: the survey says so and reports the largest coordinates it read."""
    from formats import write_image, write_mat

    from tmkt.data.datasets.cepdvs import CEPDVS

    root = tmp_path / "CEP-DVS"
    root.mkdir()
    (root / "pathFile.csv").write_text("header\n0 fish\n1 trees\n")
    for n in range(2):
        write_mat(root / f"data/MAT/img/{n}.mat", x=[1, 40 + n], y=[2, 30], ts=[0, 5], p=[1, -1])
        write_image(root / f"data/img/{n}.jpg", np.zeros((4, 4, 3), dtype=np.uint8))
    result = survey(CEPDVS(tmp_path, READERS))
    assert result.sensor_size is None and result.largest_xy == (41, 30)
    assert "each recording is binned on its own extent" in result.markdown()
