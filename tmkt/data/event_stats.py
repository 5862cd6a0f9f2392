"""Statistics of event recordings, to hold the simulator against the sensor recording by recording.

A recording is tonic's structured array (x, y, t in microseconds, p: True = ON; ``tmkt.data.datasets.base``)
of N events e_i = (x_i, y_i, t_i, p_i) on an H x W sensor, with t_0 = min t and t_1 = max t. Per recording:

    count           N
    on_fraction     (1/N) sum_i p_i                                    (NaN if N = 0)
    duration        D = t_1 - t_0                                     (0 if N < 2)
    time bins       f_b = n_b / N, b = 1 .. T, n_b = #{i : floor(T (t_i - t_0) / D) = b - 1}, the last event
                    (t_i = t_1) in bin T; D = 0 puts every event in bin 1. sum_b f_b = 1.
    spatial map     M[y, x] = #{i : (x_i, y_i) = (x, y)}
    active pixels   #{(x, y) : M[y, x] > 0}
    inter-event     per pixel, its events in time order t^(1) <= ... <= t^(m) give the intervals
    intervals       t^(k+1) - t^(k), k = 1 .. m - 1 (both polarities; N - #active pixels intervals in all)
    isolated        the share of events with no event at any of the 8 neighbouring pixels within |dt| <= w
    fraction        (a background-activity filter's test, Delbruck 2008: noise events are isolated, the
                    edge of a moving digit is not)

:func:`stats_table` puts these (as count, on_fraction, duration_ms, median_iei_ms, active_pixels,
isolated_fraction, bin_1 .. bin_T) in one row per recording; :func:`compare` sets two matched tables side by
side. numpy and pandas only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

#: The N-MNIST sensor (ATIS crop): H x W pixels.
SENSOR_SHAPE: tuple[int, int] = (34, 34)
#: Log-spaced bin edges of inter-event-interval histograms: 10 us to 1 s, five bins per decade.
IEI_EDGES_US: np.ndarray = np.logspace(1, 6, 26)
#: The time window w of :func:`isolated_fraction`.
ISOLATION_WINDOW_US: int = 5_000
#: The columns of :func:`stats_table` that describe a recording rather than measure it, then those that measure
#: it (the time-bin fractions bin_1 .. bin_T follow).
ID_COLUMNS: tuple[str, ...] = ("id", "digit", "source")
STAT_COLUMNS: tuple[str, ...] = ("count", "on_fraction", "duration_ms", "median_iei_ms", "active_pixels",
                                 "isolated_fraction")


class Recording(NamedTuple):
    """One recording and what it shows: ``source`` is "real" (the sensor) or "simulated"."""

    id: str
    digit: int
    source: str
    events: np.ndarray


def event_count(events: np.ndarray) -> int:
    """N, the number of events."""
    return len(events)


def on_fraction(events: np.ndarray) -> float:
    """(1/N) sum_i p_i, the share of ON events; NaN for an empty recording."""
    return float(np.mean(events["p"])) if len(events) else float("nan")


def duration_us(events: np.ndarray) -> int:
    """D = max t - min t in microseconds; 0 for fewer than two events."""
    return int(events["t"].max() - events["t"].min()) if len(events) else 0


def time_bin_index(events: np.ndarray, bins: int) -> np.ndarray:
    """Each event's bin b - 1 = min(floor(T (t - t_0) / D), T - 1) in integers (exact); all 0 when D = 0."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    t = events["t"].astype(np.int64)
    if not len(t):
        return np.zeros(0, dtype=np.int64)
    elapsed = t - t.min()
    return np.minimum(elapsed * bins // max(int(elapsed.max()), 1), bins - 1)


def time_bin_fractions(events: np.ndarray, bins: int) -> np.ndarray:
    """f_b = n_b / N for b = 1 .. T (T = ``bins``) equal bins of [t_0, t_1]; NaN for an empty recording."""
    if not len(events):
        return np.full(bins, np.nan)
    return np.bincount(time_bin_index(events, bins), minlength=bins) / len(events)


def pixel_index(events: np.ndarray, shape: tuple[int, int] = SENSOR_SHAPE) -> np.ndarray:
    """y W + x per event, after checking that every event lies on the H x W sensor."""
    height, width = shape
    x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
    if len(events) and (x.min() < 0 or y.min() < 0 or x.max() >= width or y.max() >= height):
        raise ValueError(f"events outside the {height} x {width} sensor: x in [{x.min()}, {x.max()}], "
                         f"y in [{y.min()}, {y.max()}]")
    return y * width + x


def spatial_map(events: np.ndarray, shape: tuple[int, int] = SENSOR_SHAPE) -> np.ndarray:
    """M[y, x], the events per pixel, shape (H, W)."""
    return np.bincount(pixel_index(events, shape), minlength=shape[0] * shape[1]).reshape(shape)


def event_frames(events: np.ndarray, bins: int, shape: tuple[int, int] = SENSOR_SHAPE) -> np.ndarray:
    """F[b, p, y, x]: counts per time bin (the bins of :func:`time_bin_fractions`) and polarity (0 OFF, 1 ON),
    shape (T, 2, H, W)."""
    height, width = shape
    flat = (time_bin_index(events, bins) * 2 + events["p"].astype(np.int64)) * height * width + pixel_index(
        events, shape)
    return np.bincount(flat, minlength=bins * 2 * height * width).reshape(bins, 2, height, width)


def inter_event_intervals(events: np.ndarray, shape: tuple[int, int] = SENSOR_SHAPE) -> np.ndarray:
    """t^(k+1) - t^(k) (microseconds) of consecutive events of the same pixel, over all pixels (order: pixel,
    then time)."""
    pixel = pixel_index(events, shape)
    order = np.lexsort((events["t"], pixel))
    t = events["t"].astype(np.int64)[order]
    same_pixel = pixel[order][1:] == pixel[order][:-1]
    return np.diff(t)[same_pixel]


def median_iei_ms(intervals_us: np.ndarray) -> float:
    """The median interval in milliseconds; NaN when there is none."""
    return float(np.median(intervals_us)) / 1000 if len(intervals_us) else float("nan")


def iei_histogram(intervals_us: np.ndarray, edges_us: np.ndarray = IEI_EDGES_US) -> np.ndarray:
    """Share of the intervals in each bin [e_k, e_{k+1}) of ``edges_us`` (the last bin closed); intervals
    below e_0 (0 us included: two events in the same microsecond) count in the first bin, those above the last
    edge in the last. All zero when there is no interval."""
    if not len(intervals_us):
        return np.zeros(len(edges_us) - 1)
    clipped = np.clip(intervals_us, edges_us[0], edges_us[-1])
    return np.histogram(clipped, bins=edges_us)[0] / len(intervals_us)


def isolated_fraction(events: np.ndarray, window_us: int = ISOLATION_WINDOW_US,
                      shape: tuple[int, int] = SENSOR_SHAPE) -> float:
    """Share of events i with no event j at the 8 neighbours (x_i + dx, y_i + dy), (dx, dy) != (0, 0), and
    |t_j - t_i| <= w; NaN for an empty recording.

    Events are keyed k = pixel K + (t - t_0) with K > D + w, so one pixel's events are a contiguous sorted run;
    a neighbour q supports event i iff the first key >= q K + max(t_i - t_0 - w, 0) is <= q K + t_i - t_0 + w.
    """
    if not len(events):
        return float("nan")
    height, width = shape
    pixel_index(events, shape)  # checks the coordinates
    x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
    t = events["t"].astype(np.int64) - events["t"].min()
    span = int(t.max()) + window_us + 1
    keys = np.sort((y * width + x) * span + t)
    supported = np.zeros(len(events), dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            nx, ny = x + dx, y + dy
            inside = ((dx, dy) != (0, 0)) & (nx >= 0) & (nx < width) & (ny >= 0) & (ny < height)
            base = (ny * width + nx) * span
            first = np.searchsorted(keys, base + np.maximum(t - window_us, 0))
            found = np.take(keys, np.minimum(first, len(keys) - 1)) <= base + t + window_us
            supported |= inside & (first < len(keys)) & found
    return float(1.0 - supported.mean())


def recording_stats(events: np.ndarray, bins: int, shape: tuple[int, int] = SENSOR_SHAPE) -> dict[str, float]:
    """One recording's row of :func:`stats_table` without its id columns."""
    intervals = inter_event_intervals(events, shape)
    row = dict(count=event_count(events), on_fraction=on_fraction(events), duration_ms=duration_us(events) / 1000,
               median_iei_ms=median_iei_ms(intervals), active_pixels=int((spatial_map(events, shape) > 0).sum()),
               isolated_fraction=isolated_fraction(events, shape=shape))
    return row | dict(zip(bin_columns(bins), time_bin_fractions(events, bins), strict=True))


def stats_table(recordings: Iterable[Recording], bins: int, shape: tuple[int, int] = SENSOR_SHAPE) -> pd.DataFrame:
    """One row per recording: id, digit, source, count, on_fraction, duration_ms, median_iei_ms, active_pixels,
    isolated_fraction, bin_1 .. bin_T (T = ``bins``)."""
    rows = [dict(id=r.id, digit=r.digit, source=r.source) | recording_stats(r.events, bins, shape)
            for r in recordings]
    return pd.DataFrame(rows, columns=[*ID_COLUMNS, *STAT_COLUMNS, *bin_columns(bins)])


def bin_columns(bins: int) -> list[str]:
    """bin_1 .. bin_T."""
    return [f"bin_{b + 1}" for b in range(bins)]


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho: the Pearson correlation of the average ranks of ``a`` and ``b`` (pairs with a NaN dropped);
    NaN when fewer than 3 pairs remain or either side is constant."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    if keep.sum() < 3:
        return float("nan")
    rank_a = pd.Series(a[keep]).rank(method="average").to_numpy()
    rank_b = pd.Series(b[keep]).rank(method="average").to_numpy()
    if rank_a.std() == 0 or rank_b.std() == 0:
        return float("nan")
    return float(np.corrcoef(rank_a, rank_b)[0, 1])


def compare(real: pd.DataFrame, simulated: pd.DataFrame, statistics: Sequence[str] | None = None) -> pd.DataFrame:
    """Per statistic s (default: every column but id, digit, source), over the recordings i matched by id:
    mean_real = mean_i s_i^real, mean_simulated = mean_i s_i^sim, ratio = mean_simulated / mean_real, and
    spearman = rho(s^real, s^sim) across the recordings: does the simulator give more of s to the digits the
    sensor gives more of s? The two tables must hold the same ids, each once."""
    for name, table in (("real", real), ("simulated", simulated)):
        if table["id"].duplicated().any():
            raise ValueError(f"the {name} table repeats ids: {sorted(table['id'][table['id'].duplicated()])[:5]}")
    if set(real["id"]) != set(simulated["id"]):
        unmatched = sorted(set(real["id"]) ^ set(simulated["id"]))
        raise ValueError(f"the tables do not hold the same recordings ({len(unmatched)} unmatched, e.g. "
                         f"{unmatched[:5]})")
    simulated = simulated.set_index("id").loc[real["id"]].reset_index()
    statistics = list(statistics or [c for c in real.columns if c not in ID_COLUMNS])
    rows = []
    for s in statistics:
        mean_real, mean_sim = float(real[s].mean()), float(simulated[s].mean())
        rows.append(dict(statistic=s, mean_real=mean_real, mean_simulated=mean_sim,
                         ratio=mean_sim / mean_real if mean_real else float("nan"),
                         spearman=spearman(real[s], simulated[s])))
    return pd.DataFrame(rows, columns=["statistic", "mean_real", "mean_simulated", "ratio", "spearman"])
