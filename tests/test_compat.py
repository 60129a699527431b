"""What streamlab relies on from its dependencies beyond their public API, checked against the
installed versions: each failure names the dependency and the name or behaviour that changed.

streamlab.viz uses no private name of jupyter_bokeh or bokeh; the two undocumented behaviours
of ``jupyter_bokeh.BokehModel`` it needs are used from :mod:`streamlab.viz.compat` only (see its
docstring) and are checked here, with the version pins in pyproject.toml that they were tested
under. Private names of streamz and ipywidgets still used elsewhere in streamlab are checked too.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import bokeh.document.events
import ipywidgets
import jupyter_bokeh  # noqa: F401 - a missing test dependency must fail, not skip
import numpy as np
import pandas as pd
import pytest
import streamz
import streamz.sinks
from bokeh.document import Document
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure
from jupyter_bokeh import BokehModel
from packaging.requirements import Requirement

import streamlab
from streamlab.viz import compat
from streamlab.viz.batched import BatchedBokehModel
from streamlab.widgets.testing import dummy_comms

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(streamlab.__file__).resolve().parent

# Dependencies whose internals streamlab relies on: their range must be closed above.
PINNED = ("jupyter_bokeh", "bokeh", "ipywidgets", "streamz")


def _pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    reqs = [Requirement(line) for line in lines]
    return {_norm(r.name): r for r in reqs if not r.name.startswith("streamlab")}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


REQUIREMENTS = _pyproject_requirements()


# ------------------------------------------------------------------------------- version pins
@pytest.mark.parametrize("dist", PINNED)
def test_pinned_dependency_has_a_closed_range_that_holds_the_installed_version(dist):
    req = REQUIREMENTS.get(dist)
    assert req is not None, f"{dist} is not a dependency in pyproject.toml"
    spec = req.specifier
    assert any(s.operator in ("<", "<=", "==", "~=") for s in spec), (
        f"{dist}: pyproject.toml must pin an upper bound ({req}): streamlab relies on its "
        "internals (see tests/test_compat.py)")
    installed = version(dist)
    assert spec.contains(installed, prereleases=True), (
        f"{dist} {installed} is installed but pyproject.toml pins {req}: the internals streamlab "
        f"relies on are only known to hold inside that range. Run tests/test_compat.py against "
        f"{dist} {installed}, fix what it reports, then move the pin.")


def test_tested_versions_in_compat_are_inside_the_pins():
    for dist, tested in compat.TESTED.items():
        assert REQUIREMENTS[dist].specifier.contains(tested), (
            f"streamlab.viz.compat says it was tested with {dist} {tested}, outside the pin "
            f"{REQUIREMENTS[dist]} in pyproject.toml")


def test_binder_environment_pins_the_same_ranges_as_pyproject():
    # (jupyterlab differs on purpose: binder builds the side panel against 4.6)
    listed = {}
    for line in (ROOT / "binder" / "environment.yml").read_text().splitlines():
        m = re.match(r"\s*-\s*([A-Za-z0-9_.\-]+)\s*([<>=!~][^#\s]*)?", line)
        if m and _norm(m.group(1)) in REQUIREMENTS:
            listed[_norm(m.group(1))] = Requirement(m.group(1) + (m.group(2) or ""))
    for dist in PINNED:
        assert dist in listed, f"{dist}: missing from binder/environment.yml"
        assert listed[dist].specifier == REQUIREMENTS[dist].specifier, (
            f"{dist}: binder/environment.yml pins {listed[dist]} but pyproject.toml "
            f"{REQUIREMENTS[dist]}")


# ------------------------------------------------------ jupyter_bokeh and bokeh: API used by viz
@pytest.mark.parametrize(("owner", "name", "params"), [
    (BokehModel, "__init__", ["self", "model"]),
    (BokehModel, "update_from_model", ["self", "model"]),
    (BokehModel, "close", ["self"]),
    (Document, "on_change", ["self", "*callbacks"]),
    (Document, "remove_on_change", ["self", "*callbacks"]),
    (Document, "on_change_dispatch_to", ["self", "receiver"]),
    (Document, "hold", ["self", "policy"]),
    (Document, "unhold", ["self"]),
])
def test_bokeh_and_jupyter_bokeh_methods_streamlab_calls_keep_their_signature(owner, name, params):
    dist = "jupyter_bokeh" if owner is BokehModel else "bokeh"
    where = f"{dist}: {owner.__module__}.{owner.__name__}.{name}"
    assert hasattr(owner, name), f"{where} is gone (streamlab.viz.compat / batched.py call it)"
    got = [("*" if p.kind is p.VAR_POSITIONAL else "") + p.name
           for p in inspect.signature(getattr(owner, name)).parameters.values()
           if p.kind is not p.VAR_KEYWORD]
    assert got == params, f"{where} changed signature: {got}, expected {params}"


def test_bokeh_document_pieces_used_by_batched_exist():
    doc = Document()
    assert callable(getattr(doc.models, "freeze", None)), "bokeh: Document.models.freeze() is gone"
    assert "setter" in inspect.signature(bokeh.document.events.DocumentPatchedEvent).parameters, (
        "bokeh: DocumentPatchedEvent no longer takes a setter (batched() filters on it)")
    assert "render_bundle" in BokehModel.class_trait_names(), (
        "jupyter_bokeh: BokehModel.render_bundle trait is gone")


# --------------------------------------------------------- jupyter_bokeh: behaviours compat uses
def _shown():
    """A BatchedBokehModel (outside ``batched()`` it is a plain jupyter_bokeh BokehModel)."""
    src = ColumnDataSource({"x": np.arange(3.0)})
    fig = figure()
    fig.line("x", "x", source=src)
    with dummy_comms() as comms:
        widget = BatchedBokehModel(fig)
    return widget, comms[-1], src, fig.document


def test_bokeh_model_is_its_documents_change_receiver_keyed_by_itself():
    widget, comm, src, doc = _shown()
    comm.messages.clear()
    try:
        doc.remove_on_change(widget)
    except KeyError:
        pytest.fail("jupyter_bokeh: BokehModel no longer registers itself with "
                    "Document.on_change_dispatch_to(widget); streamlab.viz.compat.paused_dispatch "
                    "cannot pause its per-change patches")
    src.stream({"x": np.arange(2.0)})
    assert not comm.customs(), (
        "jupyter_bokeh: BokehModel still sends document changes after "
        "Document.remove_on_change(widget): it no longer receives them as that receiver")
    doc.on_change_dispatch_to(widget)
    src.stream({"x": np.arange(2.0)})
    assert comm.customs(), ("jupyter_bokeh: BokehModel sends nothing after "
                            "Document.on_change_dispatch_to(widget)")
    BokehModel.close(widget)
    with pytest.raises(KeyError):  # jupyter_bokeh's close() takes it off the document the same way
        doc.remove_on_change(widget)
    widget.close()  # closing again (garbage collection does) must not raise that KeyError


@pytest.mark.parametrize("rows", [3, 2000], ids=["no-buffers", "buffers"])
def test_patch_messages_match_what_jupyter_bokeh_sends_for_one_event(rows):
    widget, comm, src, doc = _shown()
    events = []
    doc.on_change(events.append)
    comm.messages.clear()
    comm.buffers.clear()
    src.stream({"x": np.arange(float(rows))})
    assert len(events) == 1
    sent = [(m["content"], b) for m, b in zip(comm.messages, comm.buffers)]
    ours = compat.patch_messages(events)
    assert _normalised(ours) == _normalised(sent), (
        "jupyter_bokeh: the {'msg': 'patch'} messages BokehModel sends for a document change "
        "changed; streamlab.viz.compat.patch_messages must build the new sequence")
    widget.close()


def _normalised(messages):
    """The messages, payloads parsed, with generated ids (message, buffers) replaced by order."""
    ids: dict[str, str] = {}
    for content, _ in messages:
        head = json.loads(content.get("payload", "null"))
        if isinstance(head, dict) and ("msgid" in head or set(head) == {"id"}):
            ident = head.get("msgid", head.get("id"))
            ids.setdefault(ident, f"ID{len(ids)}")

    def renamed(value):
        if isinstance(value, dict):
            return {k: renamed(v) for k, v in value.items()}
        if isinstance(value, list):
            return [renamed(v) for v in value]
        return ids.get(value, value) if isinstance(value, str) else value

    out = []
    for content, buffers in messages:
        parsed = {k: (renamed(json.loads(v)) if k == "payload" else v) for k, v in content.items()}
        out.append((parsed, [bytes(b) for b in buffers] if buffers else None))
    return out


def test_batched_sends_one_patch_and_the_widget_keeps_receiving_afterwards():
    widget, comm, src, doc = _shown()
    comm.messages.clear()
    with widget.batched():
        src.stream({"x": np.arange(2.0)})
        src.stream({"x": np.arange(2.0)})
    headers = [c for c in comm.customs() if '"msgtype"' in c.get("payload", "")]
    assert len(headers) == 1, f"batched() sent {len(headers)} PATCH-DOC messages, expected 1"
    comm.messages.clear()
    src.stream({"x": np.arange(2.0)})
    assert comm.customs(), "after batched() the widget must send changes again"
    widget.close()
    with widget.batched():  # closed: nothing to pause, nothing sent
        src.stream({"x": np.arange(2.0)})


# ---------------------------------------------------------- no private names of jupyter_bokeh
JUPYTER_BOKEH_PRIVATE = ({n for n in vars(BokehModel) if n.startswith("_") and not n.startswith("__")}
                         | {"_model"}) - set(dir(ipywidgets.DOMWidget))
BOKEH_DISPATCH_HOOKS = set(re.findall(r"hasattr\(receiver, ['\"](_\w+)['\"]\)",
                                      inspect.getsource(bokeh.document.events)))


def test_no_private_name_of_jupyter_bokeh_or_bokeh_hooks_is_used_in_streamlab():
    assert "_model_to_traits" in JUPYTER_BOKEH_PRIVATE and "_document_patched" in BOKEH_DISPATCH_HOOKS
    private = JUPYTER_BOKEH_PRIVATE | BOKEH_DISPATCH_HOOKS
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() == "viz/compat.py":  # the one place allowed
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            name = (node.attr if isinstance(node, ast.Attribute)
                    else node.name if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                    else node.value if isinstance(node, ast.Constant) and node.value in private
                    else None)
            if name in private:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {name}")
    assert not found, ("private jupyter_bokeh/bokeh names used (use the public API, or move the "
                       "use into streamlab/viz/compat.py with a check here):\n" + "\n".join(found))


# --------------------------------------- private names used outside streamlab.viz (to be moved)
@pytest.mark.parametrize(("dist", "owner", "name"), [
    ("streamz", streamz.sinks, "_global_sinks"),
    ("streamz", streamz.Stream, "_graphviz_shape"),
    ("ipywidgets", ipywidgets.Widget, "_handle_msg"),
    ("pandas", pd.arrays.DatetimeArray, "_simple_new"),  # core/timecol: UTC bounds from int64 ms
], ids=lambda v: v if isinstance(v, str) else "")
def test_private_names_used_elsewhere_in_streamlab_still_exist(dist, owner, name):
    users = [str(p.relative_to(PACKAGE.parent)) for p in sorted(PACKAGE.rglob("*.py"))
             if re.search(rf"\b{name}\b", p.read_text())]
    where = f"{dist} {version(dist)}: {getattr(owner, '__name__', owner)}.{name}"
    assert not users or hasattr(owner, name), f"{where} is gone; used by {', '.join(users)}"
    if users and name == "_global_sinks":
        assert isinstance(streamz.sinks._global_sinks, set), (
            f"{where} is no longer a set; {', '.join(users)} add to it")
