"""The paper's configurations as named presets: ``presets/<name>.yaml``, dotted overrides of ``params.yaml``.

A preset changes only what the paper's setting of one benchmark changes (dataset, T, frame size, trunk,
batch, epochs, learning rate, seeds); everything else stays as ``params.yaml`` has it. Its keys are
validated against ``params.yaml`` when it is read, so a misspelt or out-of-range entry fails before any
run, naming the preset file and the key.

``tmkt-preset NAME`` runs the whole pipeline with a preset as one DVC experiment::

    dvc exp run --name NAME -S key=value -S ...       (--queue: queued, for `dvc queue start`)

``params.yaml`` itself is left as it is; ``dvc exp show`` lists the experiment beside the default, and
``dvc exp apply NAME`` makes it the workspace's configuration.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tmkt import config, layout

FOLDER: Path = layout.ROOT / "presets"


def names() -> list[str]:
    """The presets shipped in ``presets/``."""
    return sorted(path.stem for path in FOLDER.glob("*.yaml"))


def overrides(name: str, params_file: str | Path | None = None) -> dict[str, Any]:
    """The dotted overrides of preset ``name``, checked against ``params_file`` (default: params.yaml)."""
    path = FOLDER / f"{name}.yaml"
    if not path.is_file():
        raise config.ParamsError(f"no preset {name!r}: expected one of {', '.join(names())} (files in {FOLDER})")
    content = yaml.safe_load(path.read_text())
    if not isinstance(content, dict) or not all(isinstance(key, str) and "." in key for key in content):
        raise config.ParamsError(f"{path}: expected a mapping of dotted keys (section.key: value)")
    try:
        config.load(params_file, content)
    except config.ParamsError as exc:
        raise config.ParamsError(f"{path}: {exc}") from exc
    return content


def exp_run_command(name: str, queue: bool = False) -> list[str]:
    """``dvc exp run`` with the preset's overrides, one ``-S key=value`` each (values in YAML flow style)."""
    command = ["dvc", "exp", "run", "--name", name, *(["--queue"] if queue else [])]
    for key, value in overrides(name).items():
        command += ["-S", f"{key}={yaml.safe_dump(value, default_flow_style=True, sort_keys=False).strip().removesuffix('...').strip()}"]
    return command


def main(argv: list[str] | None = None) -> int:
    if not FOLDER.is_dir():
        print(f"tmkt-preset: no presets folder {FOLDER}: run from inside a clone of the repository (a folder "
              f"holding {' and '.join(layout.ROOT_MARKERS)})", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="tmkt-preset", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=names(), help="the preset (presets/<name>.yaml)")
    parser.add_argument("--queue", action="store_true", help="queue the experiment (dvc queue start runs it)")
    parser.add_argument("--print", action="store_true", help="print the dvc command instead of running it")
    args = parser.parse_args(argv)
    try:
        command = exp_run_command(args.name, queue=args.queue)
    except config.ParamsError as exc:
        print(f"tmkt-preset: {exc}", file=sys.stderr)
        return 2
    print(shlex.join(command))
    return 0 if args.print else subprocess.call(command, cwd=layout.ROOT)


if __name__ == "__main__":
    sys.exit(main())
