"""The papermill engine every stage of ``dvc.yaml`` runs its notebook with (``papermill --engine tmkt``).

It is papermill's own nbclient engine with one change: the kernel manager provisions CurveZMQ keys when the
kernel declares support (jupyter_client's ``transport_encryption = "auto"``; ipykernel 7 does). The kernel
then talks to papermill over encrypted sockets, instead of warning at every stage that it "is running over TCP
without encryption". A kernel without that support starts exactly as before. Registered as an entry point in
``pyproject.toml``.
"""

from __future__ import annotations

from papermill.engines import NBClientEngine
from traitlets.config import Config


class Engine(NBClientEngine):
    """nbclient execution with the kernel's transport encrypted where the kernel supports it."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        config = Config()
        config.KernelManager.transport_encryption = "auto"
        return super().execute_managed_notebook(nb_man, kernel_name, config=config, **kwargs)
