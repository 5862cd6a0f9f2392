"""Outputs are written whole or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from tmkt import atomic


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
    with atomic.atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.txt"]
    assert target.stat().st_mode & 0o044  # readable by others as the umask allows, not mkstemp's 0600


def test_atomic_dir_keeps_the_old_folder_when_writing_fails(tmp_path):
    folder = tmp_path / "processed"
    folder.mkdir()
    (folder / "a.npy").write_text("old")
    with pytest.raises(ValueError):
        with atomic.atomic_dir(folder) as tmp:
            (tmp / "a.npy").write_text("half")
            raise ValueError("corrupt input")
    assert (folder / "a.npy").read_text() == "old" and sorted(os.listdir(tmp_path)) == ["processed"]
    with atomic.atomic_dir(folder) as tmp:
        (tmp / "b.npy").write_text("new")
    assert os.listdir(folder) == ["b.npy"] and sorted(os.listdir(tmp_path)) == ["processed"]


def test_write_csv_json_and_text(tmp_path):
    atomic.write_csv(tmp_path / "t.csv", [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert (tmp_path / "t.csv").read_text().splitlines() == ["a,b", "1,x", "2,y"]
    atomic.write_json(tmp_path / "m.json", {"acc": 0.5})
    assert '"acc": 0.5' in (tmp_path / "m.json").read_text()
    atomic.write_text(tmp_path / "t.md", "| a |\n")
    assert (tmp_path / "t.md").read_text() == "| a |\n" and sorted(os.listdir(tmp_path)) == ["m.json", "t.csv", "t.md"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_atomic_dir_and_path_get_umask_permissions(tmp_path, umask):
    """A written folder is as readable as one made by mkdir (mkdtemp alone would leave it 0700)."""
    old = os.umask(umask)
    try:
        with atomic.atomic_dir(tmp_path / "processed") as tmp:
            atomic.write_text(tmp / "meta.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "processed").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((tmp_path / "processed" / "meta.json").stat().st_mode) == 0o666 & ~umask
