"""The operator graph of a pipeline snapshot as an SVG string, with live counters (no graphviz).

Operators are laid out left to right by their depth (longest path from a source); each box shows
the label, the kind, rows in/out, late, errors and events per second; a join's box also shows each
input's watermark and the rows it holds (in all, and for the keys holding most).

>>> ops = [{"id": "op-1", "kind": "source", "label": "sensors", "upstreams": [],
...         "counters": {"in": 0, "out": 1500}, "events_per_s": 1000.0},
...        {"id": "op-2", "kind": "window", "label": "Hop(10s, 1s)", "upstreams": ["op-1"],
...         "counters": {"in": 1500, "out": 8, "late": 2, "errors": 0}}]
>>> svg = render_svg(ops)
>>> svg.startswith("<svg") and "Hop(10s, 1s)" in svg and "1.5k" in svg
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 214, 76, 30, 14, 6
SIDE_H = 16  # one more line per join input
COLORS = {
    "source": "#dbeafe", "watermark": "#e0e7ff", "where": "#f3f4f6", "assign": "#f3f4f6",
    "window": "#dcfce7", "streamz": "#fef9c3", "sink": "#fce7f3", "join": "#ffedd5",
}


def join_side_lines(op: Mapping[str, Any]) -> list[str]:
    """For a join: one line per input with its watermark and the rows it holds (top keys).

    >>> join_side_lines({"state": {"join": "interval", "left": {"watermark": 1500, "held": 3,
    ...                  "keys_held": {"a": 2, "b": 1}}, "right": {"watermark": None, "held": 0}}})
    ['L wm 00:00:01.500 · held 3 (a 2, b 1)', 'R wm – · held 0']
    """
    state = op.get("state") or {}
    if "join" not in state or not isinstance(state.get("left"), Mapping):
        return []
    lines = []
    for tag, name in (("L", "left"), ("R", "right")):
        s = state.get(name) or {}
        wm = s.get("watermark")
        text = s.get("watermark_text")
        if wm is None:
            when = "–"
        elif text and "T" in str(text):
            when = str(text).split("T", 1)[1].rstrip("Z")
        elif text:
            when = str(text)
        else:
            when = _clock(int(wm))
        keys = list((s.get("keys_held") or {}).items())[:3]
        top = f" ({', '.join(f'{k} {n}' for k, n in keys)})" if keys else ""
        lines.append(f"{tag} wm {when} · held {compact(s.get('held'))}{top}")
    return lines


def _clock(ms: int) -> str:
    day = ms % 86_400_000
    return f"{day // 3_600_000:02d}:{day // 60_000 % 60:02d}:{day // 1000 % 60:02d}.{day % 1000:03d}"


def compact(n: float | int | None) -> str:
    """Short number text: 950, 1.2k, 3.4M.

    >>> compact(950), compact(1234), compact(3_400_000), compact(None)
    ('950', '1.2k', '3.4M', '–')
    """
    if n is None:
        return "–"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f}{suffix}"
    return f"{n:.0f}" if isinstance(n, float) else str(n)


def layout(ops: Iterable[Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
    """Operator id -> (column, row): column = longest path from a source, rows in given order.

    >>> layout([{"id": "a"}, {"id": "b", "upstreams": ["a"]}, {"id": "c", "upstreams": ["a"]}])
    {'a': (0, 0), 'b': (1, 0), 'c': (1, 1)}
    """
    ops = list(ops)
    ids = {op["id"] for op in ops}
    ups = {op["id"]: [u for u in op.get("upstreams") or [] if u in ids] for op in ops}
    depth: dict[str, int] = {}

    def depth_of(i: str, seen: frozenset[str] = frozenset()) -> int:
        if i not in depth:
            parents = [u for u in ups[i] if u not in seen]  # tolerate cycles
            depth[i] = 1 + max((depth_of(u, seen | {i}) for u in parents), default=-1)
        return depth[i]

    rows: dict[int, int] = {}
    out = {}
    for op in ops:
        col = depth_of(op["id"])
        out[op["id"]] = (col, rows.get(col, 0))
        rows[col] = rows.get(col, 0) + 1
    return out


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _box(op: Mapping[str, Any], x: int, y: int, height: int = BOX_H) -> str:
    c = op.get("counters") or {}
    label = str(op.get("label") or op.get("id"))
    title, _, detail = label.partition(": ")  # "Hop(10s, 1s) by key: avg=mean(v)"
    kind = str(op.get("kind", ""))
    late, errors = c.get("late", 0) or 0, c.get("errors", 0) or 0
    rate = op.get("events_per_s")
    counts = f"in {compact(c.get('in'))} · out {compact(c.get('out'))}"
    if rate is not None:
        counts += f" · {compact(rate)}/s"
    bad = ' fill="#b91c1c"' if late or errors else ""
    lines = [
        f'<text x="{x + 8}" y="{y + 17}" font-weight="600">{escape(_clip(title, 30))}</text>',
        f'<text x="{x + 8}" y="{y + 33}" fill="#475569">'
        f"{escape(_clip(detail or kind, 34))}</text>",
        f'<text x="{x + 8}" y="{y + 50}">{escape(counts)}</text>',
        f'<text x="{x + 8}" y="{y + 66}"{bad}>late {compact(late)} · errors {compact(errors)}'
        "</text>",
    ]
    for n, line in enumerate(join_side_lines(op)):
        lines.append(f'<text x="{x + 8}" y="{y + 82 + n * SIDE_H}" class="sl-join-side">'
                     f"{escape(_clip(line, 36))}</text>")
    tip = escape(f"{op.get('id')} ({kind}): {label}")
    return (
        f'<g class="sl-op" data-op="{escape(str(op.get("id")))}"><title>{tip}</title>'
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{height}" rx="6" '
        f'fill="{COLORS.get(kind, "#f3f4f6")}" stroke="#64748b"/>{"".join(lines)}</g>'
    )


def render_svg(ops: list[Mapping[str, Any]], uid: str = "0") -> str:
    """SVG markup for the snapshot's ``operators`` list (scales down to its container).

    ``uid`` keeps the arrow marker id unique when several graphs share a page.
    """
    if not ops:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"></svg>'
    pos = layout(ops)
    box_h = BOX_H + (2 * SIDE_H if any(join_side_lines(op) for op in ops) else 0)
    xy = {i: (PAD + c * (BOX_W + GAP_X), PAD + r * (box_h + GAP_Y)) for i, (c, r) in pos.items()}
    width = max(x for x, _ in xy.values()) + BOX_W + PAD
    height = max(y for _, y in xy.values()) + box_h + PAD
    marker = f"sl-arrow-{escape(uid)}"
    edges = []
    for op in ops:
        x2, y2 = xy[op["id"]]
        for up in op.get("upstreams") or []:
            if up not in xy:
                continue
            x1, y1 = xy[up][0] + BOX_W, xy[up][1] + box_h // 2
            ym = y2 + box_h // 2
            mid = (x1 + x2) / 2
            edges.append(f'<path d="M{x1},{y1} C{mid},{y1} {mid},{ym} {x2 - 2},{ym}" '
                         f'fill="none" stroke="#64748b" marker-end="url(#{marker})"/>')
    boxes = "".join(_box(op, *xy[op["id"]], height=box_h) for op in ops)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="streamlab-graph" role="img" '
        f'aria-label="operator graph" viewBox="0 0 {width} {height}" width="{width}" '
        f'style="max-width:100%;height:auto" font-family="sans-serif" font-size="11">'
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#64748b"/></marker>'
        f"</defs>{''.join(edges)}{boxes}</svg>"
    )
