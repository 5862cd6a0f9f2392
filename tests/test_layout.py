"""Finding the repository root: from the working directory like git and DVC, the package's clone as a fallback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tmkt import config, layout, presets
from tmkt.layout import find_root


def clone(folder: Path) -> Path:
    """A folder that looks like a clone of the repository: params.yaml and dvc.yaml at its top."""
    (folder / "notebooks" / "deep").mkdir(parents=True)
    for marker in ("params.yaml", "dvc.yaml"):
        (folder / marker).write_text("")
    return folder


@pytest.fixture
def trees(tmp_path) -> dict[str, Path]:
    outside = tmp_path / "elsewhere" / "sub"
    outside.mkdir(parents=True)
    site = tmp_path / "site-packages"
    site.mkdir()
    return dict(work=clone(tmp_path / "work"), package=clone(tmp_path / "package"), outside=outside, site=site)


def test_a_working_directory_inside_a_clone_finds_its_top(trees):
    for start in (trees["work"], trees["work"] / "notebooks", trees["work"] / "notebooks" / "deep"):
        assert find_root(start, trees["package"], in_dvc_stage=False) == trees["work"].resolve()
        assert find_root(start, trees["site"], in_dvc_stage=False) == trees["work"].resolve()  # pip install .


def test_a_folder_with_only_one_marker_is_not_a_clone(trees):
    (trees["work"] / "notebooks" / "params.yaml").write_text("")
    assert find_root(trees["work"] / "notebooks" / "deep", trees["site"], False) == trees["work"].resolve()


def test_outside_any_clone_the_package_clone_is_the_root(trees):
    assert find_root(trees["outside"], trees["package"], in_dvc_stage=False) == trees["package"].resolve()


def test_outside_any_clone_and_installed_the_working_directory_is_the_root(trees):
    assert find_root(trees["outside"], trees["site"], in_dvc_stage=False) == trees["outside"].resolve()


def test_inside_a_dvc_stage_the_working_directory_is_the_root(trees):
    deep = trees["work"] / "notebooks" / "deep"
    assert find_root(deep, trees["package"], in_dvc_stage=True) == deep.resolve()


def test_a_missing_repository_params_file_says_to_run_from_a_clone(tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "PARAMS", tmp_path / "params.yaml")
    with pytest.raises(config.ParamsError, match=r"params.yaml does not exist: run from inside a clone of the "
                                                 r"repository \(a folder holding params.yaml and dvc.yaml\)"):
        config.load()
    with pytest.raises(config.ParamsError, match=r"missing.yaml does not exist$"):  # a file the caller named
        config.load(tmp_path / "missing.yaml")


def test_the_preset_command_outside_a_clone_says_to_run_from_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(presets, "FOLDER", tmp_path / "presets")
    assert presets.main(["nomniglot", "--print"]) == 2
    assert "run from inside a clone of the repository" in capsys.readouterr().err


def test_an_installed_copy_of_the_package_finds_the_clone_it_runs_in(tmp_path):
    """What ``pip install .`` (non-editable) gives: the package away from any params.yaml."""
    shutil.copytree(layout.ROOT / "tmkt", tmp_path / "site" / "tmkt", ignore=shutil.ignore_patterns("__pycache__"))
    script = "from tmkt import layout; print(layout.ROOT)"
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": ""}

    def run(cwd: Path) -> str:
        return subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                              check=True).stdout.strip()

    assert run(layout.ROOT / "notebooks") == str(layout.ROOT)
    assert run(tmp_path) == str(tmp_path.resolve())
