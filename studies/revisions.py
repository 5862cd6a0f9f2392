"""The default's results against those committed at an earlier git revision: how far they moved, which verdicts changed.

A run is a function of its configuration and seed on one machine; on another CPU the convolution kernels round
floats in another order and every run moves within its seed spread. This study measures how far: it reads the
default's ``reports/figures/per_seed.csv`` and ``comparisons.csv`` as committed at ``REV`` and as they are now,
and writes ``reports/repro/revisions.md``:

- per cell, the mean test accuracy then and now and the largest change of one seed's test accuracy (points; the
  same seed draws the same scarce recordings in both, so seeds pair);
- every comparison of the family, its Holm-adjusted interval and verdict then and now.

Run: ``python studies/revisions.py REV`` after ``dvc repro``, REV a commit whose reports the same configuration
produced (elsewhere, or before a change that should not move the numbers). Seconds; reads git, trains nothing.
"""

from __future__ import annotations

import argparse
import io
import subprocess

import pandas as pd

from tmkt import atomic, layout
from tmkt.results.tables import to_markdown

FIGURES = "reports/figures"
OUT = layout.ROOT / "reports/repro/revisions.md"


def committed(rev: str, name: str) -> pd.DataFrame:
    """``reports/figures/<name>`` as committed at ``rev``."""
    text = subprocess.run(["git", "show", f"{rev}:{FIGURES}/{name}"], cwd=layout.ROOT, capture_output=True,
                          text=True)
    if text.returncode != 0:
        raise SystemExit(f"revisions: git has no {FIGURES}/{name} at {rev!r}: {text.stderr.strip()}")
    return pd.read_csv(io.StringIO(text.stdout))


def cells_moved(then: pd.DataFrame, now: pd.DataFrame) -> pd.DataFrame:
    """Per cell: mean test accuracy then and now (%), its change and the largest per-seed change (points)."""
    keys = ["axis", "cell", "method", "seed"]
    both = then[keys + ["subset", "test_acc"]].merge(now[keys + ["subset", "test_acc"]], on=keys,
                                                     suffixes=("_then", "_now"), validate="one_to_one")
    if not (both["subset_then"] == both["subset_now"]).all():
        raise ValueError("a seed drew other scarce recordings at the two revisions: the runs do not pair")
    both["change"] = 100 * (both["test_acc_now"] - both["test_acc_then"])
    table = both.groupby(["axis", "cell"], sort=False).agg(
        seeds=("seed", "size"), then=("test_acc_then", "mean"), now=("test_acc_now", "mean"),
        largest_seed_change=("change", lambda c: c.abs().max()))
    table[["then", "now"]] *= 100
    table.insert(3, "change", table["now"] - table["then"])
    return table.reset_index().round(2)


def verdicts(then: pd.DataFrame, now: pd.DataFrame) -> pd.DataFrame:
    """Every comparison: its Holm-adjusted interval and verdict at both revisions."""
    def summary(table: pd.DataFrame) -> pd.Series:
        return table.set_index("comparison").apply(
            lambda r: f"{100 * r['diff']:+.1f} [{100 * r['adj_low']:+.1f}, {100 * r['adj_high']:+.1f}] {r['verdict']}",
            axis=1)

    out = pd.DataFrame({"then": summary(then), "now": summary(now)})
    out["verdict changed"] = [then_v.split("] ")[1] != now_v.split("] ")[1] for then_v, now_v in zip(out["then"], out["now"])]
    return out.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rev", help="the git revision whose committed reports to compare with")
    rev = parser.parse_args().rev
    current = layout.ROOT / FIGURES
    moved = cells_moved(committed(rev, "per_seed.csv"), pd.read_csv(current / "per_seed.csv"))
    changed = verdicts(committed(rev, "comparisons.csv"), pd.read_csv(current / "comparisons.csv"))
    atomic.write_text(OUT, (
        f"Test accuracy (%) per cell at `{rev}` (then) and now; changes in points, the largest of one seed's:\n\n"
        f"{to_markdown(moved)}\n\nEvery comparison (points, Holm-adjusted interval, verdict) then and now:\n\n"
        f"{to_markdown(changed)}\n"))
    print(OUT.read_text(), end="")


if __name__ == "__main__":
    main()
