"""Parallel sweeps with DVC's own queue: two queued cells run concurrently and `dvc exp show` collects both.

The pipeline is copied into a fresh git repository with tiny parameters; the queue's workers run each
experiment in a copy of that repository under .dvc/tmp/exps, where tmkt.layout anchors every path
(DVC_ROOT), not in the workspace the package was imported from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tmkt import config, layout

TINY = {
    "data.max_per_class": 6, "data.time_bins": 2, "data.height": 12, "data.width": 12,
    "model.blocks": 1, "train.epochs": 1, "train.steps_per_epoch": 1, "train.batch_size": 4,
    "train.eval_batch_size": 64, "base.seeds": [1, 2], "base.parallel_runs": 1, "ablate.seeds_per_cell": 2,
}


def run(args: list[str], cwd: Path, timeout: int = 300) -> str:
    env = os.environ | {"DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env.pop("DVC_ROOT", None)
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def tiny_repo(tmp_path) -> Path:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=layout.ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    for name in listed:
        if name.split("/")[0] in ("tmkt", "notebooks", "data") or name in ("dvc.yaml", "params.yaml", ".dvcignore",
                                                                          ".gitignore"):
            if (layout.ROOT / name).is_file():
                (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(layout.ROOT / name, tmp_path / name)
    raw = config.apply_overrides(yaml.safe_load((tmp_path / "params.yaml").read_text()), TINY)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    dvc = [sys.executable, "-m", "dvc"]
    run(["git", "init", "-q"], tmp_path)
    run([*dvc, "init", "-q"], tmp_path)
    run([*dvc, "config", "core.analytics", "false"], tmp_path)
    run(["git", "add", "-A"], tmp_path)
    run(["git", "commit", "-qm", "tiny pipeline"], tmp_path)
    return tmp_path


def test_two_queued_cells_run_concurrently_and_are_collected(tiny_repo):
    dvc = [sys.executable, "-m", "dvc"]
    for name, lr in (("lr-a", 0.01), ("lr-b", 0.02)):
        run([*dvc, "exp", "run", "--queue", "-n", name, "-S", f"train.lr={lr}", "train"], tiny_repo)
    run([*dvc, "queue", "start", "-j", "2"], tiny_repo)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = run([*dvc, "queue", "status"], tiny_repo)
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    if status.count("Success") != 2:
        logs = "\n".join(subprocess.run([*dvc, "queue", "logs", name], cwd=tiny_repo, capture_output=True,
                                        text=True).stdout[-3000:] for name in ("lr-a", "lr-b"))
        pytest.fail(f"queued experiments did not succeed:\n{status}\n{logs}")
    shown = json.loads(run([*dvc, "exp", "show", "--json"], tiny_repo))
    experiments = {exp["name"]: exp for baseline in shown for exp in baseline.get("experiments") or []}
    assert set(experiments) >= {"lr-a", "lr-b"}
    for name, lr in (("lr-a", 0.01), ("lr-b", 0.02)):
        data = experiments[name]["revs"][0]["data"]
        assert data["params"]["params.yaml"]["data"]["train"]["lr"] == lr
        metrics = data["metrics"]["reports/train/metrics.json"]["data"]
        assert metrics["seeds"] == 2 and 0 <= metrics["test_acc"]["mean"] <= 1
    assert not (tiny_repo / "reports" / "train" / "metrics.json").exists()  # results live in the experiments
