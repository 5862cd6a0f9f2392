"""tmkt.parallel: work in processes keeps the order of its items, names the item that failed, and logs progress."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import pytest

from tmkt import layout, parallel


def _late_square(x: int) -> tuple[int, int]:
    time.sleep(0.05 * (3 - x % 3))  # the first items finish last
    return x * x, os.getpid()


def _scaled(factor: int, x: int) -> int:
    return factor * x


def _fails_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


_MARK = "unset"


def _mark(value: str) -> None:
    global _MARK
    _MARK = value


def _read_mark(x: int) -> str:
    return _MARK


def test_results_keep_the_order_of_the_items_whatever_finishes_first():
    out = parallel.map_in_processes(_late_square, range(6), workers=2)
    assert [square for square, _ in out] == [0, 1, 4, 9, 16, 25]
    assert os.getpid() not in {pid for _, pid in out}  # they ran in worker processes
    assert parallel.START_METHOD in ("forkserver", "spawn")  # never a fork of a process that may hold torch threads


def test_one_worker_runs_in_this_process_and_skips_the_worker_initializer():
    out = parallel.map_in_processes(_late_square, [2, 1], workers=1, initializer=_mark, initargs=("set",))
    assert out == [(4, os.getpid()), (1, os.getpid())]
    assert _MARK == "unset"
    assert parallel.map_in_processes(_read_mark, [0, 1], workers=2, initializer=_mark, initargs=("set",)) == ["set"] * 2


def test_shared_state_is_handed_to_every_call():
    assert parallel.map_in_processes(_scaled, [1, 2, 3], workers=2, shared=10) == [10, 20, 30]
    assert parallel.map_in_processes(_scaled, [1, 2, 3], workers=1, shared=10) == [10, 20, 30]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_exception_in_a_worker_surfaces_with_its_type_and_the_item_named(workers):
    with pytest.raises(ValueError, match="three is not allowed") as err:
        parallel.map_in_processes(_fails_on_three, [1, 2, 3, 4], workers=workers, label="digits")
    assert "raised on digits 3/4: 3" in err.value.__notes__


def test_progress_is_logged_and_a_script_can_silence_it(caplog):
    caplog.set_level(logging.INFO, logger="tmkt.parallel")
    parallel.map_in_processes(_scaled, [1, 2, 3], workers=1, shared=1, progress=True, label="steps", every=0)
    lines = [r.getMessage() for r in caplog.records if r.name == "tmkt.parallel"]
    assert [line.split(",")[0] for line in lines] == ["steps: 1/3 done", "steps: 2/3 done", "steps: 3/3 done"]
    assert all(line.endswith("elapsed") for line in lines)
    caplog.clear()
    parallel.map_in_processes(_scaled, [1, 2], workers=1, shared=1, progress=False, every=0)
    logging.getLogger("tmkt.parallel").setLevel(logging.WARNING)
    try:
        parallel.map_in_processes(_scaled, [1, 2], workers=1, shared=1, progress=True, every=0)
    finally:
        logging.getLogger("tmkt.parallel").setLevel(logging.NOTSET)
    assert not [r for r in caplog.records if r.name == "tmkt.parallel"]


def test_fewer_than_one_worker_is_refused():
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        parallel.map_in_processes(_scaled, [1], workers=0, shared=1)


SCRIPT = """
import logging, sys
from tmkt import layout, parallel
if sys.argv[1] == "silenced":
    logging.getLogger("tmkt.parallel").setLevel(logging.WARNING)
parallel.map_in_processes(abs, [-1, -2], workers=1, progress=True, label="numbers", every=0)
"""


@pytest.mark.parametrize("mode", ["shown", "silenced"])
def test_asked_for_progress_reaches_the_terminal_unless_a_script_silences_it(mode):
    """With no logging configured, the lines go to the terminal (tmkt.terminal.say), as a stage's other lines do."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120,
                          cwd=layout.ROOT, check=True)
    shown = [line.split(",")[0] for line in done.stderr.splitlines() if line.startswith("numbers:")]
    assert shown == (["numbers: 1/2 done", "numbers: 2/2 done"] if mode == "shown" else [])
