"""The papermill engine every stage of ``dvc.yaml`` runs its notebook with (``papermill --engine tmkt``).

It is papermill's own nbclient engine with two changes:

- the kernel manager provisions CurveZMQ keys when the kernel declares support (jupyter_client's
  ``transport_encryption = "auto"``; ipykernel 7 does). The kernel then talks to papermill over encrypted
  sockets, instead of warning at every stage that it "is running over TCP without encryption". A kernel without
  that support starts exactly as before;
- the executed notebook it saves keeps its narrative: the terminal lines of :func:`tmkt.terminal.say` (``[stage]
  ...``, one per epoch and run), which ipykernel records in the notebook as well as echoing them to the terminal
  running ``dvc repro``, are removed from its stderr outputs once the notebook has run (:func:`without_stage_lines`).
  A notebook that fails keeps them, to show how far it got.

Registered as an entry point in ``pyproject.toml``.
"""

from __future__ import annotations

import re

from papermill.engines import NBClientEngine
from traitlets.config import Config

#: A line :func:`tmkt.terminal.say` writes for a stage: ``[train] ...``, ``[ablate-method@he2024] ...``.
STAGE_LINE = re.compile(r"^\[[^\]\s]+\] ")


def without_stage_lines(nb) -> int:
    """Remove the stage lines (:data:`STAGE_LINE`) from the stderr stream outputs of ``nb``'s code cells, in place;
    an output left empty goes. Other stderr text (warnings) stays. Returns the number of lines removed."""
    removed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = output["text"].splitlines(keepends=True)
                rest = [line for line in lines if not STAGE_LINE.match(line)]
                removed += len(lines) - len(rest)
                if not rest:
                    continue
                output["text"] = "".join(rest)
            kept.append(output)
        cell["outputs"] = kept
    return removed


class Engine(NBClientEngine):
    """nbclient execution with the kernel's transport encrypted where the kernel supports it, saving the notebook
    without the stage's terminal lines."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        config = Config()
        config.KernelManager.transport_encryption = "auto"
        result = super().execute_managed_notebook(nb_man, kernel_name, config=config, **kwargs)
        without_stage_lines(nb_man.nb)  # papermill saves nb_man.nb once more when the notebook completes
        return result
