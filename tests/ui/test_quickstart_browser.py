"""A real browser runs notebooks/01-quickstart.ipynb in JupyterLab (issue 3, item 7).

The live plot's Bokeh ColumnDataSources must grow, stop growing once the view's Pause button is
pressed, and grow again after Play. Bokeh data is read from the page's documents, not from pixels.
Every wait is on a page condition with a timeout; the whole test has a hard timeout.
"""

from __future__ import annotations

import pytest
from notebook_js import ALL_EXECUTED, CELL_ERRORS, READY, RUN_ALL

NOTEBOOK = "01-quickstart.ipynb"
PLOT_TITLE = "avg_temp by sensor"  # the default title of the quickstart's first live plot

# Rows held by the ColumnDataSources of the documents whose root figure has this title; -1 if
# no such plot is on the page yet.
PLOT_ROWS = """(title) => {
  if (!window.Bokeh || !window.Bokeh.documents) return -1;
  let rows = 0, found = false;
  for (const doc of window.Bokeh.documents) {
    if (!doc.roots().some(r => r.title && r.title.text === title)) continue;
    found = true;
    for (const m of doc.all_models) if (m.type === 'ColumnDataSource') rows += m.get_length();
  }
  return found ? rows : -1;
}"""

GROWN_BEYOND = f"([title, n]) => ({PLOT_ROWS})(title) > n"

# True once the row count has not changed for `ms` milliseconds of page time.
STABLE_FOR = f"""([title, ms]) => {{
  const n = ({PLOT_ROWS})(title), now = performance.now();
  const s = window.__streamlabStable || (window.__streamlabStable = {{n: -2, t: now}});
  if (s.n !== n) {{ s.n = n; s.t = now; }}
  return n >= 0 && now - s.t >= ms;
}}"""

def plot_rows(page) -> int:
    return page.evaluate(PLOT_ROWS, PLOT_TITLE)


def wait_until(page, condition: str, arg, timeout_ms: int, what: str) -> None:
    """Wait for a page condition; on timeout fail with what was expected and the row count."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(condition, arg=arg, timeout=timeout_ms, polling=200)
    except PlaywrightTimeout:
        raise AssertionError(f"{what} within {timeout_ms / 1000:.0f} s (plot rows now "
                             f"{plot_rows(page)}; cell errors {page.evaluate(CELL_ERRORS)})") from None


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_quickstart_plot_grows_stops_on_pause_and_resumes_on_play(lab, page):
    from playwright.sync_api import expect

    page.goto(lab.page_url(NOTEBOOK))
    page.wait_for_function(READY, timeout=180_000, polling=250)
    # Fire and forget: an awaited command promise can hang forever (TESTING.md).
    page.evaluate(RUN_ALL)

    wait_until(page, GROWN_BEYOND, [PLOT_TITLE, 0], 120_000, "the live plot should get rows")
    first = plot_rows(page)
    wait_until(page, GROWN_BEYOND, [PLOT_TITLE, first], 30_000, "the plot should keep growing")
    wait_until(page, ALL_EXECUTED, None, 120_000, "every cell should run")
    assert page.evaluate(CELL_ERRORS) == [], "a quickstart cell failed"
    grown = plot_rows(page)
    wait_until(page, GROWN_BEYOND, [PLOT_TITLE, grown], 30_000,
               "the plot should grow while the kernel is idle")

    view = page.locator(".streamlab-view").first
    # Not exact: the Font Awesome icon's glyph is part of each button's accessible name.
    view.get_by_role("button", name="Pause").click()
    expect(view.locator(".streamlab-status")).to_contain_text("paused", timeout=15_000)
    # Growth stops: no new row for 3 s (the Hop slide is 1 s, so a running plot grows every ~1 s).
    wait_until(page, STABLE_FOR, [PLOT_TITLE, 3000], 30_000,
               "the plot should stop growing after Pause")
    paused = plot_rows(page)
    expect(view.get_by_role("button", name="Play")).to_be_enabled()

    view.get_by_role("button", name="Play").click()
    expect(view.locator(".streamlab-status")).to_contain_text("running", timeout=15_000)
    wait_until(page, GROWN_BEYOND, [PLOT_TITLE, paused], 30_000,
               "the plot should grow again after Play")
    print(f"\nplot rows: first {first}, before pause {grown}, paused at {paused}, "
          f"after play {plot_rows(page)}")
