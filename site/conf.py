"""Sphinx configuration of the compendium's documentation site (``python site/build.py``).

The source directory is the repository root, so that the README, ``docs/`` and the executed notebooks are read
where they are and their relative links and figures resolve as on disk; ``include_patterns`` picks the pages. The
notebooks are shown as ``dvc repro`` executed them: nothing is executed here.
"""

from __future__ import annotations

project = "TMKT"
author = "the TMKT compendium"
copyright = "the TMKT compendium"  # noqa: A001 (Sphinx's name)

root_doc = "site/index"
extensions = ["myst_nb"]

#: The pages, relative to the repository root (the source directory); nothing else is read.
include_patterns = [
    "site/index.md",
    "README.md",
    "docs/*.md",
    "reports/notebooks/*.ipynb",
    "reports/studies/*/03_figures.ipynb",
]
exclude_patterns = ["site/_build", "**/.ipynb_checkpoints", ".venv", ".git"]

# Executed notebooks as they are: outputs written by `dvc repro` (papermill), never re-run by the site.
nb_execution_mode = "off"
nb_merge_streams = True
nb_render_markdown_format = "myst"  # the notebooks' Markdown outputs hold tables and math (CommonMark has neither)
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3  # README sections are linked as README.html#the-two-commands
suppress_warnings = ["myst.header"]  # notebooks open with a level-1 title and then use any level

html_theme = "furo"
html_title = "TMKT compendium"
html_static_path: list[str] = []
html_show_sourcelink = False
html_copy_source = False
