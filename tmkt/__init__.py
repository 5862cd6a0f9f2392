"""TMKT: Time-step Mixup Knowledge Transfer from static images to event streams for spiking networks.

The package holds every piece of logic the notebooks use, one sub-package per part of the pipeline
(``data``, ``method``, ``training``, ``results``, ``plots``) above a few foundation modules; see
``docs/architecture.md`` for what each module owns and ``README.md`` for the pipeline.
"""

__version__ = "0.1.0"
