"""The data sources: one reader per dataset, and the simulator behind the embedded default.

``data.dataset`` names a reader of the registry :data:`tmkt.config.DATASETS`; it is imported only when that
dataset is converted, so naming one dataset never imports another's decoders. A reader returns a
:class:`tmkt.data.datasets.base.Source`.
"""

from __future__ import annotations

import importlib

from tmkt import layout
from tmkt.config import DATASETS, DataConfig, SimulatorConfig


def open_source(data: DataConfig, simulator: SimulatorConfig):
    """The source ``data.dataset`` names: the simulator for ``mnist_sim``, else a reader of ``data.raw_dir``
    with the options ``data.readers``."""
    module, cls = DATASETS[data.dataset].split(":")
    reader = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return reader(simulator) if data.dataset == "mnist_sim" else reader(layout.resolve(data.raw_dir), data.readers)
