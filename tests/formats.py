"""Writers of every published file format the readers accept, for tests: tiny files written here.

The writers encode from the format specifications (ATIS 40-bit events, AEDAT 2.0 DVS128 records, AEDAT 4
event packets, MNIST idx, CIFAR-10 python batches, image files), independently of the readers, so a test
that reads back what a writer wrote checks the reader against the specification, not against itself.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import flatbuffers
import numpy as np
from PIL import Image

from tmkt.data.datasets.imagefiles import write_idx  # noqa: F401 (tests import it from here)


def write_atis(path: Path, x, y, p, t) -> None:
    """ATIS 40-bit records: x (8 bits), y (8), polarity (1), timestamp (23), most significant first."""
    x, y, p, t = (np.asarray(v, dtype=np.int64) for v in (x, y, p, t))
    records = np.stack([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(records.astype(np.uint8).tobytes())


def write_aedat2(path: Path, address, timestamp, version: str = "2.0") -> None:
    """AEDAT 2.0: '#' header lines (CRLF, as jAER writes them), then big-endian uint32 (address, timestamp)."""
    header = f"#!AER-DAT{version}\r\n# This is a raw AE data file - do not edit\r\n".encode()
    body = np.stack([np.asarray(address), np.asarray(timestamp)], axis=1).astype(">u4").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + body)


def dvs128_address(a: int, b: int, polarity_bit: int) -> int:
    """DVS128 address: polarity bit 0, first coordinate a in bits 1-7, second coordinate b in bits 8-14."""
    return (b << 8) | (a << 1) | polarity_bit


def write_nmnist_tree(root: Path, labels: dict[str, list[int]], rng: np.random.Generator,
                      gzipped: tuple[str, ...] = ()) -> None:
    """The N-MNIST + MNIST layout without recordings: random 28 x 28 digits with ``labels`` per MNIST file prefix
    ("train", "t10k"; .gz for those in ``gzipped``), and N-MNIST's empty Train and Test digit folders 0-9."""
    for prefix, split_labels in labels.items():
        suffix = ".gz" if prefix in gzipped else ""
        images = rng.integers(0, 256, (len(split_labels), 28, 28), dtype=np.uint8)
        write_idx(root / "MNIST" / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(root / "MNIST" / f"{prefix}-labels-idx1-ubyte{suffix}", np.asarray(split_labels, dtype=np.uint8))
    for split in ("Train", "Test"):
        for digit in range(10):
            (root / "N-MNIST" / split / str(digit)).mkdir(parents=True)


def write_cifar_batch(path: Path, images: np.ndarray, labels: list[int]) -> None:
    """A CIFAR-10 python batch: rows of 1024 R, 1024 G, 1024 B values, bytes keys as in the Python 2 files."""
    data = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=2))


def write_image(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def blocks(rng: np.random.Generator, grey: bool = False) -> np.ndarray:
    """A 16 x 16 image of four flat 8 x 8 blocks: JPEG reproduces it within a few grey levels."""
    colours = rng.integers(0, 256, (2, 2) if grey else (2, 2, 3), dtype=np.uint8)
    return colours.repeat(8, axis=0).repeat(8, axis=1)



AEDAT4_INFO = (
    '<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">'
    '<node name="{stream}" path="/mainloop/Recorder/outInfo/{stream}/">'
    '<attr key="compression" type="string">NONE</attr>'
    '<attr key="originalOutputName" type="string">events</attr>'
    '<attr key="typeIdentifier" type="string">EVTS</attr>'
    '<node name="info" path="/mainloop/Recorder/outInfo/{stream}/info/">'
    '<attr key="sizeX" type="int">{width}</attr><attr key="sizeY" type="int">{height}</attr>'
    '<attr key="source" type="string">{camera}</attr></node></node></node></dv>'
)


def _aedat4_io_header(info: str) -> bytes:
    """The IOHeader table (file identifier IOHE): compression NONE, no data table, the stream description."""
    builder = flatbuffers.Builder(256)
    description = builder.CreateString(info)
    builder.StartObject(3)
    builder.PrependInt32Slot(0, 0, 0)  # compression: NONE
    builder.PrependInt64Slot(1, -1, -1)  # dataTablePosition: none
    builder.PrependUOffsetTRelativeSlot(2, description, 0)
    builder.Finish(builder.EndObject(), file_identifier=b"IOHE")
    return bytes(builder.Output())


def _aedat4_event_packet(t, x, y, on) -> bytes:
    """A size-prefixed EventPacket (identifier EVTS): a vector of 16-byte structs {int64 t; int16 x, y; bool on}."""
    builder = flatbuffers.Builder(64 + 16 * len(t))
    builder.StartVector(16, len(t), 8)
    for i in reversed(range(len(t))):
        builder.Prep(8, 16)
        builder.Pad(3)
        builder.PrependBool(bool(on[i]))
        builder.PrependInt16(int(y[i]))
        builder.PrependInt16(int(x[i]))
        builder.PrependInt64(int(t[i]))
    elements = builder.EndVector()
    builder.StartObject(1)
    builder.PrependUOffsetTRelativeSlot(0, elements, 0)
    builder.FinishSizePrefixed(builder.EndObject(), file_identifier=b"EVTS")
    return bytes(builder.Output())


def write_aedat4(path: Path, width: int, height: int, packets, camera: str = "DAVIS346", stream: int = 0) -> None:
    """AEDAT 4: '#!AER-DAT4.0\\r\\n', the IOHeader (int32 size + table), then per packet int32 stream id,
    int32 size and the packet. ``packets``: a list of (t, x, y, on) column tuples."""
    header = _aedat4_io_header(AEDAT4_INFO.format(stream=stream, width=width, height=height, camera=camera))
    out = [b"#!AER-DAT4.0\r\n", struct.pack("<I", len(header)), header]
    for t, x, y, on in packets:
        packet = _aedat4_event_packet(t, x, y, on)
        out += [struct.pack("<ii", stream, len(packet)), packet]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(out))


def write_mat(path: Path, **variables) -> None:
    """A MATLAB 5 .mat file (what scipy and MATLAB's default ``save`` write), one variable per keyword."""
    import scipy.io

    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {name: np.asarray(value) for name, value in variables.items()})


def write_nomniglot_character(root: Path, character: str, ident: str, drawings, subset: str = "background") -> None:
    """One N-Omniglot character: ``<id>.aedat4`` holding the drawings one after another (a 346 x 260 stream)
    and ``<id>.csv`` with a header and one (index, start, end) row per drawing. ``drawings``: a list of
    (t, x, y, on) columns, one per drawer in order."""
    folder = root / "N-Omniglot" / f"dvs_{subset}" / character
    write_aedat4(folder / f"{ident}.aedat4", 346, 260, drawings)
    rows = ["index,start_time,end_time"] + [f"{k},{min(t)},{max(t)}" for k, (t, *_) in enumerate(drawings)]
    (folder / f"{ident}.csv").write_text("\n".join(rows) + "\n")


def write_omniglot_character(root: Path, character: str, ident: str, drawings, subset: str = "background") -> None:
    """One Omniglot character: ``<id>_<rr>.png`` for rr = 01, 02, ... (binary PNGs, as released)."""
    folder = root / "Omniglot" / f"images_{subset}" / character
    folder.mkdir(parents=True, exist_ok=True)
    for rr, drawing in enumerate(drawings, start=1):
        Image.fromarray(np.asarray(drawing, dtype=bool)).save(folder / f"{ident}_{rr:02d}.png")
