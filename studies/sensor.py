"""The simulator checked against the sensor: real N-MNIST recordings and simulated recordings of the same digits.

Every N-MNIST training recording under ``<raw>/N-MNIST/Train/<digit>/<NNNNN>.bin`` (ATIS, 34 x 34, three saccades)
is paired with the MNIST digit it records (file number n <-> row n - 1 of ``<raw>/MNIST/train-images-idx3-ubyte``,
checked against the MNIST labels), and that digit is simulated with ``tmkt.data.datasets.simulator`` at the
``simulator:`` settings of ``params.yaml``: recording n draws from ``default_rng([simulator.seed, n - 1])``, the
stream ``mnist_sim`` uses for the digit of that MNIST row, so the run is reproducible. Both recordings of every
digit are measured with :mod:`tmkt.data.event_stats` (event count, ON fraction, duration, median per-pixel
inter-event interval, active pixels, isolated-event fraction, activity in T = ``data.time_bins`` equal time bins)
and the two tables compared digit by digit: mean real, mean simulated, their ratio, and Spearman's rho across
digits. The spatial maps of the two recordings of a digit are compared by their Pearson correlation.

Writes atomically to ``reports/studies/sensor/``: ``stats.csv`` (one row per recording and source),
``comparison.md`` (the comparison, formatted) and ``sensor.png`` (real beside simulated: event counts, ON fraction,
activity per time bin, inter-event intervals, mean spatial maps, one digit's event frames).
Run: ``python studies/sensor.py`` (after unpacking N-MNIST and MNIST into ``data/raw``; about a minute).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tmkt import config, io, layout  # noqa: E402
from tmkt.data import event_stats as es  # noqa: E402

OUT_DIR = layout.ROOT / "reports/studies/sensor"
SENSOR_SIZE = (34, 34, 2)
#: Width of the fine time bins of the figure's activity profile.
PROFILE_BIN_MS = 5.0
SOURCE_COLORS = {"real": "#1f77b4", "simulated": "#d62728"}
#: The colour scales of the mean maps end at this percentile of their pixels, so hot pixels do not hide the digit.
MAP_CLIP_PERCENTILE = 99.5

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


def read_pairs(raw: Path, params) -> tuple[list[es.Recording], list[es.Recording], dict[str, np.ndarray]]:
    """(real recordings, simulated recordings of the same digits, MNIST image by id), both in the same order."""
    from tmkt.data.datasets.atis import read_atis_bin
    from tmkt.data.datasets.simulator import simulate

    found, images = find_recordings(raw)
    cfg = params.simulator
    real, simulated, digits = [], [], {}
    for path, digit, row in found:
        real.append(es.Recording(path.stem, digit, "real", read_atis_bin(path, SENSOR_SIZE)))
        events = simulate(images[row], cfg, np.random.default_rng([cfg.seed, row]))
        simulated.append(es.Recording(path.stem, digit, "simulated", events))
        digits[path.stem] = images[row]
    return real, simulated, digits


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


def format_comparison(comparison: pd.DataFrame) -> pd.DataFrame:
    """The comparison with numbers as text: counts and durations without decimals beyond what they carry."""
    digits = {"count": 0, "active_pixels": 0, "duration_ms": 1, "median_iei_ms": 2}
    rows = []
    for row in comparison.itertuples():
        d = digits.get(row.statistic, 3)
        rows.append({"statistic": row.statistic, "mean real": f"{row.mean_real:,.{d}f}",
                     "mean simulated": f"{row.mean_simulated:,.{d}f}", "simulated / real": f"{row.ratio:.2f}",
                     "Spearman ρ across digits": "–" if np.isnan(row.spearman) else f"{row.spearman:+.2f}"})
    return pd.DataFrame(rows)


def report(comparison: pd.DataFrame, agreement: pd.DataFrame, maps: dict[str, np.ndarray], n: int,
           bins: int, params) -> str:
    """comparison.md: the comparison table, the spatial agreement and what the statistics are."""
    cfg = params.simulator
    r = agreement["r"]
    (xr, yr), (xs, ys) = centre(maps["real"]), centre(maps["simulated"])
    mean_r = float(np.corrcoef(maps["real"].ravel(), maps["simulated"].ravel())[0, 1])
    return "\n".join([
        f"{n} N-MNIST training recordings and the MNIST digits they record. "
        f"Simulator at params.yaml's `simulator:` (thresholds {cfg.threshold_on:g}/{cfg.threshold_off:g}, "
        f"signal_keep {cfg.signal_keep:g}, background {cfg.background_rate_hz:g} Hz, {cfg.hot_pixels} hot pixels at "
        f"{cfg.hot_pixel_rate_hz:g} Hz, refractory {cfg.refractory_us:g} us, saccades {cfg.saccade_ms:g} ms, "
        f"seed {cfg.seed}). Means over the recordings; ratio = simulated / real; Spearman ρ across the {n} digits "
        "(does the simulator give more where the sensor does?). median_iei_ms: median interval between consecutive "
        "events of one pixel; active_pixels: pixels with an event; isolated_fraction: events with no event at the 8 "
        f"neighbouring pixels within ±{es.ISOLATION_WINDOW_US / 1000:g} ms (noise); bin_b: share of the events in "
        f"time bin b of {bins} equal bins of the recording's duration (tmkt/data/event_stats.py).",
        "",
        format_comparison(comparison).to_markdown(index=False, colalign=("left",) + ("right",) * 4,
                                                  disable_numparse=True),
        "",
        "Where the events fall: Pearson r between the real and the simulated spatial map (34 x 34 counts) of the same "
        f"digit: median {r.median():.2f} (quartiles {r.quantile(0.25):.2f}-{r.quantile(0.75):.2f}); between the mean "
        f"maps over all digits: {mean_r:.2f}. Centre of mass of the mean map: real ({xr:.1f}, {yr:.1f}), simulated "
        f"({xs:.1f}, {ys:.1f}) pixels (x, y).",
        "",
    ])


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _hist(ax, tables, column, bins, title, xlabel):
    for source, table in tables.items():
        values = table[column].dropna()
        ax.hist(values, bins=bins, histtype="step", lw=1.5, color=SOURCE_COLORS[source],
                label=f"{source} (mean {_number(values.mean())})")
    ax.set(title=title, xlabel=xlabel, ylabel="recordings")
    ax.legend(fontsize=7, loc="upper right")


def _profile(ax, real, simulated, params):
    """Event share per 5 ms bin of each recording's duration, mean ± std over recordings."""
    n_bins = max(1, round(3 * params.simulator.saccade_ms / PROFILE_BIN_MS))
    for source, recordings in (("real", real), ("simulated", simulated)):
        shares = np.array([es.time_bin_fractions(r.events, n_bins) for r in recordings]) * 100
        mean, std = shares.mean(0), shares.std(0)
        x = (np.arange(n_bins) + 0.5) / n_bins * 100
        ax.plot(x, mean, color=SOURCE_COLORS[source], label=source)
        ax.fill_between(x, mean - std, mean + std, color=SOURCE_COLORS[source], alpha=0.2, lw=0)
    ax.set(title=f"activity in {n_bins} bins (mean ± std)", xlabel="time (% of the recording)",
           ylabel="events in the bin (%)", ylim=(0, None))
    ax.legend(fontsize=7)


def _time_bins(ax, tables, bins):
    for offset, (source, table) in zip((-0.15, 0.15), tables.items()):
        values = table[es.bin_columns(bins)].to_numpy() * 100
        ax.errorbar(np.arange(1, bins + 1) + offset, values.mean(0), yerr=values.std(0), fmt="o", capsize=3,
                    color=SOURCE_COLORS[source], label=source)
    ax.axhline(100 / bins, color="0.6", lw=0.8, ls=":")
    ax.set(title=f"activity per time bin, T = {bins} (mean ± std)", xlabel="time bin", ylabel="events in the bin (%)",
           xticks=range(1, bins + 1))
    ax.legend(fontsize=7)


def _iei(ax, real, simulated):
    centres = np.sqrt(es.IEI_EDGES_US[1:] * es.IEI_EDGES_US[:-1]) / 1000
    for source, recordings in (("real", real), ("simulated", simulated)):
        shares = np.array([es.iei_histogram(es.inter_event_intervals(r.events)) for r in recordings]) * 100
        ax.plot(centres, shares.mean(0), "-o", ms=3, color=SOURCE_COLORS[source], label=source)
    ax.set_xscale("log")
    ax.set(title="per-pixel inter-event intervals", xlabel="interval (ms, log bins)", ylabel="intervals (%, mean)")
    ax.legend(fontsize=7)


def _example(fig, cells, recordings, image, bins):
    """The MNIST digit, then its real and its simulated recording in T frames (ON - OFF, one colour scale)."""
    from tmkt.plots.style import event_panel, polarity_limit

    frames = {source: es.event_frames(r.events, bins) for source, r in recordings.items()}
    vmax = max(polarity_limit(f) for f in frames.values())
    ax = fig.add_subplot(cells[:, 0])
    ax.imshow(image, cmap="gray")
    ax.set(xticks=[], yticks=[], title=f"MNIST digit\n(recording {recordings['real'].id})")
    for row, (source, f) in enumerate(frames.items()):
        for b in range(bins):
            ax = fig.add_subplot(cells[row, b + 1])
            event_panel(ax, f[b], vmax)
            if b == 0:
                ax.set_ylabel(f"{source}\n{len(recordings[source].events)} events", fontsize=8)
            if row == 0:
                ax.set_title(f"bin {b + 1}", fontsize=8)


def sensor_figure(tables, real, simulated, maps, example, image, bins, params) -> plt.Figure:
    """Real beside simulated: distributions, temporal profiles, intervals, mean maps and one digit's frames."""
    fig = plt.figure(figsize=(19, 13.5), layout="constrained")
    grid = fig.add_gridspec(3, 1, height_ratios=[1, 1.05, 0.95])
    top = grid[0].subgridspec(1, 4)
    _hist(fig.add_subplot(top[0]), tables, "count", 30, "events per recording", "events")
    _hist(fig.add_subplot(top[1]), tables, "on_fraction", np.linspace(0.4, 0.6, 41), "ON fraction", "ON / all events")
    _time_bins(fig.add_subplot(top[2]), tables, bins)
    _profile(fig.add_subplot(top[3]), real, simulated, params)

    middle = grid[1].subgridspec(1, 5, width_ratios=[1, 1, 1, 1, 1.05])
    _iei(fig.add_subplot(middle[0]), real, simulated)
    _hist(fig.add_subplot(middle[1]), tables, "isolated_fraction", np.linspace(0, 0.4, 41),
          f"isolated events (no neighbour within ±{es.ISOLATION_WINDOW_US / 1000:g} ms)", "isolated / all events")
    vmax = max(np.percentile(m, MAP_CLIP_PERCENTILE) for m in maps.values())
    for i, (source, mean_map) in enumerate(maps.items()):
        ax = fig.add_subplot(middle[2 + i])
        shown = ax.imshow(mean_map, cmap="magma", vmin=0, vmax=vmax)
        ax.set(title=f"mean spatial map, {source}", xticks=[0, 16, 33], yticks=[0, 16, 33])
    fig.colorbar(shown, ax=ax, shrink=0.8, extend="max",
                 label=f"events per pixel and recording\n(clipped at the {MAP_CLIP_PERCENTILE:g}th percentile)")
    ax = fig.add_subplot(middle[4])
    difference = maps["simulated"] - maps["real"]
    limit = np.percentile(np.abs(difference), MAP_CLIP_PERCENTILE)
    shown = ax.imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set(title="mean map, simulated − real", xticks=[0, 16, 33], yticks=[0, 16, 33])
    fig.colorbar(shown, ax=ax, shrink=0.8, extend="both", label="events per pixel and recording")

    _example(fig, grid[2].subgridspec(2, bins + 1), example, image, bins)
    n = len(real)
    fig.suptitle(f"The simulator against the sensor: {n} N-MNIST training recordings (real, ATIS) and the same {n} "
                 "MNIST digits simulated at params.yaml's simulator settings", fontsize=13)
    return fig


def run(raw: Path, out: Path, bins: int | None = None) -> pd.DataFrame:
    """Measure, compare and write; returns the comparison."""
    params = config.load()
    bins = bins or params.data.time_bins
    real, simulated, images = read_pairs(raw, params)
    tables = {"real": es.stats_table(real, bins), "simulated": es.stats_table(simulated, bins)}
    comparison = es.compare(tables["real"], tables["simulated"])
    agreement = map_agreement(real, simulated)
    maps = {source: np.mean([es.spatial_map(r.events) for r in recs], axis=0)
            for source, recs in (("real", real), ("simulated", simulated))}
    counts = tables["real"]["count"]
    k = int((counts - counts.median()).abs().idxmin())
    example = {"real": real[k], "simulated": simulated[k]}

    io.write_csv(out / "stats.csv", pd.concat(tables.values(), ignore_index=True).to_dict("records"))
    text = report(comparison, agreement, maps, len(real), bins, params)
    io.write_text(out / "comparison.md", text)
    figure = sensor_figure(tables, real, simulated, maps, example, images[real[k].id], bins, params)
    io.save_figure(out / "sensor.png", figure)
    plt.close(figure)
    print(text)
    return comparison


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, default=Path("data/raw"),
                        help="folder holding N-MNIST/Train and MNIST (relative: from the repository root)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    parser.add_argument("--bins", type=int, default=None, help="time bins T (default: params.yaml data.time_bins)")
    args = parser.parse_args(argv)
    run(layout.resolve(args.raw), layout.resolve(args.out), args.bins)


if __name__ == "__main__":
    sys.exit(main())
