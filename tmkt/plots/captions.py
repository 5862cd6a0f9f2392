"""What the convert and train notebooks print beside their figures: sentences and small tables built from the
parameters and from what the stage computed.

A notebook holds narrative and calls. Every sentence it prints with a number in it is built here or in
``tmkt.results.narrative`` (the figures notebook), so that no number in a notebook's text is typed by hand and
every sentence is tested. This module stays out of ``tmkt.results``: the train stage depends on every file its
notebook reaches, and a figure's module must not re-run training. Accuracies are fractions in the tables and
points (%) in the sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tmkt import config
from tmkt.data.splits import kept_per_class
from tmkt.stats import pm

#: Shares of each class's training recordings shown beside each other by the convert notebook.
SCARCITY_LEVELS = (0.01, 0.03, 0.1, 0.3, 1.0)


# ------------------------------------------------------------------------------ convert notebook
def dataset_line(data) -> str:
    """The converted dataset and its frames, from the ``data:`` section."""
    return (f"Dataset **`{data.dataset}`**, T = {data.time_bins} bins, frames {data.height}×{data.width}, "
            f"normalisation `{data.frame_norm}` (clip at {data.clip_max}).")


def sensor_line(simulator) -> str:
    """The simulated sensor, from the ``simulator:`` section: its size and the three saccades' duration."""
    return (f"The simulated sensor is {simulator.canvas}×{simulator.canvas} pixels; a recording is three saccades of "
            f"{simulator.saccade_ms:g} ms, {3 * simulator.saccade_ms:g} ms in all.")


def mean_frame_mass(events, rows: Sequence[int], limit: int = 500) -> np.ndarray:
    """The mean over the first ``limit`` of ``rows`` of each time bin's frame mass: for frames ``x`` of shape
    ``(N, T, 2, H, W)``, :math:`m_t = \\frac1n \\sum_{i<n} \\sum_{c,h,w} x_{i,t,c,h,w}`, ``n = min(limit, len(rows))``."""
    frames = np.asarray(events[np.asarray(rows)[:limit]], dtype=np.float32)
    return frames.sum(axis=(2, 3, 4)).mean(axis=0)


def frame_mass_line(mass: Sequence[float], limit: int = 500) -> str:
    """:func:`mean_frame_mass` as a sentence, one value per bin ``t1 .. tT``."""
    values = ", ".join(f"t{t + 1}: {v:.1f}" for t, v in enumerate(mass))
    return f"Mean frame mass per bin (first {limit} recordings): {values}"


def leakage_line(checked: dict) -> str:
    """The split check of ``tmkt.data.splits.check_no_leakage`` as a sentence."""
    return (f"{checked['held_out_with_source']} held-out recordings with a known source image; none of them has its "
            f"image in the training pool of {checked['pool_images']} images.")


def scarcity_levels(n_train: pd.Series, fractions: Sequence[float] = SCARCITY_LEVELS) -> pd.DataFrame:
    """Recordings a run keeps per class (rows: ``n_train``'s index) at each share of ``fractions`` (columns "3 %"),
    by ``tmkt.data.splits.kept_per_class``: :math:`\\min(n, \\max(1, \\mathrm{round}(f n)))`."""
    levels = {f"{100 * f:g} %": config.section("scarcity", event_fraction=f, event_per_class=None) for f in fractions}
    return pd.DataFrame({name: [kept_per_class(int(n), s) for n in n_train] for name, s in levels.items()},
                        index=n_train.index)


def scarcity_line(kept: pd.DataFrame, pool_images: int) -> str:
    """How many recordings a training run sees at each level of :func:`scarcity_levels`, beside the image pool."""
    levels = ", ".join(f"**{int(kept[name].sum())}** at {name}" for name in kept.columns)
    return f"A training run sees {levels} of the recordings, and an image pool of **{pool_images}** images."


# ------------------------------------------------------------------------------ train notebook
def cell_line(cell, method_name: str, dataset: str, seeds: Sequence[int], method) -> str:
    """Which cell of the grid a train notebook runs, its method, data and seeds."""
    return (f"Cell `{cell.axis}/{cell.name}`, method **`{method_name}`** on `{dataset}`, seeds {list(seeds)}: "
            f"{method}")


def constants_line(params) -> str:
    """The constants the method's equations use, with the keys of ``params.yaml`` that set them."""
    return (f"In this run: $\\tau$ = {params.model.tau:g} and $V_\\text{{th}}$ = {params.model.v_th:g} "
            f"(`model.tau`, `model.v_th`); TET's $\\lambda$ = {params.train.tet_mse_weight:g} "
            f"(`train.tet_mse_weight`); schedule `{params.mixup.schedule}` with $k$ = {params.mixup.power_k:g} "
            f"(`mixup.power_k`); $\\lambda_\\text{{DA}}$ = {params.loss.lambda_da:g}, "
            f"$\\lambda_\\text{{MAG}}$ = {params.loss.lambda_mag:g}, $\\lambda_\\text{{MRP}}$ = "
            f"{params.loss.lambda_mrp:g} (`loss:`).")


def scale_table(params, time_steps: int, frame_size: tuple[int, int], n_params: int,
                seeds: Sequence[int]) -> pd.DataFrame:
    """The scale of a run: network, input, optimisation budget and seeds, one row each (``params``: a cell's
    parameters, ``tmkt.grid.cell_params``, whose per-method values are resolved)."""
    model, train = params.model, params.train
    rows = {
        "architecture": f"{model.arch} (width ×{model.width}, {model.blocks} pooling stages)",
        "parameters": f"{n_params:,}",
        "input (T × C × H × W)": f"{time_steps} × 2 × {frame_size[0]} × {frame_size[1]}",
        "epochs × steps × batch": f"{train.epochs} × {train.steps_per_epoch or 'one pass'} × {train.batch_size}",
        "optimiser": f"AdamW lr {train.lr:g}, wd {train.weight_decay:g}, {train.warmup_epochs} warm-up epoch(s), "
                     f"{train.lr_schedule}",
        "classifier heads": model.heads,
        "seeds": ", ".join(map(str, seeds)),
    }
    return pd.Series(rows, name="").to_frame()


def result_line(method_name: str, summary: dict, runs: pd.DataFrame) -> str:
    """A cell's test accuracy (``metrics.json``'s summary) at the selected and at the last epoch, and its time."""
    return (f"**{method_name}**: test accuracy at the best-validation epoch "
            f"**{pm(summary['test_acc']['mean'], summary['test_acc']['std'])} %** (mean ± std over {len(runs)} "
            f"seeds); at the last epoch {pm(runs['test_acc_last'].mean(), runs['test_acc_last'].std())} %. "
            f"One run took {runs['train_seconds'].mean():.0f} s on average.")
