"""What a stage tells the terminal while ``dvc repro`` runs: a few short lines, live whatever the number of processes.

Every line goes to the process's original standard error (``sys.__stderr__``). Under papermill that is the
kernel's, which ipykernel both echoes to the terminal running ``dvc repro`` and records in the executed
notebook; a plain ``print`` in the kernel reaches the notebook only. Training runs in worker processes report
to the stage's process (:mod:`tmkt.training.runs`), which writes their lines, so each line can carry the time
the whole stage has left.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


def say(message: str) -> None:
    """One line on the terminal (and in the executed notebook)."""
    stream = sys.__stderr__ or sys.stderr
    stream.write(message.rstrip("\n") + "\n")
    stream.flush()


def duration(seconds: float) -> str:
    """``3725`` -> ``1h02m``, ``185`` -> ``3m05s``, ``12.4`` -> ``12s``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@dataclass
class StageClock:
    """Elapsed time of a stage and an estimate of the time left, from the units of work done so far.

    With ``total`` units (epochs of all runs), ``skipped`` of them already done before this start (resumed
    checkpoints) and ``done`` finished since, after ``t`` seconds: ``left = t / done * (total - skipped - done)``.
    Runs in parallel processes finish units faster, and the estimate sees that as a higher rate.
    """

    total: int
    skipped: int = 0
    done: int = 0
    start: float = field(default_factory=time.perf_counter)

    def tick(self) -> str:
        """Count one finished unit; ``"<elapsed> elapsed, about <left> left"``."""
        self.done += 1
        elapsed = time.perf_counter() - self.start
        remaining = max(0, self.total - self.skipped - self.done)
        left = elapsed / self.done * remaining
        return f"{duration(elapsed)} elapsed, " + (f"about {duration(left)} left" if remaining else "done")
