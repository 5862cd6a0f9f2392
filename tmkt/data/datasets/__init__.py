"""The data sources: one reader per dataset, and the simulator behind the embedded default.

:data:`READERS` is the registry ``data.dataset`` names: each entry says where its reader lives and is
imported only when that dataset is converted, so naming one dataset never imports another's decoders.
A reader takes the parameters and returns a :class:`tmkt.data.datasets.base.Source`.
"""

from __future__ import annotations

import importlib

#: ``data.dataset`` -> (module of :mod:`tmkt.data.datasets`, class). ``mnist_sim`` simulates its recordings
#: (``simulator:``); the others read user-supplied files under ``data.raw_dir`` (data/raw/README.md).
READERS: dict[str, tuple[str, str]] = {
    "mnist_sim": ("embedded", "SimulatedMNIST"),
    "nmnist": ("nmnist", "NMNIST"),
    "ncaltech101": ("ncaltech101", "NCaltech101"),
    "cifar10dvs": ("cifar10dvs", "CIFAR10DVS"),
}


def open_source(params):
    """The source ``data.dataset`` names, built from its parameters."""
    from tmkt import layout

    name = params.data.dataset
    if name not in READERS:
        raise ValueError(f"data.dataset = {name!r} has no reader; known: {', '.join(READERS)}")
    module, cls = READERS[name]
    reader = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return reader(params.simulator) if name == "mnist_sim" else reader(layout.resolve(params.data.raw_dir))
