"""TMKT: Time-step Mixup Knowledge Transfer from static images to event streams for spiking networks.

The package holds every piece of logic the notebooks use; see ``README.md`` for the pipeline.
"""

__version__ = "0.1.0"
