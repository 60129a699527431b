"""A real browser shows a job running on a real Flink cluster in the side panel (issue 12).

The notebook starts a local cluster (``sl.flink.cluster()``) and runs a window pipeline on it
with ``on_flink(continuous=True)``, so the job keeps running. The panel lists it as
``NAME@flink`` with the job id as a link to the job in the Flink web UI, Flink's state and the
records in from Flink's REST metrics; Stop in the panel cancels the job on the cluster, which the
test checks against the cluster's REST API. Every wait is on a locator or a page condition.

Runs the panel build of this checkout: build it with ``jupyter-builder build .`` in
``labextension/`` (``pip install -e .`` does that).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from notebook_js import READY
from panel_fixtures import HAS_PLUGIN, dialogs, wait_until, write_notebook  # noqa: F401
from test_panel_browser import run_all_cells

pytestmark = pytest.mark.flink

RUN = "flink-demo"
CELLS = [
    "%load_ext streamlab",
    "import numpy as np, pandas as pd\n"
    "import streamlab as sl\n"
    "cluster = sl.flink.cluster()\n"
    "rng = np.random.default_rng(0)\n"
    "df = pd.DataFrame({'ts': np.sort(rng.integers(0, 20_000, 400)), 'k': rng.choice(list('abcd'), 400),\n"
    "                   'v': rng.integers(0, 8, 400) * 0.25})\n"
    "res = (sl.from_frame(df, time='ts', unit='ms').watermark('100ms')\n"
    "       .window(sl.Tumble('1s'), by='k').agg(n=('v', 'size')))\n"
    f"run = res.on_flink(cluster, continuous=True, late=False, name={RUN!r})\n"
    "run.wait_submitted()\n"
    "run",
]
CARD = f"{RUN}@flink"

# a cell of the Flink card's table, by its row header ('' when absent)
FLINK_CELL = """([name, label]) => {
  const card = [...document.querySelectorAll('#streamlab-panel section')]
    .find(s => s.getAttribute('aria-label') === 'Flink job ' + name);
  if (!card) return '';
  const row = [...card.querySelectorAll('tr')].find(tr => tr.querySelector('th')?.textContent === label);
  return row ? row.querySelector('td').textContent : '';
}"""
CELL_IS = f"([name, label, want]) => ({FLINK_CELL})([name, label]) === want"
RECORDS_IN = f"""([name, n]) => {{
  const t = ({FLINK_CELL})([name, 'records in']).replace(/,/g, '');
  return t !== '' && Number(t) >= n;
}}"""


def rest(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_panel_shows_the_flink_job_and_stop_cancels_it(lab, page, dialogs):  # noqa: F811
    from playwright.sync_api import expect

    name = write_notebook(lab.root, CELLS, "flink-panel.ipynb")
    page.goto(lab.page_url(name))
    page.wait_for_function(READY, timeout=180_000, polling=250)
    assert page.evaluate(HAS_PLUGIN), "the streamlab lab extension is not installed"
    page.get_by_role("tab", name="streamlab: live pipelines").click()
    panel = page.locator("#streamlab-panel")
    expect(panel).to_be_visible()
    cluster_url = ""
    try:
        run_all_cells(page)

        card = panel.get_by_role("region", name=f"Flink job {CARD}")
        expect(card).to_be_visible(timeout=30_000)
        expect(card).to_have_attribute("data-state", "running")
        link = card.get_by_role("link")
        expect(link).to_have_text(re.compile(r"^[0-9a-f]{32}$"), timeout=30_000)
        job_id = link.inner_text()
        href = link.get_attribute("href") or ""
        cluster_url = href.split("/#/")[0]
        assert href == f"{cluster_url}/#/job/running/{job_id}/overview"
        assert link.get_attribute("target") == "_blank"
        # Flink's own view of the job, from its REST API, as the panel shows it
        wait_until(page, CELL_IS, [CARD, "Flink state", "RUNNING"], 30_000, "Flink state RUNNING")
        assert rest(f"{cluster_url}/jobs/{job_id}")["state"] == "RUNNING"
        wait_until(page, RECORDS_IN, [CARD, 400], 60_000, "records in from Flink's metrics (400 rows)")
        buttons = card.get_by_role("button")
        expect(buttons).to_have_count(1)
        stop = card.get_by_role("button", name="Stop", exact=True)
        expect(stop).to_be_enabled()

        stop.click()
        expect(card).to_have_attribute("data-state", "stopped", timeout=20_000)
        expect(stop).to_be_disabled()
        wait_until(page, CELL_IS, [CARD, "Flink state", "CANCELED"], 20_000, "Flink state CANCELED")
        assert rest(f"{cluster_url}/jobs/{job_id}")["state"] == "CANCELED"
        assert dialogs == []
        print(f"\nFlink job {job_id} shown and canceled from the panel")
    finally:  # the kernel's cluster: stop it now (the server's shutdown would, too)
        page.evaluate("""() => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel
          .requestExecute({code: 'cluster.stop()'}); return true; }""")
        if cluster_url:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    rest(f"{cluster_url}/overview")
                except OSError:
                    break
                time.sleep(0.5)
