"""TMKT: Time-step Mixup Knowledge Transfer from static images to event streams for spiking networks.

The package holds every piece of logic the notebooks use, one sub-package per part of the pipeline
(``data``, ``method``, ``training``, ``results``, ``plots``) above a few foundation modules; see
``docs/architecture.md`` for what each module owns and ``README.md`` for the pipeline.

For one's own training loop, the method's pieces are attributes of the package (``tmkt.TimestepMixup``,
``tmkt.solve_p``, ``tmkt.CKAAlignment``, ``tmkt.MultiStepLIF``, ``tmkt.two_stream_snn``, ...; ``tmkt.__all__``
names them and ``docs/api.md`` shows each). They live in :mod:`tmkt.method.standalone` and are imported on first
use, so ``import tmkt`` stays light and imports no torch.
"""

import importlib

__version__ = "0.1.0"

#: The public API, every name an attribute of :mod:`tmkt.method.standalone`.
__all__ = [
    "CKAAlignment", "DAOutput", "MixedBatch", "MultiStepLIF", "TimestepMixup", "TwoStreamSNN", "expected_event_ratio",
    "linear_cka", "predict", "ratio_schedule", "solve_p", "tet_loss", "two_stream_snn",
]

#: Named as a string, not imported: no training run depends on the public API (``tmkt.provenance`` reads imports).
_API_MODULE = "tmkt.method.standalone"


def __getattr__(name: str):
    """Import the public API's module on the first access of one of its names (PEP 562)."""
    if name in __all__:
        value = getattr(importlib.import_module(_API_MODULE), name)
        globals()[name] = value  # later accesses skip this function
        return value
    raise AttributeError(f"module 'tmkt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
