"""Splits by identity (no leakage into the image pool) and nested scarcity subsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmkt import config
from tmkt.data.splits import build_manifest
from tmkt.data.datasets.base import Item
from tmkt.data.splits import LeakageError, assign_splits, check_no_leakage, scarce_event_train, subset_id

SPLIT_60_20_20 = config.section("data", split={"train": 0.6, "val": 0.2, "test": 0.2})  # the sizes below assume it


def paired_items(n_per_class=20, classes=("a", "b", "c"), official=None):
    events, images = [], []
    for c in classes:
        for i in range(n_per_class):
            key = f"{c}/{i:03d}"
            split = official(i) if official else None
            events.append(Item(id=key, class_name=c, pair_key=key, official_split=split))
            images.append(Item(id=key, class_name=c, pair_key=key, official_split=split))
    return events, images


def test_pairs_share_split_and_fractions_hold():
    events, images = paired_items(n_per_class=50)
    manifest = build_manifest(events, images, SPLIT_60_20_20)
    by_key = manifest.groupby("pair_key")["split"].nunique()
    assert (by_key == 1).all()
    counts = manifest[manifest["modality"] == "event"].groupby(["class_name", "split"]).size().unstack()
    assert (counts["train"] == 30).all() and (counts["val"] == 10).all() and (counts["test"] == 10).all()
    check_no_leakage(manifest)  # does not raise


def test_official_test_split_is_kept():
    events, images = paired_items(n_per_class=40, official=lambda i: "test" if i < 10 else "train")
    manifest = build_manifest(events, images, config.section("data", split={"train": 0.75, "val": 0.05, "test": 0.2}))
    ev = manifest[manifest["modality"] == "event"]
    official_test = ev["official_split"] == "test"
    assert (ev.loc[official_test, "split"] == "test").all()
    assert set(ev.loc[~official_test, "split"]) == {"train", "val"}
    # the official train part is divided train : val = 0.75 : 0.05 -> 28 : 2 per class
    assert (ev[~official_test].groupby("class_name")["split"].apply(lambda s: (s == "val").sum()) == 2).all()


def test_split_depends_on_seed_only():
    events, images = paired_items()
    a = build_manifest(events, images, config.section("data", split_seed=1))["split"]
    b = build_manifest(events, images, config.section("data", split_seed=1))["split"]
    c = build_manifest(events, images, config.section("data", split_seed=2))["split"]
    assert a.equals(b) and not a.equals(c)


def test_leakage_is_detected():
    events, images = paired_items()
    manifest = build_manifest(events, images, SPLIT_60_20_20)
    held_out = manifest[(manifest["modality"] == "image") & (manifest["split"] == "test")].index[0]
    manifest.loc[held_out, "split"] = "train"
    with pytest.raises(LeakageError, match="source image"):
        check_no_leakage(manifest)


def test_conflicting_pair_labels_are_rejected():
    events, images = paired_items()
    images[0] = Item(id=images[0].id, class_name="b", pair_key=images[0].pair_key)
    with pytest.raises(ValueError, match="disagree on the class"):
        build_manifest(events, images, SPLIT_60_20_20)


def test_scarce_subsets_are_nested_and_sized():
    events, images = paired_items(n_per_class=100)
    manifest = build_manifest(events, images, SPLIT_60_20_20)
    sizes, previous = [], set()
    for fraction in (0.01, 0.03, 0.1, 0.3, 1.0):
        kept = scarce_event_train(manifest, config.section("scarcity", event_fraction=fraction, event_per_class=None), 42)
        ids = set(kept["id"])
        assert previous <= ids
        previous = ids
        per_class = kept.groupby("class_name").size()
        assert (per_class == max(1, round(fraction * 60))).all()
        sizes.append(len(kept))
    assert sizes == sorted(sizes) and sizes[-1] == 180
    kept = scarce_event_train(manifest, config.section("scarcity", event_fraction=None, event_per_class=7), 42)
    assert (kept.groupby("class_name").size() == 7).all()
    assert set(kept["split"]) == {"train"}


def test_each_seed_draws_its_own_scarce_subset_and_the_same_seed_the_same():
    events, images = paired_items(n_per_class=100)
    manifest = build_manifest(events, images, SPLIT_60_20_20)
    scarcity = config.section("scarcity", event_fraction=0.1, event_per_class=None)
    subsets = {seed: scarce_event_train(manifest, scarcity, seed) for seed in (1, 2, 3)}
    assert subset_id(subsets[1]) == subset_id(scarce_event_train(manifest, scarcity, 1))
    assert list(subsets[1].index) == sorted(subsets[1].index)  # manifest order
    assert len({subset_id(kept) for kept in subsets.values()}) == 3
    assert all(set(kept["id"]) != set(subsets[1]["id"]) for kept in (subsets[2], subsets[3]))
    # every training recording is drawn by some seed: the subsets are not a fixed few
    drawn = set().union(*(set(scarce_event_train(manifest, scarcity, s)["id"]) for s in range(40)))
    train = manifest[(manifest["modality"] == "event") & (manifest["split"] == "train")]
    assert len(drawn) > 0.9 * len(train)


def test_assign_splits_handles_unpaired_identities():
    identities = pd.DataFrame({"label": ["a"] * 10, "official_split": [None] * 10}, index=[f"x{i}" for i in range(10)])
    split = assign_splits(identities, SPLIT_60_20_20.split, seed=0)
    assert sorted(split.value_counts().items()) == [("test", 2), ("train", 6), ("val", 2)]
    assert np.all(split.index == identities.index)
