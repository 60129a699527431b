"""Fixtures for browser tests: a throwaway JupyterLab server and Debian's chromium via playwright.

Known traps are in TESTING.md: run as root needs --allow-root, the news toast is turned off with
an overrides.json, the server is stopped through its own process handle, and chromium comes from
apt (never ``playwright install``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("STREAMLAB_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
NO_NEWS = {"@jupyterlab/apputils-extension:notification": {
    "fetchNews": "false", "checkForUpdates": False}}


@dataclass
class Lab:
    """A running JupyterLab: where it serves, its token, its root dir and its log."""

    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen

    def page_url(self, path: str) -> str:
        """URL opening ``path`` in a fresh workspace, so no tab of an earlier test comes back."""
        return f"{self.url}/lab/workspaces/t-{secrets.token_hex(4)}/tree/{path}?token={self.token}"

    def log_tail(self, n: int = 60) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(lab: Lab, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    status = f"{lab.url}/api/status?token={lab.token}"
    while True:
        if lab.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {lab.process.returncode}:\n"
                               f"{lab.log_tail()}")
        try:
            with urllib.request.urlopen(status, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{lab.log_tail()}")
        time.sleep(0.2)  # polling a server that is starting, not waiting on the page


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab on 127.0.0.1 with a copy of the notebooks, stopped by its process handle."""
    base = tmp_path_factory.mktemp("lab")
    root, settings, workspaces = base / "root", base / "settings", base / "workspaces"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings.mkdir()
    workspaces.mkdir()
    (settings / "overrides.json").write_text(json.dumps(NO_NEWS))
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(workspaces),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    })
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={workspaces}", f"--LabApp.app_settings_dir={settings}",
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   cwd=str(root), stdin=subprocess.DEVNULL)
    server = Lab(f"http://127.0.0.1:{port}", token, root, log, process)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        process.terminate()  # SIGTERM: the server shuts its kernels down
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium driven by playwright (no downloaded browser, no video, no trace).

    Module-scoped on purpose: while playwright's sync API is started, the main thread reports a
    running asyncio loop that runs nothing, which would mislead later loop-aware tests.
    """
    from playwright import sync_api

    if not CHROMIUM.exists():  # CI installs it (.ci/run); a missing browser must not pass quietly
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("STREAMLAB_SKIP_BROWSER") == "1":
            pytest.skip(message + " (skipped: STREAMLAB_SKIP_BROWSER=1)")
        pytest.fail(message)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, tmp_path: Path, request: pytest.FixtureRequest):
    """A fresh page; on failure its screenshot and console log are kept in ``tmp_path``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.console_log = console  # type: ignore[attr-defined]
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot = tmp_path / "failure.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
        except Exception as exc:  # the page may be gone; the log still helps
            console.append(f"(no screenshot: {exc})")
        (tmp_path / "console.log").write_text("\n".join(console))
        print(f"\nbrowser failure artefacts in {tmp_path}")
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the test item, so fixtures can see a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
