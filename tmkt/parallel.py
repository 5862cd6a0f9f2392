"""Work in processes, one way for the whole package: :func:`map_in_processes`.

**Start method.** Workers start from a fork server (``forkserver``), or are spawned where there is none
(Windows). Never by a plain ``fork`` of the calling process: by the time a stage maps work, that process has
usually run torch (its OpenMP and intra-op thread pools) or numba's compiled loops, and a forked child gets
a copy of the memory of those threads, locks included, but not the threads; the first parallel region it
enters can wait forever on a lock that nobody will release. The fork server is a fresh process that never runs
any of that, so forking from it is safe, and a worker starts in milliseconds once the modules named in
``preload`` are imported in the server (a spawned worker pays the imports, seconds, every time).

**State.** What every item needs (a dataset reader, a queue to report to) is ``shared``: sent once to each
worker when it starts and handed to ``fn`` with every item, ``fn(shared, item)``, never pickled per item.

**Progress.** One ``INFO`` line of the logger ``tmkt.parallel`` about every ``every`` seconds (done/total and
the time elapsed) and one at the end, when ``progress`` is true; ``tmkt.terminal.progress_to_terminal`` shows
them on the stage's terminal. A script silences them with ``progress=False`` or
``logging.getLogger("tmkt.parallel").setLevel(logging.WARNING)``.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from tmkt.terminal import duration, progress_to_terminal

log = logging.getLogger(__name__)

#: How every worker process of the package starts (see the module's documentation).
START_METHOD: str = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"

_NOTHING = object()
#: In a worker process: ``(shared,)`` of its pool, or ``()`` without one (set once, when it starts, by :func:`_start`).
_shared: tuple = ()


def context(preload: Sequence[str] = ()) -> multiprocessing.context.BaseContext:
    """The multiprocessing context of :data:`START_METHOD`; ``preload`` names modules the fork server imports
    once (it takes effect only if the server of this process has not started yet)."""
    ctx = multiprocessing.get_context(START_METHOD)
    if START_METHOD == "forkserver" and preload:
        ctx.set_forkserver_preload(list(preload))
    return ctx


def _start(shared: tuple, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    """A worker process starts: keep its pool's ``shared`` (as ``(shared,)`` or ``()``), run the initializer."""
    global _shared
    _shared = shared
    if initializer is not None:
        initializer(*initargs)


def _apply(fn: Callable, item: Any) -> Any:
    return fn(*_shared, item)


def map_in_processes(
    fn: Callable,
    items: Iterable,
    workers: int,
    *,
    shared: Any = _NOTHING,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
    preload: Sequence[str] = (),
    chunksize: int = 1,
    progress: bool = False,
    label: str = "items",
    every: float = 10.0,
) -> list:
    """``[fn(item) for item in items]`` (``[fn(shared, item) ...]`` when ``shared`` is given), in order, in up to
    ``workers`` processes (:data:`START_METHOD`); with ``workers <= 1`` or a single item, in this process.

    ``fn``, ``shared``, ``initializer`` and the items must pickle (``fn`` a module-level function). Each worker
    process runs ``initializer(*initargs)`` once when it starts (this process never does: it sets up a worker,
    e.g. its torch threads, not the caller).
    ``chunksize`` items travel to a worker at a time. If ``fn`` raises, the exception surfaces here with its own
    type and a note naming the item (``label`` i/n and its ``repr``); the items not started yet are cancelled.
    """
    items = list(items)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if progress:
        progress_to_terminal()
    clock = _Progress(label, len(items), every if progress else None)
    args = () if shared is _NOTHING else (shared,)
    out = []
    if workers == 1 or len(items) <= 1:
        for item in items:
            out.append(_named(lambda: fn(*args, item), item, len(out), clock))
        return out
    with ProcessPoolExecutor(min(workers, len(items)), mp_context=context(preload), initializer=_start,
                             initargs=(args, initializer, initargs)) as pool:
        results = pool.map(_apply, [fn] * len(items), items, chunksize=chunksize)
        for item in items:
            out.append(_named(lambda: next(results), item, len(out), clock))
    return out


def _named(call: Callable[[], Any], item: Any, index: int, clock: "_Progress") -> Any:
    """``call()``; an exception it raises gets a note naming ``item``, the ``index``-th of the clock's total."""
    try:
        result = call()
    except Exception as exc:
        exc.add_note(f"raised on {clock.label} {index + 1}/{clock.total}: {item!r:.300}")
        raise
    clock.tick()
    return result


class _Progress:
    """The progress lines of one map: ``<label>: <done>/<total> done, <elapsed> elapsed``."""

    def __init__(self, label: str, total: int, every: float | None):
        self.label, self.total, self.every, self.done = label, total, every, 0
        self.start = self.last = time.perf_counter()

    def tick(self) -> None:
        self.done += 1
        now = time.perf_counter()
        if self.every is not None and (self.done == self.total or now - self.last >= self.every):
            self.last = now
            log.info("%s: %d/%d done, %s elapsed", self.label, self.done, self.total, duration(now - self.start))
