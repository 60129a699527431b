"""A Flink session cluster for the notebook: ``sl.flink.cluster()`` starts one, ``connect()`` attaches.

``cluster()`` starts a standalone JobManager and TaskManager from a Flink distribution (``FLINK_HOME``,
or the ``pyflink`` folder of streamlab's Flink virtualenv, created on first use by
``scripts/setup-flink.sh``). It binds 127.0.0.1 on free ports, with a private configuration
directory, and is stopped by ``stop()`` or when the interpreter (kernel) exits; a watchdog process
(:mod:`streamlab.flink.watchdog`) stops it when the kernel dies without exiting (SIGKILL, a crash).
The handle talks to the cluster only through its REST API: the kernel never loads a JVM.

>>> c = connect("127.0.0.1:8081")       # attach to a running cluster (nothing is started)
>>> c.web_url
'http://127.0.0.1:8081'
"""

from __future__ import annotations

import atexit
import html
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 120.0
WATCHDOG = Path(__file__).with_name("watchdog.py")
_live: weakref.WeakSet[LocalCluster] = weakref.WeakSet()
_default: list[FlinkCluster] = []


class FlinkError(RuntimeError):
    """Flink said no (or could not be reached); the message is Flink's own where there is one."""


# --- finding Flink ------------------------------------------------------------------------------
def repo_root() -> Path:
    """The folder that holds the ``streamlab`` package (and ``.venv-flink``, ``scripts/``)."""
    return Path(__file__).resolve().parents[2]


def flink_venv() -> Path:
    """streamlab's Flink virtualenv: ``$STREAMLAB_FLINK_VENV`` or ``<repo>/.venv-flink``."""
    return Path(os.environ.get("STREAMLAB_FLINK_VENV") or repo_root() / ".venv-flink")


def flink_python(setup: bool = True) -> Path:
    """The Python of the Flink virtualenv (created with progress shown when missing and ``setup``)."""
    py = flink_venv() / "bin" / "python"
    if not py.exists() and setup:
        setup_flink_venv()
    if not py.exists():
        raise FlinkError(f"no Flink virtualenv at {flink_venv()}: run `bash scripts/setup-flink.sh`")
    return py


def setup_flink_venv() -> None:
    """Run ``scripts/setup-flink.sh`` (about a minute, 840 MB), echoing its progress lines."""
    script = repo_root() / "scripts" / "setup-flink.sh"
    if not script.exists():
        raise FlinkError(f"{script} is missing: install apache-flink into a virtualenv and set "
                         "STREAMLAB_FLINK_VENV or FLINK_HOME")
    env = dict(os.environ, STREAMLAB_FLINK_VENV=str(flink_venv()))
    proc = subprocess.Popen(["bash", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    assert proc.stdout is not None
    t0 = time.monotonic()
    for line in proc.stdout:
        print(f"[{time.monotonic() - t0:5.0f} s] {line.rstrip()}", flush=True)
    if proc.wait() != 0:
        raise FlinkError(f"scripts/setup-flink.sh failed (exit {proc.returncode})")


def flink_home(setup: bool = True) -> Path:
    """The Flink distribution: ``$FLINK_HOME``, else the ``pyflink`` folder of the Flink virtualenv."""
    if os.environ.get("FLINK_HOME"):
        return Path(os.environ["FLINK_HOME"])
    py = flink_python(setup)
    found = sorted((py.parent.parent / "lib").glob("python3*/site-packages/pyflink/bin"))
    if not found:
        raise FlinkError(f"{flink_venv()} has no pyflink/bin: is apache-flink installed there?")
    return found[0].parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the handle ---------------------------------------------------------------------------------
class FlinkCluster:
    """A Flink session cluster reached through its REST API (``host:port``).

    Shows (``repr`` and in Jupyter) the web UI link, the task slots and the running jobs.
    """

    def __init__(self, address: str):
        host, _, port = address.replace("http://", "").rstrip("/").partition(":")
        self.host, self.port = host or "127.0.0.1", int(port or 8081)
        #: Folder for the files handed to jobs (a path the cluster can read).
        self.workdir: Path | None = None

    @property
    def web_url(self) -> str:
        """The Flink web UI (and REST API) address."""
        return f"http://{self.host}:{self.port}"

    def job_url(self, job_id: str, ended: bool = False) -> str:
        """The web UI page of one job (``ended``: under the UI's completed jobs)."""
        return f"{self.web_url}/#/job/{'completed' if ended else 'running'}/{job_id}/overview"

    def rest(self, path: str, method: str = "GET", timeout: float = 5.0) -> Any:
        """Call the REST API; returns the decoded JSON. Errors are :class:`FlinkError`."""
        req = urllib.request.Request(self.web_url + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                body = r.read()
        except urllib.error.HTTPError as e:
            raise FlinkError(f"{method} {path}: HTTP {e.code} {e.read()[:500]!r}") from None
        except (OSError, urllib.error.URLError) as e:
            raise FlinkError(f"Flink at {self.web_url} is unreachable: {e}") from None
        return json.loads(body) if body else {}

    def overview(self) -> dict:
        """``/overview``: taskmanagers, slots-total, slots-available, jobs-running ..."""
        return self.rest("/overview")

    def jobs(self) -> list[dict]:
        """The jobs of the cluster (``/jobs/overview``): jid, name, state, start-time ..."""
        return list(self.rest("/jobs/overview").get("jobs", []))

    def running_jobs(self) -> list[dict]:
        return [j for j in self.jobs() if j.get("state") in ("RUNNING", "CREATED", "INITIALIZING")]

    @property
    def alive(self) -> bool:
        try:
            self.overview()
        except FlinkError:
            return False
        return True

    def has_jar(self, prefix: str) -> bool | None:
        """Whether the cluster's ``lib/`` has a jar named ``prefix*`` (None: cannot tell, remote)."""
        return None

    def stop(self) -> None:
        """Nothing to stop for a cluster this process did not start."""

    def _summary(self) -> tuple[str, str, list[dict]]:
        try:
            ov = self.overview()
            slots = f"{ov.get('slots-available', '?')} of {ov.get('slots-total', '?')} task slots free, " \
                    f"{ov.get('taskmanagers', '?')} TaskManager(s)"
            jobs = self.running_jobs()
        except FlinkError as e:
            slots, jobs = f"unreachable ({e})", []
        return type(self).__name__, slots, jobs

    def __repr__(self) -> str:
        kind, slots, jobs = self._summary()
        lines = [f"<{kind} {self.web_url}: {slots}, {len(jobs)} running job(s)>"]
        lines += [f"  {j['jid']} {j.get('state')} {j.get('name')}" for j in jobs]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        kind, slots, jobs = self._summary()
        rows = "".join(f"<li><a href='{self.job_url(j['jid'])}' target='_blank'>{j['jid']}</a> "
                       f"{html.escape(str(j.get('state')))} {html.escape(str(j.get('name')))}</li>"
                       for j in jobs)
        return (f"<b>{kind}</b> <a href='{self.web_url}' target='_blank'>{self.web_url}</a> (web UI)"
                f"<br>{html.escape(slots)}<br>{len(jobs)} running job(s)<ul>{rows}</ul>")


class LocalCluster(FlinkCluster):
    """A standalone session cluster started by this process (see :func:`cluster`)."""

    def __init__(self, home: Path, slots: int = 4, taskmanagers: int = 1, workdir: Path | None = None):
        self.home = Path(home)
        self.dir = Path(tempfile.mkdtemp(prefix="streamlab-flink-"))
        super().__init__(f"127.0.0.1:{free_port()}")
        self.workdir = Path(workdir) if workdir else self.dir / "data"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.slots, self.taskmanagers = slots, taskmanagers
        self.procs: list[subprocess.Popen] = []
        #: Ends the JVMs if this process dies without stopping them (see :mod:`.watchdog`).
        self.watchdog: subprocess.Popen | None = None
        self._watch_fd: int | None = None
        self.conf_dir = self._write_conf()

    def _write_conf(self) -> Path:
        conf = self.dir / "conf"
        shutil.copytree(self.home / "conf", conf)
        base = (self.home / "conf" / "config.yaml").read_text()
        java_opts = _java_opts(base)
        settings = {
            "jobmanager.rpc.address": "127.0.0.1", "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.rpc.port": free_port(), "jobmanager.memory.process.size": "1024m",
            "taskmanager.host": "127.0.0.1", "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.rpc.port": free_port(), "taskmanager.data.port": free_port(),
            "taskmanager.numberOfTaskSlots": self.slots, "taskmanager.memory.process.size": "1600m",
            "rest.address": "127.0.0.1", "rest.bind-address": "127.0.0.1", "rest.port": self.port,
            "blob.server.port": free_port(), "parallelism.default": 1,
            "pipeline.auto-watermark-interval": "0 ms", "table.local-time-zone": "UTC",
            "heartbeat.interval": 2000, "heartbeat.timeout": 8000,
            "metrics.fetcher.update-interval": 1000,  # the views' records in/out: 1 s, not 10 s
        }
        text = "".join(f"{k}: {json.dumps(v) if isinstance(v, str) else v}\n" for k, v in settings.items())
        if java_opts:
            text += f"env.java.opts.all: {json.dumps(java_opts)}\n"
        (conf / "config.yaml").write_text(text)
        return conf

    def start(self, timeout: float = START_TIMEOUT_S, wait: bool = True) -> LocalCluster:
        """Start the JobManager and TaskManager(s); wait until every slot is registered.

        ``wait=False`` returns at once: the first job's driver waits for the cluster itself, so
        its own start overlaps the cluster's.
        """
        env = dict(os.environ, FLINK_HOME=str(self.home), FLINK_CONF_DIR=str(self.conf_dir),
                   FLINK_LOG_DIR=str(self.dir / "log"), FLINK_PID_DIR=str(self.dir))
        (self.dir / "log").mkdir(exist_ok=True)
        roles = ["jobmanager"] + ["taskmanager"] * self.taskmanagers
        for i, role in enumerate(roles):
            out = open(self.dir / "log" / f"{role}-{i}.out", "wb")
            self.procs.append(subprocess.Popen(
                ["bash", str(self.home / "bin" / f"{role}.sh"), "start-foreground"], env=env,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True))
            out.close()
        self._start_watchdog()
        _live.add(self)
        return self.wait_ready(timeout) if wait else self

    def _start_watchdog(self) -> None:
        """A process that ends the JVMs' process groups once this process's end of a pipe closes
        (this process died, even by SIGKILL, or :meth:`stop` closed it)."""
        read, write = os.pipe()  # neither end is inherited by later children (PEP 446)
        try:
            with open(self.dir / "log" / "watchdog.out", "wb") as out:
                self.watchdog = subprocess.Popen(
                    [sys.executable, str(WATCHDOG), *(str(p.pid) for p in self.procs)], stdin=read,
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            os.close(read)
        self._watch_fd = write

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> LocalCluster:
        """Block until every task slot is registered (the processes must be running)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    self.stop()
                    raise FlinkError(f"a Flink process exited with {p.returncode} while starting; "
                                     f"logs in {self.dir / 'log'}")
            try:
                if self.overview().get("slots-total", 0) >= self.slots * self.taskmanagers:
                    return self
            except FlinkError:
                pass
            time.sleep(0.5)
        self.stop()
        raise FlinkError(f"the Flink cluster did not come up within {timeout:.0f} s; logs in "
                         f"{self.dir / 'log'}")

    @property
    def running(self) -> bool:
        """Whether its processes run (it may still be starting)."""
        return bool(self.procs) and all(p.poll() is None for p in self.procs)

    def has_jar(self, prefix: str) -> bool | None:
        return any(self.home.joinpath("lib").glob(prefix + "*.jar"))

    def kill(self) -> None:
        """Kill the cluster's processes at once (SIGKILL), as a crash would (for tests)."""
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, 9)

    def stop(self) -> None:
        """Stop the TaskManagers and the JobManager (and every job on them)."""
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, 15)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.wait()
        self.procs = []
        if self._watch_fd is not None:  # the watchdog reads EOF, finds nothing left and exits
            os.close(self._watch_fd)
            self._watch_fd = None
        if self.watchdog is not None:
            try:
                self.watchdog.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.watchdog.kill()
                self.watchdog.wait()
            self.watchdog = None
        _live.discard(self)
        if _default and _default[0] is self:
            _default.clear()

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _java_opts(config_yaml: str) -> str:
    """The ``env.java.opts.all`` value of the wheel's config (the JDK 17 --add-opens flags)."""
    for line in config_yaml.splitlines():
        if line.strip().startswith("all: --add"):
            return line.split("all:", 1)[1].strip()
    return ""


def cluster(slots: int = 4, taskmanagers: int = 1, workdir=None, new: bool = False,
            wait: bool = True) -> FlinkCluster:
    """Start (or return the running) local standalone Flink session cluster; about 20 s to start.

    ``wait=False`` returns while it starts (the first ``on_flink`` waits for it).

    >>> c = cluster()                     # doctest: +SKIP
    >>> run = res.on_flink(c)             # doctest: +SKIP
    >>> c.stop()                          # doctest: +SKIP
    """
    old = _default[0] if _default else None
    if not new and isinstance(old, LocalCluster) and old.running:
        return old
    c = LocalCluster(flink_home(), slots=slots, taskmanagers=taskmanagers, workdir=workdir)
    c.start(wait=wait)
    _default[:] = [c]
    return c


def connect(address: str = "127.0.0.1:8081", workdir=None) -> FlinkCluster:
    """Attach to a running Flink session cluster (standalone, YARN or Kubernetes) by REST address.

    ``workdir`` is a folder the cluster can read, where inputs are written for its jobs.
    """
    c = FlinkCluster(address)
    c.workdir = Path(workdir) if workdir else None
    _default[:] = [c]
    return c


def current() -> FlinkCluster:
    """The cluster of the last ``cluster()`` / ``connect()`` (used by ``%%streamlab --flink``)."""
    if not _default:
        raise FlinkError("no Flink cluster: call sl.flink.cluster() or sl.flink.connect('host:8081') first")
    return _default[0]


@atexit.register
def _stop_all() -> None:
    for c in list(_live):
        try:
            c.stop()
        except Exception as e:  # noqa: BLE001 - best effort at exit
            print(f"streamlab: stopping Flink at {c.web_url}: {e}", file=sys.stderr)
