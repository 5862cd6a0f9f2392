"""The paper's presets: each converts a tiny tree in its dataset's real file formats and trains one step.

The trees are written with ``tests/formats.py``; the model is the preset's own (paper-scale trunk, T and
frame size); only the run's length and batch are cut so that one step fits a CPU test.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from formats import write_atis, write_image, write_mat, write_nomniglot_character, write_omniglot_character

from tmkt import config, presets
from tmkt.data.convert import convert
from tmkt.data.processed import ProcessedData
from tmkt.method.models import TRUNKS
from tmkt.training.loop import Trainer

ONE_STEP = {"train.epochs": 1, "train.steps_per_epoch": 1, "train.batch_size": 4, "train.eval_batch_size": 16,
            "train.warmup_epochs": 0, "base.device": "cpu", "base.parallel_runs": 1}


def saccade(rng, width: int, height: int, n: int = 300) -> tuple:
    """Random in-sensor events over 300 ms with increasing timestamps: (x, y, p, t)."""
    t = np.sort(rng.integers(0, 300_000, n))
    return rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n), t


def ncaltech101_tree(root, rng) -> None:
    for label in ["accordion", "airplanes", "BACKGROUND_Google"]:
        for k in range(1, 11):
            write_atis(root / "N-Caltech101/Caltech101" / label / f"image_{k:04d}.bin", *saccade(rng, 240, 180))
            write_image(root / "Caltech101/101_ObjectCategories" / label / f"image_{k:04d}.jpg",
                        rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))
    write_image(root / "Caltech101/101_ObjectCategories/Faces/image_0001.jpg", np.zeros((8, 8, 3), np.uint8))


def cepdvs_tree(root, rng) -> None:
    classes = ["fish", "trees"] * 10
    (root / "CEP-DVS").mkdir(parents=True)
    (root / "CEP-DVS/pathFile.csv").write_text("index path\n" + "\n".join(f"{n} x y z {c}" for n, c in enumerate(classes)))
    for n in range(len(classes)):
        x, y, p, t = saccade(rng, 60 + n, 50)
        write_mat(root / f"CEP-DVS/data/MAT/img/{n:05d}.mat", x=x, y=y, ts=t, p=2 * p - 1)
        write_image(root / f"CEP-DVS/data/img/{n:05d}.jpg", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))


def nomniglot_tree(root, rng) -> None:
    for ident, character in [("0001", "Latin/character01"), ("0002", "Greek/character01")]:
        drawings = []
        for k in range(20):
            x, y, p, t = saccade(rng, 250, 250, 100)
            drawings.append((t + 400_000 * k, x + 54, y + 4, p))
        write_nomniglot_character(root, character, ident, drawings)
        write_omniglot_character(root, character, ident, [rng.random((105, 105)) > 0.1 for _ in range(20)])
    for subset_character in ["Atlantean/character01"]:
        x, y, p, t = saccade(rng, 250, 250, 100)
        write_nomniglot_character(root, subset_character, "0003", [(t + 400_000 * k, x + 54, y + 4, p) for k in range(20)],
                                  "evaluation")
        write_omniglot_character(root, subset_character, "0003", [rng.random((105, 105)) > 0.1 for _ in range(20)],
                                 "evaluation")


TREES = {"ncaltech101": ncaltech101_tree, "cepdvs": cepdvs_tree, "nomniglot": nomniglot_tree}
PAPER = {  # (trunk, T, H x W) as the paper reports each benchmark
    "ncaltech101": ("vgg_snn", 10, (48, 48)),
    "cepdvs": ("resnet18_snn", 6, (48, 48)),
    "nomniglot": ("scnn", 12, (28, 28)),
}


def test_every_benchmark_has_a_preset():
    assert presets.names() == sorted(PAPER)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_preset_converts_its_format_and_trains_one_step(name, tmp_path):
    raw = tmp_path / "raw"
    TREES[name](raw, np.random.default_rng(0))
    params = config.load(None, presets.overrides(name) | ONE_STEP | {"data.raw_dir": str(raw)})
    arch, time_bins, size = PAPER[name]
    assert (params.model.arch, params.data.time_bins, (params.data.height, params.data.width)) == (arch, time_bins, size)
    result = convert(params, tmp_path / "processed", progress=False)
    data = ProcessedData.load(result.out_dir)
    assert data.events.shape[1:] == (time_bins, 2, *size)
    if name == "ncaltech101":  # the paper's class list keeps the background class
        assert "BACKGROUND_Google" in data.meta["classes"] and "Faces" not in data.meta["classes"]
    trainer = Trainer(params, data, tmp_path / "run", seed=42)
    assert isinstance(trainer.model.trunk, TRUNKS[arch])
    before = [p.detach().clone() for p in trainer.model.parameters()]
    metrics = trainer.fit(progress=False)
    assert 0.0 <= metrics["test_acc"] <= 1.0
    assert any(not np.allclose(b.numpy(), p.detach().numpy()) for b, p in zip(before, trainer.model.parameters()))


def test_preset_command_sets_exactly_the_preset(monkeypatch):
    command = presets.exp_run_command("nomniglot", queue=True)
    assert command[:6] == ["dvc", "exp", "run", "--name", "nomniglot", "--queue"]
    pairs = [arg.split("=", 1) for arg in command[7::2]]
    assert {key: yaml.safe_load(value) for key, value in pairs} == presets.overrides("nomniglot")


def test_a_misspelt_preset_key_names_the_file_and_the_key(tmp_path, monkeypatch):
    (tmp_path / "broken.yaml").write_text("data.time_binz: 10\n")
    monkeypatch.setattr(presets, "FOLDER", tmp_path)
    with pytest.raises(config.ParamsError, match=r"(?s)broken.yaml: .*time_binz"):
        presets.overrides("broken")
    assert presets.main(["broken", "--print"]) == 2
