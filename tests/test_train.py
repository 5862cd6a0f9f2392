"""Training: every method runs, runs are deterministic, a killed run resumes to the same result."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tmkt import config
from tmkt.data.datasets.base import DatasetError, Item
from tmkt.data.processed import ProcessedData
from tmkt.data.splits import build_manifest
from tmkt.terminal import StageClock, duration
from tmkt.training.loop import RunEvent, Trainer, balanced_batches, epoch_batches
from tmkt.training.optim import adamw, lr_factor
from tmkt.training.runs import Run, StageReport, train_seeds

T, SIZE, CLASSES, PER_CLASS = 3, 8, 3, 20
SPLIT_60_20_20 = config.section("data", split={"train": 0.6, "val": 0.2, "test": 0.2})  # the sizes below assume it


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> ProcessedData:
    """Tiny learnable data on disk: class k lights up row block k in both modalities."""
    rng = np.random.default_rng(0)
    items = [Item(id=f"{k}-{i}", class_name=str(k), pair_key=f"{k}-{i}") for k in range(CLASSES) for i in range(PER_CLASS)]
    manifest = build_manifest(items, items, SPLIT_60_20_20)
    labels = manifest.loc[manifest["modality"] == "event", "label"].to_numpy()
    events = rng.random((len(labels), T, 2, SIZE, SIZE)).astype(np.float16) * 0.3
    images = (rng.random((len(labels), SIZE, SIZE)) * 60).astype(np.uint8)
    for row, k in enumerate(labels):
        events[row, :, :, 2 * k : 2 * k + 3] += 0.7
        images[row, 2 * k : 2 * k + 3] = 255
    simulated = rng.random((len(labels), T, 2, SIZE, SIZE)).astype(np.float16) * 0.3  # the images "recorded"
    for row, k in enumerate(labels):
        simulated[row, :, :, 2 * k : 2 * k + 3] += 0.5
    folder = tmp_path_factory.mktemp("processed")
    np.save(folder / "events.npy", events)
    np.save(folder / "images.npy", images)
    np.save(folder / "simulated_images.npy", simulated)
    manifest.to_csv(folder / "manifest.csv", index=False)
    (folder / "meta.json").write_text(json.dumps(dict(dataset="synthetic", classes=[str(k) for k in range(CLASSES)])))
    return ProcessedData.load(folder)


def params_for(method: str, **extra):
    overrides = {
        "train.method": method, "train.epochs": 3, "train.steps_per_epoch": 3, "train.batch_size": 8,
        "train.warmup_epochs": 1, "model.width": 0.0625, "model.blocks": 2, "base.num_threads": 1,
        "scarcity.event_fraction": 0.5,
    }
    return config.parse(config.apply_overrides(config.load().model_dump(), overrides | extra))


@pytest.mark.parametrize("method", ["event_only", "finetune", "sim2real", "joint", "he2024", "tmkt"])
def test_every_method_trains_and_writes_its_outputs(method, data, tmp_path):
    metrics = Trainer(params_for(method), data, tmp_path, seed=1).fit(progress=False)
    history = pd.read_csv(tmp_path / "history.csv")
    assert len(history) == 3 and np.isfinite(history["loss"]).all()
    assert metrics["n_event_train"] == CLASSES * 6  # half of the 12 training recordings per class
    assert 1 <= metrics["best_epoch"] <= 3
    assert metrics["val_acc"] == history.loc[metrics["best_epoch"] - 1, "val_acc"] == history["val_acc"].max()
    assert (tmp_path / "confusion.json").is_file() and (tmp_path / "checkpoint.pt").is_file()
    two_streams = method in ("joint", "he2024", "tmkt")
    assert ("switch_t1" in history) == two_streams and ("cka_t1" in history) == two_streams
    assert (history["mag_acc"].notna().all()) == (method == "tmkt")
    # every loss term on its own, where the method has it; MAG and MRP beside their constant predictors
    has = {term: history[term].notna().all() for term in ("tet_mixed", "tet_event", "da_loss", "mag_loss",
                                                          "mag_base_loss", "mrp_loss", "mrp_base_loss")}
    assert has == {"tet_mixed": two_streams, "tet_event": method not in ("finetune", "sim2real"), "da_loss": method in ("he2024", "tmkt"),
                   "mag_loss": method == "tmkt", "mag_base_loss": method == "tmkt", "mrp_loss": method == "tmkt",
                   "mrp_base_loss": method == "tmkt"}
    assert history["r_m"].notna().all() == (method in ("he2024", "tmkt"))
    if method == "joint":  # the images unmixed: every sequence is pure image (no switch before T + 1)
        switch = [c for c in history if c.startswith("switch_t")]
        assert (history[switch[:-1]] == 0).all().all() and (history[switch[-1]] > 0).all()
    if method in ("finetune", "sim2real"):  # the event term only once the recordings train
        assert list(history["phase"]) == ["image", "image", "event"]
        assert history["tet_event"].isna().tolist() == [True, True, False]
    if method == "he2024":  # sample-level replacement: a sample is all events (t* = 1) or all image (none)
        inner = [c for c in history if c.startswith("switch_t")][1:-1]
        assert (history[inner] == 0).all().all()


def test_sim2real_and_a_simulated_second_stream_train_on_the_simulated_recordings(data, tmp_path, monkeypatch):
    drawn = []
    appearance = ProcessedData.appearance

    def spy(self, rows, kind="images"):
        drawn.append(kind)
        return appearance(self, rows, kind)

    monkeypatch.setattr(ProcessedData, "appearance", spy)
    Trainer(params_for("sim2real"), data, tmp_path / "s2r", seed=1).fit(progress=False)
    assert drawn and set(drawn) == {"simulated"}
    drawn.clear()
    Trainer(params_for("tmkt", **{"train.appearance": "simulated"}), data, tmp_path / "tmkt", seed=1).fit(progress=False)
    assert drawn and set(drawn) == {"simulated"}
    drawn.clear()
    Trainer(params_for("finetune"), data, tmp_path / "ft", seed=1).fit(progress=False)
    assert set(drawn) == {"images"}


def test_training_on_simulated_recordings_that_were_not_converted_names_the_knob(data, tmp_path):
    folder = tmp_path / "processed"
    folder.mkdir()
    for name in ("events.npy", "images.npy", "manifest.csv", "meta.json"):
        (folder / name).write_bytes((data.folder / name).read_bytes())
    without = ProcessedData.load(folder)
    with pytest.raises(DatasetError, match="simulated_images.npy: set data.simulated_images: true"):
        Trainer(params_for("sim2real"), without, tmp_path / "run", seed=1).fit(progress=False)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_the_simulated_stream_counts_in_a_run_identity_only_where_it_is_read(data):
    from tmkt.training.checkpoints import fingerprint
    from tmkt.training.methods import effective_config

    assert "appearance" not in effective_config(params_for("event_only"))["train"]
    assert effective_config(params_for("tmkt", **{"train.appearance": "simulated"}))["train"]["appearance"] == "simulated"
    # event-only training does not read the simulated recordings: their file does not enter its fingerprint
    before = fingerprint(params_for("event_only"), 1, data.folder), fingerprint(params_for("sim2real"), 1, data.folder)
    path = data.folder / "simulated_images.npy"
    original = path.read_bytes()
    try:
        np.save(path, np.zeros_like(np.load(path)))
        after = fingerprint(params_for("event_only"), 1, data.folder), fingerprint(params_for("sim2real"), 1, data.folder)
    finally:
        path.write_bytes(original)
    assert after[0] == before[0] and after[1] != before[1]


def test_same_seed_same_run_and_other_seed_differs(data, tmp_path):
    a = Trainer(params_for("tmkt"), data, tmp_path / "a", seed=5).fit(progress=False)
    b = Trainer(params_for("tmkt"), data, tmp_path / "b", seed=5).fit(progress=False)
    Trainer(params_for("tmkt"), data, tmp_path / "c", seed=6).fit(progress=False)
    ha, hb, hc = (pd.read_csv(tmp_path / x / "history.csv") for x in "abc")
    pd.testing.assert_frame_equal(ha, hb)
    assert a["test_acc"] == b["test_acc"]
    assert not np.allclose(ha["loss"], hc["loss"])


def test_killed_run_resumes_to_the_uninterrupted_result(data, tmp_path):
    params = params_for("tmkt")
    whole = Trainer(params, data, tmp_path / "whole", seed=7).fit(progress=False)
    assert Trainer(params, data, tmp_path / "killed", seed=7).fit(progress=False, stop_after=2) == {}
    assert len(pd.read_csv(tmp_path / "whole" / "history.csv")) == 3
    events = []
    resumed = Trainer(params, data, tmp_path / "killed", seed=7).fit(progress=False, report=events.append)
    assert resumed["resumed"] and not whole["resumed"]
    assert events[0] == RunEvent(7, 2, 3, start="resumed") and [e.epoch for e in events[1:]] == [3]
    assert events[1].val_acc == pd.read_csv(tmp_path / "killed" / "history.csv")["val_acc"].iloc[-1]
    for key in ("best_epoch", "val_acc", "test_acc", "test_acc_last"):
        assert resumed[key] == whole[key], key
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "whole" / "history.csv"), pd.read_csv(tmp_path / "killed" / "history.csv")
    )


def test_a_knob_a_method_does_not_read_keeps_its_runs(data, tmp_path):
    """The fingerprint is the method's effective configuration: TMKT's MAG weight or the mixup schedule leave an
    event-only run (and its checkpoint) alone, and retrain a TMKT run."""
    fingerprint = lambda method, **extra: Trainer(params_for(method, **extra), data, tmp_path / method, seed=1).fingerprint
    for knob in ({"loss.lambda_mag": 0.1}, {"mixup.schedule": "linear"}, {"train.finetune_image_fraction": 0.3}):
        assert fingerprint("event_only", **knob) == fingerprint("event_only"), knob
    assert fingerprint("tmkt", **{"loss.lambda_mag": 0.1}) != fingerprint("tmkt")
    assert fingerprint("he2024", **{"loss.lambda_mag": 0.1}) == fingerprint("he2024")  # He et al. have no MAG
    assert fingerprint("joint", **{"mixup.schedule": "linear"}) == fingerprint("joint")  # joint does not mix
    assert fingerprint("he2024", **{"mixup.schedule": "linear"}) != fingerprint("he2024")
    assert fingerprint("event_only", **{"train.crop_padding": 0}) != fingerprint("event_only")


def test_rerunning_a_cell_after_a_knob_it_does_not_read_trains_nothing(data, tmp_path, capfd):
    """What a DVC stage does when a parameter of its section changes that its method does not read: the stage runs,
    finds every run already trained (same fingerprint) and only evaluates them."""
    first = train_seeds(params_for("event_only"), data, tmp_path / "runs", tmp_path / "metrics.json", seeds=[1, 2],
                        progress=False)
    capfd.readouterr()
    again = train_seeds(params_for("event_only", **{"loss.lambda_mag": 0.1, "mixup.schedule": "constant"}), data,
                        tmp_path / "runs", tmp_path / "metrics.json", seeds=[1, 2], progress=False)
    assert capfd.readouterr().err.count("already trained") == 2
    pd.testing.assert_frame_equal(first.drop(columns=["train_seconds", "resumed"]),
                                  again.drop(columns=["train_seconds", "resumed"]))


def test_checkpoint_of_another_configuration_is_not_resumed(data, tmp_path):
    Trainer(params_for("tmkt"), data, tmp_path, seed=7).fit(progress=False, stop_after=1)
    other = Trainer(params_for("tmkt", **{"train.lr": 0.001}), data, tmp_path, seed=7)
    assert not other.try_resume()
    assert Trainer(params_for("tmkt"), data, tmp_path, seed=7).try_resume()
    events = []
    Trainer(params_for("tmkt", **{"train.lr": 0.001}), data, tmp_path, seed=7).fit(progress=False, stop_after=0,
                                                                                  report=events.append)
    assert events == [RunEvent(7, 0, 3, start="restarted")]


def test_a_checkpoint_loads_with_weights_only(data, tmp_path):
    """A real run's checkpoint holds only tensors and plain values: it loads without unpickling arbitrary code,
    the run resumes from it, and the figures' loader rebuilds its network."""
    from tmkt.results.trained import trained_model

    params = params_for("tmkt")
    Trainer(params, data, tmp_path, seed=2).fit(progress=False, stop_after=2)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["epochs_done"] == 2 and isinstance(state["model"], dict)
    assert all(type(v) in (int, float, str) for row in state["history"] for v in row.values())
    assert Trainer(params, data, tmp_path, seed=2).try_resume()
    assert not trained_model(params.model, data, tmp_path / "checkpoint.pt").training


def test_a_checkpoint_that_needs_full_unpickling_is_another_runs(data, tmp_path):
    """One written before checkpoints were plain: training restarts, the figures' loader says how to rewrite it."""
    from tmkt.results.trained import trained_model

    params = params_for("event_only")
    trainer = Trainer(params, data, tmp_path, seed=2)
    torch.save({"fingerprint": trainer.fingerprint, "history": [{"loss": np.float64(1.0)}]}, tmp_path / "checkpoint.pt")
    assert not trainer.try_resume()
    with pytest.raises(RuntimeError, match=r"checkpoint.pt does not load with .*weights_only=True.*`dvc repro`"):
        trained_model(params.model, data, tmp_path / "checkpoint.pt")


def test_plain_turns_numpy_values_into_python_ones_and_keeps_tensors():
    from tmkt.training.checkpoints import plain

    weights = torch.ones(2)
    state = {"row": {"acc": np.float32(0.5), "n": np.int64(3), "hist": np.array([1, 2])}, "w": weights,
             "rows": [np.float64(1.5), (np.int32(2), "a")], "untouched": {"x": 1.0}}
    out = plain(state)
    assert out == {"row": {"acc": 0.5, "n": 3, "hist": [1, 2]}, "w": weights, "rows": [1.5, (2, "a")],
                   "untouched": {"x": 1.0}}
    assert type(out["row"]["acc"]) is float and type(out["row"]["n"]) is int and type(out["rows"][1]) is tuple
    assert out["w"] is weights and out["untouched"] is state["untouched"]  # nothing to convert: the same object
    assert type(state["row"]["acc"]) is np.float32  # the input is not changed


def test_stage_report_says_what_resumes_and_how_long_is_left(capfd):
    runs = [Run(params_for("tmkt"), seed, Path("unused")) for seed in (1, 2)]
    report = StageReport("ablate-variant@tmkt_da_only", runs, workers=2)
    report(RunEvent(1, 3, 3, start="resumed"))
    report(RunEvent(2, 1, 3, start="resumed"))
    report(RunEvent(2, 2, 3, val_acc=0.5))
    report(RunEvent(2, 3, 3, val_acc=0.75))
    lines = capfd.readouterr().err.splitlines()
    assert lines[0] == "[ablate-variant@tmkt_da_only] 2 runs of 3 epochs, 2 at a time"
    assert lines[1] == "[ablate-variant@tmkt_da_only] seed 1: already trained (3 epochs in its checkpoint), evaluating it"
    assert lines[2] == "[ablate-variant@tmkt_da_only] seed 2: resuming from its checkpoint after epoch 1 of 3"
    assert lines[3].startswith("[ablate-variant@tmkt_da_only] seed 2 · epoch 2/3 · val 0.500 · ") and lines[3].endswith(" left")
    assert lines[4].endswith("elapsed, done")  # 6 epochs: 4 in checkpoints, 2 trained now
    # a pool of runs of different lengths names them all
    mixed = runs + [Run(params_for("tmkt", **{"train.epochs": 6}), 3, Path("unused"))]
    StageReport("profile", mixed, workers=2)
    assert capfd.readouterr().err.splitlines()[0] == "[profile] 3 runs of 3 or 6 epochs, 2 at a time"


def test_stage_clock_estimates_the_time_left_from_the_rate_after_start_up():
    clock = StageClock(total=10, skipped=2, warmup=2, start=time.perf_counter() - 30.0)
    assert clock.tick().endswith("estimating the time left")  # start-up of both processes not behind yet
    assert clock.tick().endswith("estimating the time left")
    clock.rate_start -= 8.0  # 8 s later, one more epoch
    assert clock.tick().endswith("about 40s left")  # 8 s per epoch after start-up, 5 to go
    assert duration(3725) == "1h02m" and duration(185) == "3m05s" and duration(12.4) == "12s"


def test_test_split_is_read_only_after_training(data, tmp_path, monkeypatch):
    reads = []
    original = Trainer.predict_split
    monkeypatch.setattr(Trainer, "predict_split", lambda self, split: reads.append(split) or original(self, split))
    metrics = Trainer(params_for("event_only"), data, tmp_path, seed=2).fit(progress=False)
    assert reads == ["val", "val", "val", "test", "test"]  # one validation per epoch, then last and best weights
    assert "test_acc" not in pd.read_csv(tmp_path / "history.csv")
    assert metrics["best_epoch"] < 3 or metrics["test_acc"] == metrics["test_acc_last"]


def test_parallel_seeds_equal_serial_seeds(data, tmp_path):
    kwargs = {"base.seeds": [3, 4], "ablate.seeds_per_cell": 2, "train.method": "tmkt"}
    serial = train_seeds(params_for("tmkt", **kwargs, **{"base.parallel_runs": 1}), data, tmp_path / "s",
                         tmp_path / "s.json", progress=False)
    parallel = train_seeds(params_for("tmkt", **kwargs, **{"base.parallel_runs": 2}), data, tmp_path / "p",
                           tmp_path / "p.json", progress=False)
    cols = ["seed", "best_epoch", "val_acc", "test_acc", "test_acc_last"]
    pd.testing.assert_frame_equal(serial[cols], parallel[cols])
    summary = json.loads((tmp_path / "p.json").read_text())
    assert summary["seeds"] == 2 and summary["test_acc"]["mean"] == pytest.approx(parallel["test_acc"].mean())
    for seed in (3, 4):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "s" / f"seed_{seed}" / "history.csv"),
                                      pd.read_csv(tmp_path / "p" / f"seed_{seed}" / "history.csv"))


def test_warmup_cosine_schedule_per_step():
    factor = lr_factor(config.section("train", epochs=7, warmup_epochs=2), steps_per_epoch=2)
    assert [factor(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert factor(9) == pytest.approx(0.5)  # half-way through the cosine part
    assert factor(14) == pytest.approx(0.0)


def test_he_et_al_schedules_change_per_epoch_to_a_floor_or_in_steps():
    cosine = lr_factor(config.section("train", epochs=10, warmup_epochs=2, lr=0.01, lr_min=0.001, lr_update="epoch"),
                       steps_per_epoch=3)
    assert [cosine(s) for s in range(6)] == [0.5, 0.5, 0.5, 1.0, 1.0, 1.0]  # one value per epoch
    assert cosine(29) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 7 / 8)))  # floor lr_min / lr
    step = lr_factor(config.section("train", epochs=50, warmup_epochs=5, lr_schedule="step", lr_step_epochs=40,
                                    lr_update="epoch"), steps_per_epoch=2)
    assert [step(s) for s in (0, 8, 10, 79, 80, 99)] == pytest.approx([0.2, 1.0, 1.0, 1.0, 0.1, 0.1])


def test_timm_warm_up_starts_from_its_initial_rate_and_the_cosine_counts_it():
    """He et al.'s timm scheduler: lr_t = 1e-6 + t (lr - 1e-6) / W while warming up, then the cosine of t / U."""
    cfg = config.section("train", epochs=300, warmup_epochs=5, lr=5.859375e-4, lr_min=1e-5, lr_update="epoch",
                         warmup_lr_init=1e-6, cosine_counts_warmup=True)
    factor = lr_factor(cfg, steps_per_epoch=4)
    rates = [cfg.lr * factor(4 * epoch) for epoch in range(7)]
    assert rates[0] == pytest.approx(1e-6) and rates[4] == pytest.approx(1e-6 + 4 * (cfg.lr - 1e-6) / 5)
    for epoch in (5, 6):  # counted from 0, not from the end of the warm-up
        assert rates[epoch] == pytest.approx(1e-5 + (cfg.lr - 1e-5) * 0.5 * (1 + math.cos(math.pi * epoch / 300)))
    after_warmup = lr_factor(cfg.model_copy(update=dict(cosine_counts_warmup=False)), steps_per_epoch=4)
    assert after_warmup(20) == pytest.approx(1.0) and factor(20) < 1.0


def test_no_weight_decay_on_one_dimensional_parameters_when_asked():
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.BatchNorm2d(4))
    decay_all = adamw(list(net.parameters()), config.section("train", lr=0.01))
    assert [g["weight_decay"] for g in decay_all.param_groups] == [0.01]
    he = adamw(list(net.parameters()), config.section("train", lr=0.01, weight_decay_1d=False))
    assert [(g["weight_decay"], [p.dim() for p in g["params"]]) for g in he.param_groups] == [
        (0.01, [4]), (0.0, [1, 1, 1])]


def test_class_balanced_batches_draw_every_class_alike():
    rows, labels = np.arange(100), np.array([0] * 90 + [1] * 10)
    drawn = np.concatenate(balanced_batches(rows, labels, batch_size=50, steps=40, rng=np.random.default_rng(0)))
    share = (labels[drawn] == 1).mean()
    assert len(drawn) == 2000 and 0.45 < share < 0.55  # 10 % of the rows, half of the draws


def test_epoch_batches_cycle_through_all_rows():
    rows = np.arange(10)
    batches = epoch_batches(rows, batch_size=4, steps=5, rng=np.random.default_rng(0))
    assert [len(b) for b in batches] == [4] * 5
    flat = np.concatenate(batches)
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))


def test_bf16_precision_runs_convolutions_in_bfloat16_and_trains(data, tmp_path):
    trainer = Trainer(params_for("tmkt", **{"train.precision": "bf16"}), data, tmp_path, seed=3)
    seen = []
    conv = next(m for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    metrics = trainer.fit(progress=False)
    assert seen and set(seen) == {torch.bfloat16}  # training steps and evaluation alike
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # weights stay float32
    assert 0.0 <= metrics["test_acc"] <= 1.0 and np.isfinite(pd.read_csv(tmp_path / "history.csv")["loss"]).all()


def test_compiled_trunk_keeps_its_state_dict_keys(data, tmp_path):
    """Compilation happens in place, so a compiled run's checkpoints load into an uncompiled model and back."""
    plain = Trainer(params_for("tmkt"), data, tmp_path / "a", seed=3).model
    compiled = Trainer(params_for("tmkt", **{"train.compile": True}), data, tmp_path / "b", seed=3).model
    assert list(compiled.state_dict()) == list(plain.state_dict())
    assert compiled.trunk._compiled_call_impl is not None and plain.trunk._compiled_call_impl is None


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_a_gpu_device_on_a_machine_without_one_is_named(device, monkeypatch):
    from tmkt.training.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match=f"base.device = '{device}' but no CUDA device"):
        resolve_device(device)
    assert resolve_device("auto").type == "cpu"


def test_device_names_are_validated():
    assert config.load(None, {"base.device": "cuda:2"}).base.device == "cuda:2"
    with pytest.raises(config.ParamsError, match="base.device = 'gpu'"):
        config.load(None, {"base.device": "gpu"})


def test_transfer_tests_every_run_on_real_and_on_simulated_recordings_of_the_test_digits(data, tmp_path):
    from tmkt.results import transfer

    params = params_for("event_only")
    for seed in (1, 2):
        Trainer(params, data, tmp_path / "runs" / f"seed_{seed}", seed=seed).fit(progress=False)
    runs = transfer.transfer_runs({"event_only": (tmp_path / "runs", params.model)}, data)
    assert sorted(zip(runs["seed"], runs["tested_on"])) == [(1, "real"), (1, "simulated"), (2, "real"), (2, "simulated")]
    # on the real test recordings, the transfer table's accuracy is the run's own test accuracy
    real = runs[runs["tested_on"] == "real"].set_index("seed")["test_acc"]
    own = {s: json.loads((tmp_path / "runs" / f"seed_{s}" / "metrics.json").read_text())["test_acc"] for s in (1, 2)}
    assert real.to_dict() == pytest.approx(own)
    sets = transfer.test_sets(data)
    assert sets["simulated"][0].shape[1] == len(data.rows("image", "test"))
    table = transfer.transfer_table(runs, 0.95)
    assert list(table["tested on"]) == ["real", "simulated"] and set(table["seeds"]) == {2}


def test_he_et_al_parity_switches_train_together(data, tmp_path):
    """Every switch of He et al.'s recipe at once (docs/method.md §9) trains and writes its outputs."""
    switches = {"model.surrogate": "qgate", "model.surrogate_alpha": 2.0, "train.classification_loss": "mean_ce",
                "loss.da_step_weights": "fixed", "train.lr_schedule": "step", "train.lr_step_epochs": 2,
                "train.lr_update": "epoch", "train.weight_decay_1d": False, "train.sampler": "class_balanced",
                "train.flip": True, "train.rotation_deg": 15.0, "train.crop_padding": 1}
    metrics = Trainer(params_for("he2024", **switches), data, tmp_path, seed=1).fit(progress=False)
    history = pd.read_csv(tmp_path / "history.csv")
    assert len(history) == 3 and np.isfinite(history["loss"]).all() and 0 <= metrics["test_acc"] <= 1
    # the step schedule per epoch: one warm-up epoch, the full rate, then x0.1 from the third epoch (lr_step_epochs
    # = 2); a history row holds the rate after its epoch, the one the next epoch starts with
    lr = params_for("he2024").train.lr
    assert history["lr"].tolist() == pytest.approx([lr, 0.1 * lr, 0.1 * lr])


def test_an_epoch_without_a_step_count_is_one_pass_over_the_whole_training_split(data, tmp_path):
    trainer = Trainer(params_for("event_only", **{"train.steps_per_epoch": None, "scarcity.event_fraction": 0.25}),
                      data, tmp_path, seed=1)
    every = len(data.rows("event", "train"))
    assert len(trainer.train_events) < every and trainer.steps_per_epoch == math.ceil(every / 8)
    metrics = Trainer(params_for("event_only"), data, tmp_path / "run", seed=1).fit(progress=False)
    assert (metrics["world_size"], metrics["precision"], metrics["compile"]) == (1, "fp32", False)


def test_each_epoch_is_one_log_record_and_no_bar_unless_asked(data, tmp_path, caplog, capsys):
    """Progress goes through ``logging`` (logger ``tmkt.training.loop``): one INFO record per epoch with the losses,
    the accuracies and the time; silenced by the logger's level; no tqdm bar on stderr by default."""
    import logging
    import re

    with caplog.at_level(logging.INFO, logger="tmkt.training.loop"):
        Trainer(params_for("tmkt"), data, tmp_path / "logged", seed=1).fit()
    records = [r for r in caplog.records if r.name == "tmkt.training.loop"]
    assert [r.levelno for r in records] == [logging.INFO] * 3
    history = pd.read_csv(tmp_path / "logged" / "history.csv")
    for epoch, record in enumerate(records, start=1):
        message = record.getMessage()
        assert message.startswith(f"seed 1 · epoch {epoch}/3 · loss {history['loss'][epoch - 1]:.3f} (tet_mixed ")
        assert "mag_loss " in message and f"· val {history['val_acc'][epoch - 1]:.3f} · " in message
        assert re.search(r"· \d+\.\ds$", message)
    assert "epoch 1/3" not in capsys.readouterr().err  # no per-step bar
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tmkt.training.loop"):
        Trainer(params_for("event_only"), data, tmp_path / "quiet", seed=1).fit()
    assert not [r for r in caplog.records if r.name == "tmkt.training.loop"]


def test_an_epoch_line_leaves_out_the_terms_a_run_does_not_have():
    from tmkt.training.loop import epoch_line

    row = dict(epoch=2, loss=1.23456, tet_mixed=float("nan"), tet_event=1.2, da_loss=float("nan"), train_acc=0.5,
               val_acc=1 / 3)
    assert epoch_line(7, 4, row, 12.34) == "seed 7 · epoch 2/4 · loss 1.235 (tet_event 1.200) · train 0.500 · val 0.333 · 12.3s"
    assert "(" not in epoch_line(7, 4, dict(row, tet_event=float("nan")), 1.0)
