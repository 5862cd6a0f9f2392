"""The convert stage: the worker pool writes the same files as a serial run (byte for byte, so DVC sees one
hash), and does not hang after the parent used torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from tmkt import layout

TINY = {"data.max_per_class": 3, "data.time_bins": 3, "data.height": 12, "data.width": 12,
        "simulator.saccade_ms": 10.0, "simulator.step_ms": 2.0}

SCRIPT = textwrap.dedent(
    """
    import sys, torch
    from pathlib import Path
    from tmkt import config
    from tmkt.data.convert import convert

    # An OpenMP parallel region in the parent before the pool starts (what a notebook cell may have done).
    torch.nn.functional.interpolate(torch.rand(64, 1, 34, 34), size=(24, 24), mode="area")
    params = config.load(None, {overrides!r})
    out = Path(sys.argv[1])
    convert(params, out / "serial", workers=1, progress=False)
    convert(params, out / "pool", workers=2, progress=False)
    """
)


def test_pool_workers_after_torch_use_match_a_serial_run(tmp_path):
    # In a subprocess with a time limit: the failure this guards against is a deadlock, not an exception.
    script = SCRIPT.format(overrides=TINY)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False, cwd=layout.ROOT, timeout=120,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert np.load(tmp_path / "serial" / "events.npy").shape[0] == 30
    for name in ("events.npy", "images.npy", "manifest.csv", "meta.json"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes(), name
