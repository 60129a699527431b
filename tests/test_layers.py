"""The layers of DESIGN.md §1: every import inside streamlab points down (or stays in its layer),
and the import graph has no cycle. Imports inside functions count too.

    shell       streamlab (package), magics, sql, extension, cli
    front ends  viz, widgets, teach, comm
    production  sinks, kafka, flink, flink_sql, checkpoint
    runtime     runtime
    operators   sources, transforms, windows, joins, ranking, demo
    core        core
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "streamlab"

LAYERS = {  # first dotted part after "streamlab." -> layer number (higher imports lower)
    "core": 0,
    "sources": 1, "transforms": 1, "windows": 1, "demo": 1, "joins": 1, "ranking": 1,
    "runtime": 2,
    "sinks": 3, "kafka": 3, "flink": 3, "flink_sql": 3, "checkpoint": 3,
    "viz": 4, "widgets": 4, "teach": 4, "comm": 4,
    "magics": 5, "sql": 5, "extension": 5, "cli": 5, "": 5,
    # the typed query model that both the SQL magic and the Flink export read
    "sql.plan": 1, "sql.windows": 1, "sql.project": 1,
}
NAMES = {0: "core", 1: "operators", 2: "runtime", 3: "production", 4: "front ends", 5: "shell"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    parts = module.split(".")
    if ".".join(parts[1:3]) in LAYERS:
        return LAYERS[".".join(parts[1:3])]
    key = parts[1] if len(parts) > 1 else ""
    if key not in LAYERS:
        raise AssertionError(f"{module}: no layer assigned; add {key!r} to LAYERS in tests/test_layers.py "
                             "and to DESIGN.md §1")
    return LAYERS[key]


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute streamlab module) for every import in ``path``, lazy ones included."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("streamlab")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("streamlab"):
                continue
            if node.module is None or node.level and not node.module:
                out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, target))
    return out


def known(module: str, modules: set[str]) -> str:
    """The longest prefix of ``module`` that is a streamlab module (``from pkg import name``)."""
    while module not in modules and "." in module:
        module = module.rsplit(".", 1)[0]
    return module


FILES = sorted(p for p in ROOT.rglob("*.py") if "labextension" not in p.parts)
MODULES = {module_name(p) for p in FILES}


def graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for path in FILES:
        src = module_name(path)
        g[src] = {known(t, MODULES) for _, t in imports_of(path)} - {src}
    return g


def test_every_module_has_a_layer():
    for m in MODULES:
        layer_of(m)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_imports_point_down_the_layers(path):
    src = module_name(path)
    up = []
    for line, target in imports_of(path):
        target = known(target, MODULES)
        if layer_of(target) > layer_of(src):
            up.append(f"{path.name}:{line} imports {target} ({NAMES[layer_of(target)]}) from "
                      f"{NAMES[layer_of(src)]}")
    assert not up, "imports that point up the layers:\n" + "\n".join(up)


def test_the_import_graph_has_no_cycle():
    g = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(g.get(m, ())):
            if t == m or t not in g:
                continue
            # a package __init__ re-exporting its own submodules is not a cycle of concern
            if t.startswith(m + "."):
                continue
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if state.get(t) is None:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if state.get(m) is None:
            visit(m)


def test_the_checker_sees_a_lazy_upward_import():
    """The check can fail: an import inside a function is found and resolved."""
    found = [t for _, t in imports_of(ROOT / "core" / "node.py")]
    assert "streamlab.core.timecol" in found
    src = "def f():\n    from ..runtime import Pipeline\n"
    path = ROOT / "core" / "_probe_for_test.py"
    try:
        path.write_text(src)
        assert "streamlab.runtime" in [t for _, t in imports_of(path)]
        assert layer_of("streamlab.runtime") > layer_of("streamlab.core.node")
    finally:
        path.unlink()


def private_sets(path: Path) -> list[str]:
    """``obj._name = ...`` (or ``setattr(obj, "_name", ...)``) where ``obj`` is not ``self``/``cls``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr" \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and str(node.args[1].value).startswith("_") and not str(node.args[1].value).startswith("__"):
            owner = node.args[0]
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append(f"{path.name}:{node.lineno} setattr(..., {node.args[1].value!r})")
        for t in targets:
            for el in (t.elts if isinstance(t, ast.Tuple) else [t]):
                if isinstance(el, ast.Attribute) and el.attr.startswith("_") and not el.attr.startswith("__"):
                    owner = el.value
                    if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                        found.append(f"{path.name}:{el.lineno} sets {ast.unparse(el)}")
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_no_module_sets_another_objects_private_attribute(path):
    assert not private_sets(path), "private attributes set from outside their object:\n" + \
        "\n".join(private_sets(path))
