"""The stages' papermill engine saves executed notebooks without the stage's terminal lines."""

from __future__ import annotations

import nbformat
import papermill as pm

from tmkt.papermill_engine import without_stage_lines


def _stderr(text: str):
    return nbformat.v4.new_output("stream", name="stderr", text=text)


def test_stage_lines_leave_the_stderr_outputs_and_other_text_stays():
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [_stderr("[train] seed 1 · epoch 1/2\n[ablate-method@he2024] seed 2 · epoch 2/2\n"),
                    _stderr("UserWarning: something\n[train] seed 1 · epoch 2/2\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="[train] printed, not said\n")]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("[train] prose"), cell])
    assert without_stage_lines(nb) == 3
    assert [o.get("text") for o in nb.cells[1].outputs] == ["UserWarning: something\n", "[train] printed, not said\n"]
    assert without_stage_lines(nb) == 0


def test_a_stage_notebook_executed_with_the_engine_keeps_its_narrative(tmp_path):
    source = ("from tmkt.terminal import say\nimport sys\nsay('[train] seed 1 · epoch 1/1')\n"
              "sys.stderr.write('a warning\\n')\nprint('the result')")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    pm.execute_notebook(tmp_path / "in.ipynb", tmp_path / "out.ipynb", engine_name="tmkt", kernel_name="python3",
                        progress_bar=False, cwd=tmp_path)
    outputs = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[-1].outputs
    texts = "".join(o.get("text", "") for o in outputs)
    assert "the result" in texts and "a warning" in texts and "[train]" not in texts
