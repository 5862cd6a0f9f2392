"""Data-parallel training on 2 gloo processes equals one process on the whole batch (tmkt.training.distributed)."""

from __future__ import annotations

import json
import socket

import numpy as np
import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp
from distributed_worker import one_step, rank_main

from tmkt import config
from tmkt.data.datasets.base import Item
from tmkt.data.splits import build_manifest
from tmkt.training.distributed import World

T, SIZE, CLASSES, PER_CLASS = 3, 16, 3, 12


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    rng = np.random.default_rng(0)
    items = [Item(id=f"{k}-{i}", class_name=str(k), pair_key=f"{k}-{i}") for k in range(CLASSES) for i in range(PER_CLASS)]
    manifest = build_manifest(items, items, config.section("data", split={"train": 0.6, "val": 0.2, "test": 0.2}))
    folder = tmp_path_factory.mktemp("processed")
    np.save(folder / "events.npy", (rng.random((len(items), T, 2, SIZE, SIZE)) * 2).astype(np.float16))
    np.save(folder / "images.npy", rng.integers(0, 256, (len(items), SIZE, SIZE), dtype=np.uint8))
    manifest.to_csv(folder / "manifest.csv", index=False)
    (folder / "meta.json").write_text(json.dumps(dict(dataset="synthetic", classes=[str(k) for k in range(CLASSES)])))
    return str(folder)


def params_for(method: str, **extra) -> config.Params:
    """The SCNN trunk has no BatchNorm: with losses that are means over samples, 2 x B/2 must equal 1 x B."""
    overrides = {"train.method": method, "model.arch": "scnn", "model.width": 0.25, "train.epochs": 2,
                 "train.steps_per_epoch": 2, "train.batch_size": 8, "train.warmup_epochs": 0, "base.device": "cpu",
                 "scarcity.event_fraction": 1.0, "loss.domain_alignment": False}
    return config.parse(config.apply_overrides(config.load().model_dump(), overrides | extra))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_rank_takes_its_share_of_a_batch_of_any_size():
    assert [World(r, 4).shard(8) for r in range(4)] == [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 8)]
    # 40 kept recordings on 3 processes: shares of 13, 13 and 14 that cover the batch once, each loss scaled so
    # that the mean of the ranks' gradients weights every sample alike
    shares = [World(r, 3).shard(40) for r in range(3)]
    assert shares == [slice(0, 13), slice(13, 26), slice(26, 40)]
    scales = [World(r, 3).loss_scale(40) for r in range(3)]
    assert scales == pytest.approx([39 / 40, 39 / 40, 42 / 40]) and sum(scales) / 3 == pytest.approx(1.0)
    with pytest.raises(ValueError, match="a batch of 3 samples cannot be shared by 4 processes"):
        World(1, 4).shard(3)


#: CKA alignment on, and a threshold low enough that the last layer's features vary across samples at every step
#: (at the default threshold this tiny network's later steps hold near-constant features, whose CKA is 0/0: its
#: gradient is then rounding noise, different on any two summation orders)
ALIGNED = {"loss.domain_alignment": True, "loss.da_step_weights": "learnable", "model.v_th": 0.1}


@pytest.mark.parametrize("method, extra, batch", [("event_only", {}, 8), ("tmkt", {}, 8), ("tmkt", ALIGNED, 7)],
                         ids=["event_only", "tmkt", "tmkt-cka-uneven"])
def test_two_gloo_processes_give_the_gradients_and_run_of_one(method, extra, batch, data_dir, tmp_path):
    """Also with the CKA alignment on (computed on the features gathered from both processes) and shares of 3
    and 4 samples: the single-process loss and gradients, the step weights' among them."""
    params = params_for(method, **extra, **{"train.batch_size": batch})
    rows = list(range(batch))
    single = one_step(params, data_dir, str(tmp_path / "single"), rows)
    mp.spawn(rank_main, args=(2, free_port(), params, data_dir, str(tmp_path), rows, str(tmp_path / "two")), nprocs=2)
    shared = torch.load(tmp_path / "grads.pt")
    assert set(shared) == set(single) and any(g.abs().sum() > 0 for g in single.values())
    if extra:
        assert single["alignment.eta"].abs().sum() > 0
    for name, grad in single.items():
        torch.testing.assert_close(shared[name], grad, rtol=1e-4, atol=1e-6, msg=f"gradient of {name}")
    # rank 0 alone wrote the run; it is the single-process run up to summation order
    from tmkt.data.processed import ProcessedData
    from tmkt.training.loop import Trainer

    alone = Trainer(params, ProcessedData.load(data_dir), tmp_path / "one", seed=11).fit(progress=False)
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert not (tmp_path / "rank1" / "metrics.json").exists()
    np.testing.assert_allclose(pd.read_csv(tmp_path / "two" / "history.csv")["loss"],
                               pd.read_csv(tmp_path / "one" / "history.csv")["loss"], rtol=1e-4)
    assert two["epochs"] == alone["epochs"] == 2
    # interrupted after epoch 1 and resumed on 2 processes: the uninterrupted 2-process run, exactly
    resumed = pd.read_csv(tmp_path / "interrupted" / "history.csv")
    pd.testing.assert_frame_equal(resumed, pd.read_csv(tmp_path / "two" / "history.csv"))
    assert json.loads((tmp_path / "interrupted" / "metrics.json").read_text())["resumed"] is True
