"""Build the documentation site into ``site/_build/html``: ``python site/build.py`` from the repository root.

Reads the README, ``docs/*.md`` and the executed notebooks (``reports/notebooks/``, and each profile's under
``reports/studies/``) where they are, without executing anything, and works offline. Needs the packages of
``requirements-docs.txt``. Returns Sphinx's exit status; ``--strict`` turns warnings into errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SITE = Path(__file__).resolve().parent
ROOT = SITE.parent
OUT = SITE / "_build"
REDIRECT = ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>TMKT compendium</title>'
            '<meta http-equiv="refresh" content="0; url=site/index.html"></head>'
            '<body><a href="site/index.html">TMKT compendium</a></body></html>\n')


def build(out: Path = OUT, strict: bool = False, quiet: bool = True) -> int:
    """Sphinx's html builder over the repository root with ``site/conf.py``; the pages land in ``out / 'html'``."""
    from sphinx.cmd.build import build_main

    args = ["-b", "html", "-c", str(SITE), "-d", str(out / "doctrees")]
    args += ["-q"] if quiet else []
    args += ["-W", "--keep-going"] if strict else []
    status = build_main([*args, str(ROOT), str(out / "html")])
    if status == 0:  # the home page is site/index.html (the root document sits in site/): open it from html/ too
        (out / "html" / "index.html").write_text(REDIRECT, encoding="utf-8")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="build folder (html/ and doctrees/ inside)")
    parser.add_argument("--strict", action="store_true", help="fail on any warning")
    parser.add_argument("--verbose", action="store_true", help="Sphinx's progress, not only its warnings")
    args = parser.parse_args(argv)
    status = build(args.out, strict=args.strict, quiet=not args.verbose)
    if status == 0:
        print(f"site: {(args.out / 'html' / 'index.html').resolve()}")
    return status


if __name__ == "__main__":
    sys.exit(main())
