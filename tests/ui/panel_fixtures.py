"""Helpers and fixtures for the side-panel browser test (tests/ui/test_panel_browser.py).

The server (``lab``), browser and ``page`` fixtures come from tests/ui/conftest.py. This
module writes the demo notebook into the server's root and reads the panel through
roles and page conditions (never a fixed sleep).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from notebook_js import ALL_EXECUTED, CELL_ERRORS, READY, RUN_ALL  # noqa: F401 - re-exported

NOTEBOOK = "panel-demo.ipynb"
PIPELINE = "panel-demo"
EVIL_KEY = "<img src=x onerror=alert(1)>"

CELLS = [
    "%load_ext streamlab",
    "import streamlab as sl\n"
    f"evil = {EVIL_KEY!r}  # a key that looks like HTML must show as text\n"
    "res = (sl.demo.sensors(rate=40, keys=2, speed=1)\n"
    "       .assign(sensor=lambda df: evil + df.sensor)\n"
    "       .watermark('500ms')\n"
    "       .window(sl.Tumble('2s'), by='sensor')\n"
    "       .agg(avg=('temp', 'mean')))\n"
    f"_ = res.start(name={PIPELINE!r})",
]

HAS_PLUGIN = "() => window.jupyterapp.hasPlugin('streamlab:panel')"

# A metric of a pipeline card as the panel shows it ('' if the card is not there).
METRIC = """([pipeline, label]) => {
  const card = [...document.querySelectorAll('#streamlab-panel section')]
    .find(s => s.getAttribute('aria-label') === 'pipeline ' + pipeline);
  if (!card) return '';
  const row = [...card.querySelectorAll('tr')]
    .find(tr => tr.querySelector('th') && tr.querySelector('th').textContent === label);
  return row ? row.querySelector('td').textContent : '';
}"""

COUNT_ABOVE = f"""([pipeline, label, n]) => {{
  const text = ({METRIC})([pipeline, label]).replace(/,/g, '');
  return text !== '' && !isNaN(Number(text)) && Number(text) > n;
}}"""

PUSHES = """() => {
  const body = document.querySelector('#streamlab-panel .jp-Streamlab-body');
  return body ? Number(body.dataset.pushes) : -1;
}"""

PUSHES_AT_LEAST = f"(n) => ({PUSHES})() >= n"


def write_notebook(root: Path, cells: list[str] = CELLS, name: str = NOTEBOOK) -> str:
    """Write a notebook of code cells into the server's root; returns its name."""
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}",
                   "metadata": {}, "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    (root / name).write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return name


def wait_until(page, condition: str, arg=None, timeout_ms: int = 30_000, what: str = "") -> None:
    """Wait for a page condition; on timeout fail saying what was expected and what is shown."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(condition, arg=arg, timeout=timeout_ms, polling=100)
    except PlaywrightTimeout:
        status = page.evaluate("""() => {
          const s = document.querySelector('#streamlab-panel [role=status]');
          return s ? s.textContent : '(no panel status)';
        }""")
        errors = page.evaluate(CELL_ERRORS) if page.evaluate(
            "() => !!(window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.content)") else []
        raise AssertionError(f"{what} within {timeout_ms / 1000:.0f} s (panel says {status!r}; "
                             f"cell errors {errors})") from None


def metric(page, label: str, pipeline: str = PIPELINE) -> str:
    return page.evaluate(METRIC, [pipeline, label])


def count(page, label: str, pipeline: str = PIPELINE) -> int:
    return int(metric(page, label, pipeline).replace(",", ""))


def pushes(page) -> int:
    return page.evaluate(PUSHES)


@pytest.fixture
def panel_notebook(lab) -> str:
    """The demo notebook, written into the test server's root."""
    return write_notebook(lab.root)


@pytest.fixture
def dialogs(page) -> list[str]:
    """Every JavaScript dialog (an ``alert`` would mean injected HTML ran); dismissed."""
    seen: list[str] = []

    def on_dialog(dialog) -> None:
        seen.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return seen
