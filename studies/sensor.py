"""The simulator checked against the sensor: real N-MNIST recordings and simulated recordings of the same digits.

Every N-MNIST training recording under ``<raw>/N-MNIST/Train/<digit>/<NNNNN>.bin`` (ATIS, 34 x 34, three saccades)
is paired with the MNIST digit it records (file number n <-> row n - 1 of ``<raw>/MNIST/train-images-idx3-ubyte``,
checked against the MNIST labels), and that digit is simulated with ``tmkt.data.datasets.simulator`` twice:

    default   at the ``simulator:`` settings of ``params.yaml``;
    fitted    at those settings with the ``simulator.*`` dotted overrides of ``studies/profiles/nmnist.yaml``
              (the fit below; a profile without them leaves real and default only, and says so).

Recording n draws from ``default_rng([simulator.seed, n - 1])``, the stream ``mnist_sim`` uses for the digit of that
MNIST row, so the run is reproducible. Every recording is measured with :mod:`tmkt.data.event_stats` (event count,
ON fraction, duration, median per-pixel inter-event interval, active pixels, isolated-event fraction, activity in
T = ``data.time_bins`` equal time bins) and each simulated table compared with the real one digit by digit: mean
real, mean simulated, their ratio, and Spearman's rho across digits. The spatial maps of the real and a simulated
recording of a digit are compared by their Pearson correlation.

Writes atomically to ``reports/studies/sensor/``: ``stats.csv`` (one row per recording and source),
``comparison.md`` (the comparison, formatted) and ``sensor.png`` (the three sources side by side: event counts, ON
fraction, activity per time bin, inter-event intervals, mean spatial maps, one digit's event frames).
Run: ``python studies/sensor.py`` (after unpacking N-MNIST and MNIST into ``data/raw``; about a minute).

The fit, ``python studies/sensor.py --fit``, a grid search fixed before its results were seen. On the fixed subset
of every ``FIT_EVERY``-th recording in digit-then-file order (200 of the 1,000), with the geometry fixed to what
the recordings show (``FIT_GEOMETRY``: path yx, minimum-jerk speed, darkening polarity) and every other key at
params.yaml's value, each configuration c of the product ``FIT_GRID`` (moving_fraction x background_rate_hz x
signal_keep x (hot_pixels, hot_pixel_rate_hz), in that order, the last axis fastest) scores

    d(c) = (1 / |S|) sum_{s in S} | log( mean_i s_i^{sim(c)} / mean_i s_i^{real} ) |,
    S = {count, active_pixels, isolated_fraction, median_iei_ms, bin_1 .. bin_T}    (T = data.time_bins),

means over the subset's recordings (a recording without the statistic, NaN, left out), d = inf when a simulated
mean is not positive. The selected configuration is the one of least d; ties go to the first in grid order. The
grid first fixed (``FIRST_GRID``: moving_fraction 0.5-0.8, signal_keep 0.5-0.8) selected two values on its edges
and was widened after that was seen; both selections are kept. Writes ``fit.csv`` (one row per configuration: its
``simulator.*`` values, d, ``first_grid``, ``selected``, ``selected_in_first_grid``) and prints the selected
settings as dotted overrides (for ``studies/profiles/nmnist.yaml``) beside d of params.yaml's own settings and of
the geometry fixed alone (noise and sensitivity unchanged). About five minutes.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from tmkt import atomic, config, layout# noqa: E402
from tmkt.data import event_stats as es  # noqa: E402

OUT_DIR = layout.ROOT / "reports/studies/sensor"
#: The profile whose ``simulator.*`` overrides are the fitted source.
PROFILE = layout.ROOT / "studies/profiles/nmnist.yaml"
SENSOR_SIZE = (34, 34, 2)
#: Width of the fine time bins of the figure's activity profile.
PROFILE_BIN_MS = 5.0
SOURCE_COLORS = {"real": "#1f77b4", "default": "#d62728", "fitted": "#2ca02c"}
#: The colour scales of the mean maps end at this percentile of their pixels, so hot pixels do not hide the digit.
MAP_CLIP_PERCENTILE = 99.5

#: The fit's subset: every FIT_EVERY-th recording in digit-then-file order.
FIT_EVERY = 5
#: The fit's statistics before bin_1 .. bin_T.
FIT_STATISTICS = ("count", "active_pixels", "isolated_fraction", "median_iei_ms")
#: The geometry every fitted configuration shares (what the recordings show: reports/studies/sensor).
FIT_GEOMETRY = {"simulator.path": "yx", "simulator.speed_profile": "minimum_jerk", "simulator.polarity": "darkening"}
#: The grid's axes in order (the last fastest); an axis of several keys (joined by ", ") moves them together.
FIT_GRID = {
    "simulator.moving_fraction": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
    "simulator.background_rate_hz": [0.1, 0.3, 1.0],
    "simulator.signal_keep": [0.4, 0.5, 0.6, 0.7, 0.8],
    "simulator.hot_pixels, simulator.hot_pixel_rate_hz": [(0, 0.0), (1, 50.0)],
}
#: The grid as first fixed: its selection sat on two edges (moving_fraction 0.8, signal_keep 0.5), so the grid was
#: widened to ``FIT_GRID`` after that result was seen; ``fit.csv`` marks the first grid's rows and its selection.
FIRST_GRID = {"simulator.moving_fraction": [0.5, 0.6, 0.7, 0.8], "simulator.signal_keep": [0.5, 0.6, 0.7, 0.8]}

GET_DATA = """\
Expected (N-MNIST training recordings and the MNIST digits they record):
  {raw}/N-MNIST/Train/<digit>/<NNNNN>.bin    one folder per digit 0-9 (any subset of the files)
  {raw}/MNIST/train-images-idx3-ubyte        MNIST's training images and labels (plain or .gz)
  {raw}/MNIST/train-labels-idx1-ubyte
Get them from N-MNIST's official release (Orchard et al. 2015, https://www.garrickorchard.com/datasets/n-mnist,
Mendeley Data 10.17632/468j46mzdv.1: Train.zip, unpacked as N-MNIST/Train) and MNIST (http://yann.lecun.com/exdb/mnist/
or any mirror), or with tonic: `tonic.datasets.NMNIST(save_to=DIR, train=True)` downloads the same release into
DIR/NMNIST/Train; move that folder to {raw}/N-MNIST/Train. See data/raw/README.md."""


def missing_data(raw: Path, problem: str) -> SystemExit:
    """The exit of a run without its data: what is missing, where the data go and how to get them."""
    return SystemExit(f"studies/sensor.py: {problem}\n" + GET_DATA.format(raw=raw))


def find_recordings(raw: Path) -> tuple[list[tuple[Path, int, int]], np.ndarray]:
    """((path, digit, MNIST row) of every training recording, in digit then file order; the MNIST images)."""
    from tmkt.data.datasets.imagefiles import find_idx, read_idx

    folder = raw / "N-MNIST" / "Train"
    if not folder.is_dir():
        raise missing_data(raw, f"no N-MNIST training recordings: {folder} does not exist.")
    found = [(path, int(digit), int(path.stem) - 1) for digit in "0123456789"
             for path in sorted((folder / digit).glob("*.bin")) if path.stem.isdigit()]
    if not found:
        raise missing_data(raw, f"no <digit>/<NNNNN>.bin recordings under {folder}.")
    images, labels = (find_idx(raw / "MNIST", f"train-{kind}-idx{dims}-ubyte") for kind, dims in
                      (("images", 3), ("labels", 1)))
    if images is None or labels is None:
        raise missing_data(raw, f"the recordings are there but not the MNIST digits they record ({raw / 'MNIST'}).")
    images, labels = read_idx(images), read_idx(labels)
    wrong = [f"{path} (MNIST row {row}: {'absent' if row >= len(labels) else labels[row]})"
             for path, digit, row in found if row >= len(labels) or labels[row] != digit]
    if wrong:
        raise SystemExit(f"{len(wrong)} recordings do not record the MNIST digit of their number (file n <-> row "
                         f"n - 1), e.g. {'; '.join(wrong[:3])}")
    return found, images


def read_real(found: list[tuple[Path, int, int]]) -> list[es.Recording]:
    """The real recordings of ``found``, in its order."""
    from tmkt.data.datasets.atis import read_atis_bin

    return [es.Recording(path.stem, digit, "real", read_atis_bin(path, SENSOR_SIZE)) for path, digit, _ in found]


def simulate_found(found: list[tuple[Path, int, int]], images: np.ndarray, cfg: config.SimulatorConfig,
                   source: str) -> list[es.Recording]:
    """The digits of ``found`` simulated at ``cfg``, recording n from ``default_rng([cfg.seed, n - 1])``."""
    from tmkt.data.datasets.simulator import simulate

    return [es.Recording(path.stem, digit, source, simulate(images[row], cfg, np.random.default_rng([cfg.seed, row])))
            for path, digit, row in found]


# ------------------------------------------------------------------------------------------------ configurations
def params_raw() -> dict:
    """params.yaml as read, before validation (what dotted overrides apply to)."""
    return yaml.safe_load(layout.PARAMS.read_text()) or {}


def with_overrides(raw: dict, overrides: dict, where: str) -> config.Params:
    """params.yaml's ``raw`` with ``overrides``, validated; an invalid override exits naming ``where`` it came from."""
    try:
        return config.parse(config.apply_overrides(raw, overrides))
    except config.ParamsError as exc:
        raise SystemExit(f"{where}: {exc}") from None


def profile_overrides(path: Path) -> dict:
    """The ``simulator.*`` dotted overrides of the profile at ``path`` (empty when it has none)."""
    if not path.is_file():
        raise SystemExit(f"studies/sensor.py: no profile {path} (its simulator.* overrides are the fitted source)")
    content = yaml.safe_load(path.read_text()) or {}
    if not isinstance(content, dict):
        raise SystemExit(f"{path}: a profile is a mapping of dotted overrides, got {type(content).__name__}")
    return {str(key): value for key, value in content.items() if str(key).split(".")[0] == "simulator"}


def describe(cfg: config.SimulatorConfig) -> str:
    """The simulator settings a reader needs to know a source by."""
    hot = f"{cfg.hot_pixels} hot pixel{'' if cfg.hot_pixels == 1 else 's'} at {cfg.hot_pixel_rate_hz:g} Hz"
    return (f"path {cfg.path}, {cfg.speed_profile.replace('_', '-')} speed, moving fraction {cfg.moving_fraction:g}, "
            f"polarity {cfg.polarity}, thresholds {cfg.threshold_on:g}/{cfg.threshold_off:g}, signal_keep "
            f"{cfg.signal_keep:g}, background {cfg.background_rate_hz:g} Hz, {hot}, refractory "
            f"{cfg.refractory_us:g} us, saccades {cfg.saccade_ms:g} ms, seed {cfg.seed}")


def shown(path: Path) -> str:
    """``path`` relative to the repository root where it lies inside it."""
    return str(path.relative_to(layout.ROOT)) if path.is_relative_to(layout.ROOT) else str(path)


def dotted(overrides: dict) -> str:
    """Overrides as YAML lines ``key: value``, in their order."""
    return "\n".join(yaml.safe_dump({key: value}, default_flow_style=False).strip() for key, value in overrides.items())


# ------------------------------------------------------------------------------------------------------- the fit
def fit_statistics(bins: int) -> list[str]:
    """S: the statistics of the fit's distance."""
    return [*FIT_STATISTICS, *es.bin_columns(bins)]


def fit_distance(real: pd.DataFrame, simulated: pd.DataFrame, bins: int) -> float:
    """d = mean over S (:func:`fit_statistics`) of |log(mean simulated / mean real)|, the tables matched by id
    (:func:`tmkt.data.event_stats.compare`: the same recordings, each once); inf when a simulated mean is not
    positive. A real mean that is not positive leaves d undefined: ValueError."""
    comparison = es.compare(real, simulated, fit_statistics(bins)).set_index("statistic")
    bad = comparison.index[~(comparison["mean_real"] > 0)]
    if len(bad):
        raise ValueError(f"the fit needs positive real means; {', '.join(bad)} has "
                         f"{comparison.loc[bad[0], 'mean_real']:g}")
    ratio = comparison["mean_simulated"] / comparison["mean_real"]
    if not (ratio > 0).all():
        return math.inf
    return float(np.abs(np.log(ratio)).mean())


def fit_grid() -> list[dict]:
    """The configurations of the fit, in grid order: ``FIT_GEOMETRY`` and one value of every ``FIT_GRID`` axis."""
    axes = [[dict(zip(keys.split(", "), value if len(keys.split(", ")) > 1 else (value,), strict=True))
             for value in values] for keys, values in FIT_GRID.items()]
    return [FIT_GEOMETRY | {k: v for part in parts for k, v in part.items()} for parts in itertools.product(*axes)]


def fit(raw: Path, out: Path, bins: int | None = None, every: int = FIT_EVERY) -> pd.DataFrame:
    """The grid search on every ``every``-th recording; writes ``fit.csv`` and returns it."""
    from tqdm import tqdm

    base = params_raw()
    params = with_overrides(base, {}, str(layout.PARAMS))
    bins = bins or params.data.time_bins
    found, images = find_recordings(raw)
    subset = found[::every]
    real = es.stats_table(read_real(subset), bins)

    def score(overrides: dict) -> float:
        cfg = with_overrides(base, overrides, "studies/sensor.py --fit").simulator
        return fit_distance(real, es.stats_table(simulate_found(subset, images, cfg, "simulated"), bins), bins)

    grid = fit_grid()
    rows = [overrides | {"distance": score(overrides)} for overrides in tqdm(grid, desc="fit", unit="config")]
    distances = np.array([row["distance"] for row in rows])
    if not np.isfinite(distances).any():
        raise SystemExit("studies/sensor.py --fit: no configuration of the grid has a finite distance")
    best = int(np.argmin(distances))  # the first of the least
    first = np.array([all(row[key] in values for key, values in FIRST_GRID.items()) for row in rows])
    best_first = int(np.flatnonzero(first)[np.argmin(distances[first])])
    for i, row in enumerate(rows):
        row |= dict(first_grid=bool(first[i]), selected=i == best, selected_in_first_grid=i == best_first)
    atomic.write_csv(out / "fit.csv", rows)

    reference = {"params.yaml's simulator": score({}), "geometry fixed alone (FIT_GEOMETRY)": score(FIT_GEOMETRY)}
    selected = {key: value for key, value in rows[best].items() if key.startswith("simulator.")}
    print(f"Fit on {len(subset)} of {len(found)} recordings (every {every}th), {len(grid)} configurations; "
          f"d = mean over {', '.join(FIT_STATISTICS)}, bin_1..bin_{bins} of |log(mean simulated / mean real)|.\n"
          f"Selected (d = {rows[best]['distance']:.4f}; {out / 'fit.csv'}), as overrides for "
          f"{shown(PROFILE)}:\n"
          f"{dotted(selected)}\nFor comparison:")
    reference["the first grid's selection (FIRST_GRID)"] = rows[best_first]["distance"]
    for name, value in reference.items():
        print(f"  d = {value:.4f}  {name}")
    return pd.DataFrame(rows)


def fit_selected(path: Path) -> dict | None:
    """The ``simulator.*`` values of the selected row of a ``fit.csv`` (None if there is no such file)."""
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    chosen = table[table["selected"].astype(str) == "True"]
    if len(chosen) != 1:
        raise SystemExit(f"{path}: expected one selected row, found {len(chosen)}")
    return {key: value.item() if hasattr(value, "item") else value
            for key, value in chosen.iloc[0].items() if str(key).startswith("simulator.")}


def same_settings(a: dict, b: dict) -> bool:
    """Whether two override mappings set the same keys to the same values (numbers to within 1e-9)."""
    if set(a) != set(b):
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, int | float) and isinstance(y, int | float) and not isinstance(x, bool):
            if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif x != y:
            return False
    return True


# ------------------------------------------------------------------------------------------------ the comparison
def map_agreement(real: list[es.Recording], simulated: list[es.Recording]) -> pd.DataFrame:
    """Per digit, the Pearson correlation of its real and simulated spatial maps (NaN if either is flat)."""
    rows = []
    for r, s in zip(real, simulated, strict=True):
        a, b = es.spatial_map(r.events).ravel(), es.spatial_map(s.events).ravel()
        rows.append(dict(id=r.id, r=float(np.corrcoef(a, b)[0, 1]) if a.std() and b.std() else float("nan")))
    return pd.DataFrame(rows)


def centre(mean_map: np.ndarray) -> tuple[float, float]:
    """(x, y) centre of mass of a spatial map."""
    y, x = np.indices(mean_map.shape)
    return float((x * mean_map).sum() / mean_map.sum()), float((y * mean_map).sum() / mean_map.sum())


def compare_sources(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per statistic: mean_real, then mean_<source>, ratio_<source> and spearman_<source> of every simulated
    source (:func:`tmkt.data.event_stats.compare` against the real table)."""
    merged = None
    for source, table in tables.items():
        if source == "real":
            continue
        c = es.compare(tables["real"], table).rename(columns={
            "mean_simulated": f"mean_{source}", "ratio": f"ratio_{source}", "spearman": f"spearman_{source}"})
        merged = c if merged is None else merged.merge(c.drop(columns="mean_real"), on="statistic")
    return merged


def format_comparison(comparison: pd.DataFrame, sources: list[str]) -> pd.DataFrame:
    """The comparison with numbers as text: counts and durations without decimals beyond what they carry."""
    digits = {"count": 0, "active_pixels": 0, "duration_ms": 1, "median_iei_ms": 2}
    rows = []
    for row in comparison.to_dict("records"):
        d = digits.get(row["statistic"], 3)
        text = {"statistic": row["statistic"], "mean real": f"{row['mean_real']:,.{d}f}"}
        text |= {f"mean {s}": f"{row[f'mean_{s}']:,.{d}f}" for s in sources}
        text |= {f"{s} / real": f"{row[f'ratio_{s}']:.2f}" for s in sources}
        text |= {f"ρ {s}": "–" if np.isnan(row[f"spearman_{s}"]) else f"{row[f'spearman_{s}']:+.2f}" for s in sources}
        rows.append(text)
    return pd.DataFrame(rows)


def report(comparison: pd.DataFrame, agreement: dict[str, pd.DataFrame], maps: dict[str, np.ndarray], n: int,
           bins: int, cfgs: dict[str, config.SimulatorConfig], fitted: str, distances: dict[str, float]) -> str:
    """comparison.md: where the sources come from, the comparison table, the spatial agreement and what the
    statistics are."""
    sources = [s for s in cfgs]
    xr, yr = centre(maps["real"])
    lines = [
        f"{n} N-MNIST training recordings and the MNIST digits they record, simulated as **default** "
        f"(params.yaml's `simulator:`: {describe(cfgs['default'])})"
        + (f" and as **fitted** ({describe(cfgs['fitted'])})" if "fitted" in cfgs else "") + ". " + fitted,
        "",
        f"Distance d of the fit (mean over {', '.join(FIT_STATISTICS)}, bin_1..bin_{bins} of |log(mean simulated / "
        f"mean real)|) on all {n} recordings: " + ", ".join(f"{s} {d:.3f}" for s, d in distances.items()) + ". "
        f"Means over the recordings; ratio = simulated / real; Spearman ρ across the {n} digits (does the simulator "
        "give more where the sensor does?). median_iei_ms: median interval between consecutive events of one pixel; "
        "active_pixels: pixels with an event; isolated_fraction: events with no event at the 8 neighbouring pixels "
        f"within ±{es.ISOLATION_WINDOW_US / 1000:g} ms (noise); bin_b: share of the events in time bin b of {bins} "
        "equal bins of the recording's duration (tmkt/data/event_stats.py).",
        "",
        format_comparison(comparison, sources).to_markdown(
            index=False, colalign=("left",) + ("right",) * (1 + 3 * len(sources)), disable_numparse=True),
        "",
        "Where the events fall: Pearson r between the real and the simulated spatial map (34 x 34 counts) of the same "
        f"digit, and between the mean maps over all digits; centre of mass of the mean map, real ({xr:.1f}, "
        f"{yr:.1f}) pixels (x, y):",
        "",
    ]
    for source in sources:
        r = agreement[source]["r"]
        mean_r = float(np.corrcoef(maps["real"].ravel(), maps[source].ravel())[0, 1])
        xs, ys = centre(maps[source])
        lines.append(f"- {source}: per digit median {r.median():.2f} (quartiles {r.quantile(0.25):.2f}-"
                     f"{r.quantile(0.75):.2f}); mean maps {mean_r:.2f}; centre of mass ({xs:.1f}, {ys:.1f}).")
    return "\n".join([*lines, ""])


def fitted_provenance(overrides: dict, profile: Path, fit_csv: Path) -> str:
    """The sentence naming the fitted settings and where they come from."""
    if not overrides:
        return (f"{shown(profile)} has no `simulator.*` overrides, so there is no fitted source: real and default only "
                "(`python studies/sensor.py --fit` selects them).")
    selected = fit_selected(fit_csv)
    if selected is None:
        check = f"{shown(fit_csv)} is absent, so they are not checked against a fit"
    elif same_settings(overrides, selected):
        check = f"they are the selected row of {shown(fit_csv)}"
    else:
        check = f"**they differ from the selected row of {shown(fit_csv)}**: rerun the fit or update the profile"
    settings = ", ".join(f"`{key}: {value}`" for key, value in overrides.items())
    return (f"The fitted settings are the `simulator.*` overrides of {shown(profile)} ({settings}), from the grid "
            f"search of `python studies/sensor.py --fit` ({check}): geometry fixed to path yx, minimum-jerk speed and "
            f"darkening polarity, the configuration of least distance d (the criterion below) on every {FIT_EVERY}th "
            "recording.")


# ----------------------------------------------------------------------------------------------------- the figure
def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _hist(ax, tables, column, bins, title, xlabel):
    for source, table in tables.items():
        values = table[column].dropna()
        ax.hist(values, bins=bins, histtype="step", lw=1.5, color=SOURCE_COLORS[source],
                label=f"{source} (mean {_number(values.mean())})")
    ax.set(title=title, xlabel=xlabel, ylabel="recordings")
    ax.legend(fontsize=7, loc="upper right")


def _profile(ax, recordings, params):
    """Event share per 5 ms bin of each recording's duration, mean ± std over recordings."""
    n_bins = max(1, round(3 * params.simulator.saccade_ms / PROFILE_BIN_MS))
    for source, recs in recordings.items():
        shares = np.array([es.time_bin_fractions(r.events, n_bins) for r in recs]) * 100
        mean, std = shares.mean(0), shares.std(0)
        x = (np.arange(n_bins) + 0.5) / n_bins * 100
        ax.plot(x, mean, color=SOURCE_COLORS[source], label=source)
        ax.fill_between(x, mean - std, mean + std, color=SOURCE_COLORS[source], alpha=0.15, lw=0)
    ax.set(title=f"activity in {n_bins} bins (mean ± std)", xlabel="time (% of the recording)",
           ylabel="events in the bin (%)", ylim=(0, None))
    ax.legend(fontsize=7)


def _time_bins(ax, tables, bins):
    offsets = np.linspace(-0.2, 0.2, len(tables)) if len(tables) > 1 else [0.0]
    for offset, (source, table) in zip(offsets, tables.items(), strict=True):
        values = table[es.bin_columns(bins)].to_numpy() * 100
        ax.errorbar(np.arange(1, bins + 1) + offset, values.mean(0), yerr=values.std(0), fmt="o", ms=4, capsize=3,
                    color=SOURCE_COLORS[source], label=source)
    ax.axhline(100 / bins, color="0.6", lw=0.8, ls=":")
    ax.set(title=f"activity per time bin, T = {bins} (mean ± std)", xlabel="time bin", ylabel="events in the bin (%)",
           xticks=range(1, bins + 1))
    ax.legend(fontsize=7)


def _iei(ax, recordings):
    centres = np.sqrt(es.IEI_EDGES_US[1:] * es.IEI_EDGES_US[:-1]) / 1000
    for source, recs in recordings.items():
        shares = np.array([es.iei_histogram(es.inter_event_intervals(r.events)) for r in recs]) * 100
        ax.plot(centres, shares.mean(0), "-o", ms=3, color=SOURCE_COLORS[source], label=source)
    ax.set_xscale("log")
    ax.set(title="per-pixel inter-event intervals", xlabel="interval (ms, log bins)", ylabel="intervals (%, mean)")
    ax.legend(fontsize=7)


def _example(fig, cells, example, image, bins):
    """The MNIST digit, then its recording by every source in T frames (ON - OFF, one colour scale)."""
    from tmkt.plots.style import event_panel, polarity_limit

    frames = {source: es.event_frames(r.events, bins) for source, r in example.items()}
    vmax = max(polarity_limit(f) for f in frames.values())
    ax = fig.add_subplot(cells[:, 0])
    ax.imshow(image, cmap="gray")
    ax.set(xticks=[], yticks=[], title=f"MNIST digit\n(recording {example['real'].id})")
    for row, (source, f) in enumerate(frames.items()):
        for b in range(bins):
            ax = fig.add_subplot(cells[row, b + 1])
            event_panel(ax, f[b], vmax)
            if b == 0:
                ax.set_ylabel(f"{source}\n{len(example[source].events)} events", fontsize=8,
                              color=SOURCE_COLORS[source])
            if row == 0:
                ax.set_title(f"bin {b + 1}", fontsize=8)


def _maps(fig, cells, maps):
    """The mean spatial maps (one scale), then each simulated map minus the real one (one symmetric scale)."""
    ticks = dict(xticks=[0, 16, 33], yticks=[0, 16, 33])
    vmax = max(np.percentile(m, MAP_CLIP_PERCENTILE) for m in maps.values())
    axes = [fig.add_subplot(cells[i]) for i in range(len(maps))]
    for ax, (source, mean_map) in zip(axes, maps.items(), strict=True):
        shown = ax.imshow(mean_map, cmap="magma", vmin=0, vmax=vmax)
        ax.set_title(f"mean map, {source}", color=SOURCE_COLORS[source])
        ax.set(**ticks)
    fig.colorbar(shown, ax=axes, shrink=0.8, extend="max", pad=0.01,
                 label=f"events per pixel and recording\n(clipped at the {MAP_CLIP_PERCENTILE:g}th percentile)")
    differences = {source: m - maps["real"] for source, m in maps.items() if source != "real"}
    limit = max(np.percentile(np.abs(d), MAP_CLIP_PERCENTILE) for d in differences.values())
    axes = [fig.add_subplot(cells[len(maps) + i]) for i in range(len(differences))]
    for ax, (source, difference) in zip(axes, differences.items(), strict=True):
        shown = ax.imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"{source} − real", color=SOURCE_COLORS[source])
        ax.set(**ticks)
    fig.colorbar(shown, ax=axes, shrink=0.8, extend="both", pad=0.01, label="events per pixel and recording")


def sensor_figure(tables, recordings, maps, example, image, bins, params) -> plt.Figure:
    """The sources side by side: distributions, temporal profiles, intervals, mean maps and one digit's frames."""
    n_sources = len(tables)
    fig = plt.figure(figsize=(20, 10.5 + 1.9 * n_sources), layout="constrained")
    grid = fig.add_gridspec(3, 1, height_ratios=[1, 0.85, 0.5 * n_sources])
    top = grid[0].subgridspec(1, 5)
    _hist(fig.add_subplot(top[0]), tables, "count", 30, "events per recording", "events")
    _hist(fig.add_subplot(top[1]), tables, "on_fraction", np.linspace(0.4, 0.6, 41), "ON fraction", "ON / all events")
    _hist(fig.add_subplot(top[2]), tables, "isolated_fraction", np.linspace(0, 0.4, 41),
          f"isolated events (no neighbour within ±{es.ISOLATION_WINDOW_US / 1000:g} ms)", "isolated / all events")
    _time_bins(fig.add_subplot(top[3]), tables, bins)
    _profile(fig.add_subplot(top[4]), recordings, params)

    middle = grid[1].subgridspec(1, 2 * n_sources, width_ratios=[1.25] + [1] * (2 * n_sources - 1))
    _iei(fig.add_subplot(middle[0]), recordings)
    _maps(fig, [middle[i] for i in range(1, 2 * n_sources)], maps)

    _example(fig, grid[2].subgridspec(n_sources, bins + 1), example, image, bins)
    n = len(recordings["real"])
    fig.suptitle(f"The simulator against the sensor: {n} N-MNIST training recordings (real, ATIS) and the same {n} "
                 "MNIST digits simulated at params.yaml's settings (default)"
                 + (" and fitted (studies/profiles/nmnist.yaml)" if "fitted" in tables else ""), fontsize=13)
    return fig


def run(raw: Path, out: Path, bins: int | None = None, profile: Path = PROFILE) -> pd.DataFrame:
    """Measure, compare and write; returns the comparison (:func:`compare_sources`)."""
    base = params_raw()
    params = with_overrides(base, {}, str(layout.PARAMS))
    bins = bins or params.data.time_bins
    overrides = profile_overrides(profile)
    cfgs = {"default": params.simulator}
    if overrides:
        cfgs["fitted"] = with_overrides(base, overrides, str(profile)).simulator
    else:
        print(f"studies/sensor.py: {shown(profile)} has no simulator.* overrides; comparing real and default only.")
    found, images = find_recordings(raw)
    recordings = {"real": read_real(found)}
    recordings |= {source: simulate_found(found, images, cfg, source) for source, cfg in cfgs.items()}
    tables = {source: es.stats_table(recs, bins) for source, recs in recordings.items()}
    comparison = compare_sources(tables)
    distances = {source: fit_distance(tables["real"], tables[source], bins) for source in cfgs}
    agreement = {source: map_agreement(recordings["real"], recordings[source]) for source in cfgs}
    maps = {source: np.mean([es.spatial_map(r.events) for r in recs], axis=0) for source, recs in recordings.items()}
    counts = tables["real"]["count"]
    k = int((counts - counts.median()).abs().idxmin())
    example = {source: recs[k] for source, recs in recordings.items()}

    atomic.write_csv(out / "stats.csv", pd.concat(tables.values(), ignore_index=True).to_dict("records"))
    provenance = fitted_provenance(overrides, profile, out / "fit.csv")
    text = report(comparison, agreement, maps, len(found), bins, cfgs, provenance, distances)
    atomic.write_text(out / "comparison.md", text)
    row = found[k][2]
    figure = sensor_figure(tables, recordings, maps, example, images[row], bins, params)
    atomic.save_figure(out / "sensor.png", figure)
    plt.close(figure)
    print(text)
    return comparison


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, default=Path("data/raw"),
                        help="folder holding N-MNIST/Train and MNIST (relative: from the repository root)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    parser.add_argument("--bins", type=int, default=None, help="time bins T (default: params.yaml data.time_bins)")
    parser.add_argument("--profile", type=Path, default=PROFILE,
                        help="profile whose simulator.* overrides are the fitted source")
    parser.add_argument("--fit", action="store_true",
                        help="fit the simulator to the sensor by the grid search (writes fit.csv) instead")
    args = parser.parse_args(argv)
    if args.fit:
        fit(layout.resolve(args.raw), layout.resolve(args.out), args.bins)
    else:
        run(layout.resolve(args.raw), layout.resolve(args.out), args.bins, layout.resolve(args.profile))


if __name__ == "__main__":
    sys.exit(main())
