"""Decoding of the AEDAT containers (jAER's AEDAT 2.0, iniVation DV's AEDAT 4) into events.

AEDAT 2.0 (jAER; the CIFAR10-DVS originals): header lines that begin with ``#`` (the first is
``#!AER-DAT2.0``), then big-endian records of (uint32 address, uint32 timestamp in microseconds). The file is
read once; its header is scanned line by line, so a header-only file (a recording with no events) is read
as zero records (tonic's ``read_aedat_header_from_file`` returns a data start one byte short when the
header runs to the end of the file, which made such a file look truncated), and the records are a view of
the bytes after it. What an address means depends on the camera (DVS128: see
``cifar10dvs.py``).

AEDAT 4 (DV; N-Omniglot, tonic's conversions): decoded with the ``aedat`` package. The file describes its
streams; the event stream with the smallest id is read, and its ``width`` x ``height`` is returned with
the events so the reader can compare it with the sensor the dataset expects.

Either decoder raises :class:`~tmkt.data.datasets.base.DatasetError` naming the file on anything it cannot
read; emptiness, time order and the sensor bounds are checked by the dataset readers
(:func:`~tmkt.data.datasets.base.check_events`), the same way for every format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmkt.data.datasets.base import DatasetError, as_events, file_size

AEDAT2_MAGIC = b"#!AER-DAT"
AEDAT2_RECORD = np.dtype([("address", ">u4"), ("timeStamp", ">u4")])  #: big-endian (address, timestamp in us)
AEDAT2_RECORD_BYTES = AEDAT2_RECORD.itemsize


def aedat2_header(raw: bytes, path: Path) -> tuple[float, int]:
    """(version, offset of the first record) of a jAER AEDAT file's bytes; the header is every leading '#' line."""
    if not raw.startswith(AEDAT2_MAGIC):
        raise DatasetError(f"{path}: not an AEDAT file (it does not start with '#!AER-DAT'); expected jAER's AEDAT 2.0")
    first_line = raw.split(b"\n", 1)[0].strip()
    try:
        version = float(first_line[len(AEDAT2_MAGIC):].decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read the AEDAT version from {first_line[:40]!r}") from exc
    start = 0
    while start < len(raw) and raw[start:start + 1] == b"#":
        end = raw.find(b"\n", start)
        start = len(raw) if end < 0 else end + 1
    return version, start


def read_aedat2_records(path: Path) -> np.ndarray:
    """The (address, timeStamp) records of an AEDAT 2.x file; none for a header-only file."""
    path = Path(path)
    file_size(path)
    raw = path.read_bytes()
    version, data_start = aedat2_header(raw, path)
    if not 2 <= version < 3:
        raise DatasetError(f"{path}: AEDAT version {version:g}, expected 2.x (jAER's address-event files)")
    body_bytes = len(raw) - data_start
    if body_bytes % AEDAT2_RECORD_BYTES:
        raise DatasetError(
            f"{path}: {body_bytes} data bytes is not a multiple of {AEDAT2_RECORD_BYTES} "
            "(address + timestamp records); the file is truncated"
        )
    return np.frombuffer(raw, dtype=AEDAT2_RECORD, offset=data_start)


def read_aedat4(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """(events as ``events_struct``, (width, height) of the event stream) of an AEDAT 4 file."""
    path = Path(path)
    file_size(path)
    import aedat

    try:
        decoder = aedat.Decoder(path)
        streams = {i: s for i, s in decoder.id_to_stream().items() if s.get("type") == "events"}
        if not streams:
            raise DatasetError(f"{path}: the AEDAT 4 file describes no event stream")
        stream = min(streams)
        size = (int(streams[stream]["width"]), int(streams[stream]["height"]))
        packets = [packet["events"] for packet in decoder if packet["stream_id"] == stream]
    except (DatasetError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the decoder's errors, and its Rust panics (pyo3's PanicException is no Exception)
        raise DatasetError(f"{path}: cannot decode as an AEDAT 4 event stream ({type(exc).__name__}: {exc})") from exc
    raw = np.concatenate(packets) if packets else np.empty(0, dtype=[("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")])
    return as_events(raw["x"], raw["y"], raw["t"].astype(np.int64), raw["on"]), size
