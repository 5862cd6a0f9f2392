"""What a stage tells the terminal while ``dvc repro`` runs: a few short lines, live whatever the number of processes.

Every line goes to the process's original standard error (``sys.__stderr__``). Under papermill that is the
kernel's, which ipykernel both echoes to the terminal running ``dvc repro`` and records in the executed
notebook; the stages' engine (:mod:`tmkt.papermill_engine`) removes them from the notebook it saves, so that its
narrative is not buried under one line per epoch. A plain ``print`` in the kernel reaches the notebook only. Training runs in worker processes report
to the stage's process (:mod:`tmkt.training.runs`), which writes their lines, so each line can carry the time
the whole stage has left. Progress of work in processes (:mod:`tmkt.parallel`) goes through ``logging``, and
:func:`progress_to_terminal` shows it here too.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field


def say(message: str) -> None:
    """One line on the terminal (``[stage] ...``: :mod:`tmkt.papermill_engine` keeps it out of executed notebooks)."""
    stream = sys.__stderr__ or sys.stderr
    stream.write(message.rstrip("\n") + "\n")
    stream.flush()


class _SayHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        say(self.format(record))


def progress_to_terminal() -> None:
    """Show the ``INFO`` lines of the package's loggers (``tmkt.*``: the progress of :mod:`tmkt.parallel`) with
    :func:`say`, unless the process has configured logging itself (a handler on ``tmkt`` or the root logger,
    which then shows them). Only a level nobody set is set (``tmkt`` to ``INFO``), so a logger a script set higher,
    ``logging.getLogger("tmkt.parallel").setLevel(logging.WARNING)``, stays silent."""
    logger = logging.getLogger("tmkt")
    if not logger.hasHandlers():
        logger.addHandler(_SayHandler())
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


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

    ``total`` units (epochs of all runs), ``skipped`` of them done before this start (resumed checkpoints). The
    first ``warmup`` units (one per process) also carry the processes' start-up, so the rate is measured from
    the moment they are done: after ``d > warmup`` units, ``t`` seconds later,
    ``left = t / (d - warmup) * (total - skipped - d)``. Processes training in parallel finish units faster,
    which the rate sees.
    """

    total: int
    skipped: int = 0
    warmup: int = 1
    done: int = 0
    start: float = field(default_factory=time.perf_counter)
    rate_start: float | None = None

    def tick(self) -> str:
        """Count one finished unit; ``"<elapsed> elapsed, about <left> left"``."""
        self.done += 1
        now = time.perf_counter()
        if self.done == self.warmup:
            self.rate_start = now
        remaining = max(0, self.total - self.skipped - self.done)
        elapsed = f"{duration(now - self.start)} elapsed, "
        if not remaining:
            return elapsed + "done"
        if self.rate_start is None or self.done == self.warmup:
            return elapsed + "estimating the time left"
        left = (now - self.rate_start) / (self.done - self.warmup) * remaining
        return elapsed + f"about {duration(left)} left"
