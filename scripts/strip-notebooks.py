"""Strip outputs from the tutorial notebooks in place, so that they can be committed clean.

    .venv/bin/python scripts/strip-notebooks.py                  # every notebooks/NN-*.ipynb
    .venv/bin/python scripts/strip-notebooks.py notebooks/03-*.ipynb

The committed .ipynb files are the one source of the tutorials: edit them in JupyterLab, then
run this script. It removes outputs, execution counts, widget state, per-cell execution timings
and the kernel's details in language_info (its name stays); it keeps the cell sources, ids, tags
and the kernelspec, and writes the file the way nbformat writes it (files that are already clean
are left untouched). tests/test_notebooks.py checks the result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# notebook metadata written by running a notebook, not part of the tutorial
RUN_METADATA = ("widgets",)
# cell metadata written by running a cell (JupyterLab's "record timing", old "collapsed" flags)
RUN_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")


def strip(nb) -> None:
    for key in RUN_METADATA:
        nb.metadata.pop(key, None)
    info = nb.metadata.get("language_info")
    if info and "name" in info:  # its version, mimetype, ... differ from machine to machine
        nb.metadata["language_info"] = {"name": info["name"]}
    for cell in nb.cells:
        for key in RUN_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


def strip_file(path: Path) -> bool:
    """Strip one notebook in place; True if the file changed."""
    before = path.read_text(encoding="utf-8")
    nb = nbformat.reads(before, as_version=4)
    strip(nb)
    nbformat.validate(nb)
    after = nbformat.writes(nb)
    if not after.endswith("\n"):
        after += "\n"
    if after == before:
        return False
    path.write_text(after, encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    for path in paths:
        print(("stripped " if strip_file(path) else "clean    ") + str(path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
