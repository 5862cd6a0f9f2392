"""studies/factors.py: its tables and its guard against comparing levels trained differently."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from tmkt import paths

spec = importlib.util.spec_from_file_location("factors", paths.ROOT / "studies/factors.py")
factors = importlib.util.module_from_spec(spec)
spec.loader.exec_module(factors)


def runs_table(**shared) -> pd.DataFrame:
    rows = []
    for value, offset in ((3.0, 0.0), (10.0, 0.05)):
        for method, base in (("event_only", 0.80), ("tmkt", 0.70)):
            for seed, noise in ((1, -0.01), (2, 0.01)):
                rows.append(dict(factor="noise", value=value, method=method, seed=seed, val_acc=0.5,
                                 test_acc=base + offset * (method == "tmkt") + noise, test_acc_last=0.5,
                                 train_seconds=1.0, n_event_train=30, n_image_pool=350, epochs=8,
                                 steps_per_epoch=20))
    table = pd.DataFrame(rows)
    for column, value in shared.items():
        table.loc[table.index[-1], column] = value
    return table


def test_summary_marks_the_default_and_gives_the_gap():
    table = factors.summary_table(runs_table(), ["event_only", "tmkt"], {"noise": 3.0, "T": 4.0})
    assert table["value"].tolist() == ["3 (default)", "10"]
    assert table["tmkt"].tolist() == ["70.0 ± 1.4", "75.0 ± 1.4"]
    assert table["tmkt − event_only (points)"].tolist() == ["-10.0", "-5.0"]


def test_levels_trained_differently_are_refused():
    factors.check_one_factor_at_a_time(runs_table())
    with pytest.raises(RuntimeError, match="levels differ in epochs"):
        factors.check_one_factor_at_a_time(runs_table(epochs=12))
