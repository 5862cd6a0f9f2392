"""Splits by identity, and the event-scarcity knob.

**Identity.** A recording and the image it was made from share a ``pair_key``; the split is drawn per
*identity* (per class, stratified), so both land in the same split and the image pool used for pairing
(training images only) never holds the source of a validation or test recording. Items without a pair
key are their own identity. Where the dataset has an official test split (N-MNIST), it is kept as the
test split and validation is carved out of the official training part.

**Scarcity.** Which scarce recordings a run trains on is drawn by its seed: within each class the training
recordings are put in a random order seeded by ``(seed, class)``, and a run that keeps ``k`` recordings per
class keeps the first ``k``. Runs with the same seed therefore train on the same recordings (a paired
comparison removes the subset's effect), runs with different seeds on different ones (the spread over seeds
includes it), and for one seed smaller subsets are nested in larger ones (1 % ⊂ 3 % ⊂ 10 %): a data-ratio
curve compares runs that differ only by the added recordings. With a fraction ``f``,
``k = max(1, round(f · n_c))`` for a class with ``n_c`` training recordings.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from tmkt.config import DataConfig, ScarcityConfig, SplitFractions
from tmkt.data.datasets.base import Item


class LeakageError(AssertionError):
    """The image pool holds the source image of a validation or test recording."""


def assign_splits(
    identities: pd.DataFrame, fractions: SplitFractions, seed: int
) -> pd.Series:
    """Split per identity, stratified by class.

    ``identities`` has one row per identity with columns ``label`` and ``official_split`` ("train",
    "test" or None). Returns "train" / "val" / "test" per row (same index). Within each class the
    identities are shuffled with ``seed``; with no official split the first ``round(n·train)`` go to
    train, the next ``round(n·val)`` to val, the rest to test. Official "test" stays test and the
    official "train" part is divided train : val in the ratio of the fractions.
    """
    rng = np.random.default_rng(seed)
    out = pd.Series(index=identities.index, dtype=object)
    official = identities["official_split"].where(identities["official_split"].notna(), None)
    for _, group in identities.groupby("label", sort=True):
        idx = group.index.to_numpy()
        off = official.loc[idx]
        test_official = idx[(off == "test").to_numpy()]
        rest = idx[(off != "test").to_numpy()]
        rest = rest[rng.permutation(len(rest))]
        if len(test_official):
            n_train = int(round(len(rest) * fractions.train / (fractions.train + fractions.val)))
            n_val = len(rest) - n_train
        else:
            n_train = int(round(len(rest) * fractions.train))
            n_val = int(round(len(rest) * fractions.val))
        out.loc[rest[:n_train]] = "train"
        out.loc[rest[n_train : n_train + n_val]] = "val"
        out.loc[rest[n_train + n_val :]] = "test"
        out.loc[test_official] = "test"
    return out


def kept_per_class(n_train: int, scarcity: ScarcityConfig) -> int:
    """How many of a class's ``n_train`` training recordings a run keeps."""
    if scarcity.event_per_class is not None:
        return min(n_train, scarcity.event_per_class)
    return min(n_train, max(1, int(round(scarcity.event_fraction * n_train))))


#: Tags the random stream of the scarce subsets, apart from a run's per-epoch streams ``(seed, epoch)``.
SUBSET_STREAM = 0x5CA5CE


def scarce_event_train(manifest: pd.DataFrame, scarcity: ScarcityConfig, seed: int) -> pd.DataFrame:
    """The training recordings a run with ``seed`` keeps (see the module docstring), in manifest order."""
    train = manifest[(manifest["modality"] == "event") & (manifest["split"] == "train")]
    kept = []
    for label, group in train.groupby("label", sort=True):
        order = np.random.default_rng([seed, SUBSET_STREAM, int(label)]).permutation(len(group))
        kept.append(group.iloc[order[: kept_per_class(len(group), scarcity)]])
    return pd.concat(kept).sort_index()


def subset_id(recordings: pd.DataFrame) -> str:
    """A short name of a set of recordings (their ids, in any order): equal ids, equal names."""
    return hashlib.sha256("\n".join(sorted(recordings["id"].astype(str))).encode()).hexdigest()[:10]


def check_no_leakage(manifest: pd.DataFrame) -> dict[str, int]:
    """Raise :class:`LeakageError` if a val/test recording's source image is in the training image pool.

    Returns what was checked: held-out recordings with a known source image, and the pool size.
    """
    events = manifest[(manifest["modality"] == "event") & manifest["pair_key"].notna()]
    held_out = set(events.loc[events["split"] != "train", "pair_key"])
    pool = manifest[(manifest["modality"] == "image") & (manifest["split"] == "train")]
    leaked = held_out & set(pool["pair_key"].dropna())
    if leaked:
        example = sorted(leaked)[:3]
        raise LeakageError(f"{len(leaked)} held-out recordings have their source image in the pool, e.g. {example}")
    return {"held_out_with_source": len(held_out), "pool_images": len(pool)}


def build_manifest(event_items: list[Item], image_items: list[Item], data: DataConfig) -> pd.DataFrame:
    """One row per item with its split (by identity); raises on class conflicts."""
    rows = [
        dict(modality=m, row=i, id=it.id, class_name=it.class_name, pair_key=it.pair_key, official_split=it.official_split)
        for m, items in (("event", event_items), ("image", image_items))
        for i, it in enumerate(items)
    ]
    manifest = pd.DataFrame(rows)
    classes = sorted(manifest.loc[manifest["modality"] == "event", "class_name"].unique())
    strays = sorted(set(manifest["class_name"]) - set(classes))
    if strays:
        raise ValueError(f"images of classes without recordings cannot be paired: {strays[:5]}")
    manifest["label"] = manifest["class_name"].map({c: i for i, c in enumerate(classes)}).astype(np.int64)
    manifest["identity"] = manifest["pair_key"].where(
        manifest["pair_key"].notna(), manifest["modality"] + ":" + manifest["id"]
    )
    per_identity = manifest.groupby("identity").agg(
        label=("class_name", "first"),
        n_labels=("class_name", "nunique"),
        official_split=("official_split", "first"),
    )
    conflicts = per_identity[per_identity["n_labels"] > 1]
    if len(conflicts):
        raise ValueError(f"recordings and images sharing a pair_key disagree on the class: {list(conflicts.index[:3])}")
    per_identity["split"] = assign_splits(per_identity, data.split, data.split_seed)
    manifest["split"] = manifest["identity"].map(per_identity["split"])
    check_no_leakage(manifest)
    return manifest.drop(columns="identity")
