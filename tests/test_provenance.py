"""Which code a run depends on: the import closure, the run fingerprint, and DVC re-running only what changed."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from dvc.repo import Repo

from tmkt import config, layout, provenance
from tmkt.training import checkpoints



@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """tmkt/{a,b,c}.py and tmkt/sub/d.py: a imports b (at module level), b imports sub.d inside a function."""
    pkg = tmp_path / "tmkt"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import numpy\nfrom tmkt import b\n")
    (pkg / "b.py").write_text("def f():\n    from tmkt.sub.d import g\n    return g\n")
    (pkg / "c.py").write_text("import tmkt.a\n")
    (pkg / "sub" / "d.py").write_text("g = 1\n")
    monkeypatch.setattr(layout, "ROOT", tmp_path)
    return tmp_path


def test_closure_follows_every_import_statement(fake_package):
    found = [str(p) for p in provenance.closure({"tmkt.a"})]
    assert found == ["tmkt/__init__.py", "tmkt/a.py", "tmkt/b.py", "tmkt/sub/__init__.py", "tmkt/sub/d.py"]
    assert "tmkt/c.py" not in found  # c imports a, not the other way round
    assert provenance.imports_of_source("from tmkt import a, c\nimport os") == {"tmkt", "tmkt.a", "tmkt.c"}


def test_training_code_excludes_results_and_figures():
    reached = {str(p) for p in provenance.closure({checkpoints.TRAINING_CODE})}
    assert {"tmkt/training/loop.py", "tmkt/training/methods.py", "tmkt/method/models.py", "tmkt/method/neurons.py",
            "tmkt/method/losses.py", "tmkt/method/mixup.py"} <= reached
    assert not [p for p in reached if p.startswith(("tmkt/results/", "tmkt/plots/"))]
    assert not reached & {"tmkt/data/datasets/simulator.py", "tmkt/data/convert.py"}


def test_fingerprint_follows_the_training_code_and_the_data(fake_data, monkeypatch):
    params = config.load()
    before = checkpoints.fingerprint(params, 1, fake_data)
    assert checkpoints.fingerprint(params, 2, fake_data) != before
    (fake_data / layout.EVENT_FRAMES).write_bytes(b"other events")
    assert checkpoints.fingerprint(params, 1, fake_data) != before


@pytest.fixture
def fake_data(tmp_path):
    for name in layout.PROCESSED_FILES:
        (tmp_path / name).write_bytes(name.encode())
    return tmp_path


def copy_of_pipeline(tmp_path):
    """The pipeline's definition and code in a fresh folder (no git), with an empty placeholder for every output
    and a lock recorded by DVC, so that every stage is up to date."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=layout.ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    for name in listed:
        if name.split("/")[0] in ("tmkt", "notebooks", "data", ".dvc") or name in ("dvc.yaml", "params.yaml", ".dvcignore"):
            if (layout.ROOT / name).is_file():
                (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(layout.ROOT / name, tmp_path / name)
    (tmp_path / ".dvc" / "config").write_text("[core]\n    no_scm = true\n    analytics = false\n")
    with Repo(str(tmp_path)) as repo:
        for stage in repo.index.stages:
            for out in stage.outs:
                path = tmp_path / str(out)
                if path.suffix:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text("{}")
                else:
                    path.mkdir(parents=True, exist_ok=True)
                    (path / "placeholder").write_text("")
        repo.commit(force=True)
    return tmp_path


def stages_to_rerun(root) -> set[str]:
    with Repo(str(root)) as repo:
        return set(repo.status())


@pytest.mark.notebook
def test_dvc_reruns_only_what_an_edit_touches(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # DVC resolves stage folders against the working directory
    root = copy_of_pipeline(tmp_path)
    assert stages_to_rerun(root) == set()
    with open(root / "tmkt/plots/results.py", "a") as f:
        f.write("\n# an edit of a figure module\n")
    assert stages_to_rerun(root) == {"figures"}
    with open(root / "tmkt/method/losses.py", "a") as f:
        f.write("\n# an edit of the training code\n")
    rerun = stages_to_rerun(root)
    assert "convert" not in rerun and {"train", "figures", "ablate-method@he2024"} <= rerun
    assert all(name.startswith(("train", "ablate", "figures")) for name in rerun)
