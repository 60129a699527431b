"""What-if replay: the same recorded events under two window, watermark or lateness settings.

``compare`` records the source once (``collect``), then replays that frame through
``from_frame → watermark → window → agg`` once per setting. Every replayed row carries an
``arrival`` number (its position in the recording, as on the timeline's y axis), so late rows can
be matched across settings.

>>> import pandas as pd, streamlab as sl
>>> df = pd.DataFrame({"ts": [100, 1500, 900, 2600], "k": ["a", "a", "a", "a"]})
>>> cmp = compare(sl.from_frame(df, time="ts", unit="ms"),
...               {"A": dict(window=sl.Tumble(1000), watermark=0),
...                "B": dict(window=sl.Tumble(1000), watermark=1000)},
...               by="k", agg={"n": ("ts", "size")})
>>> cmp.late["A"][["arrival", "ts"]].values.tolist(), len(cmp.late["B"])
([[2, 900]], 0)
>>> cmp.diff[["window_start", "n_A", "n_B", "change"]].values.tolist()
[[0, 1, 2, 'changed']]
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

import numpy as np
import pandas as pd

from ..core.durations import format_ms, to_ms
from ..core.node import Node
from ..sources.frame import from_frame
from ..windows.specs import Cumulate, Hop, Session, Tumble

SETTING_KEYS = ("window", "watermark", "allowed_lateness")
_ONLY, _CHANGED = "#dcfce7", "#fef08a"


class Comparison:
    """Results and late rows of two replays of the same events, and where they differ.

    - ``results[label]``, ``late[label]``: the replay's output rows and late rows (``late`` starts
      with the ``arrival`` number of the row in the recording);
    - ``diff``: result rows that differ: keys, window bounds, ``change`` (``'only A'``,
      ``'only B'`` or ``'changed'``) and each aggregate as ``<name>_<label>``;
    - ``late_diff``: recorded rows late under one setting only (or missing different windows);
    - ``events``: the recording, with its ``arrival`` column.
    """

    def __init__(self, events, settings, by, agg, time, unit, max_rows=30):
        self.events, self.settings, self.by, self.agg = events, settings, by, agg
        self.time, self.unit, self.max_rows = time, unit, max_rows
        self.labels = list(settings)
        self.results: dict[str, pd.DataFrame] = {}
        self.late: dict[str, pd.DataFrame] = {}
        for label in self.labels:
            self.results[label], self.late[label] = self._replay(label)
        self.diff = _diff_results(self.results, self.labels, self._keys(), list(agg))
        self.late_diff = _diff_late(self.late, self.labels)

    def __repr__(self) -> str:
        a, b = self.labels
        return (f"<Comparison {a}: {self.describe(a)} | {b}: {self.describe(b)}; "
                f"{len(self.diff)} result rows differ, {len(self.late_diff)} late rows differ>")

    def _keys(self) -> list[str]:
        return [*self.by, "window_start", "window_end"]

    def pipeline(self, label: str):
        """A fresh replay of the recording under setting ``label`` (not yet run)."""
        s = self.settings[label]
        stream = from_frame(self.events, time=self.time, unit=self.unit)
        if s.get("watermark") is not None:
            stream = stream.watermark(s["watermark"])
        windowed = stream.window(s["window"], by=self.by or None,
                                 allowed_lateness=s.get("allowed_lateness"))
        return windowed.agg(**self.agg)

    def _replay(self, label: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        res = self.pipeline(label)
        frames: list[pd.DataFrame] = []
        res.late.sink(frames.append)
        out = res.collect()
        columns = [*self.events.columns, "watermark", "missed_windows", "reason"]
        late = (pd.concat(frames, ignore_index=True) if frames
                else pd.DataFrame({c: [] for c in columns}))
        return out, late

    def describe(self, label: str) -> str:
        """One line: window, watermark delay and allowed lateness of a setting."""
        s = self.settings[label]
        parts = [s["window"].resolve(self.unit).label()]
        wm = s.get("watermark")
        parts.append("no watermark delay" if wm is None else
                     f"watermark delay {format_ms(to_ms(wm, self.unit, allow_zero=True))}")
        if s.get("allowed_lateness") is not None:
            parts.append(f"allowed_lateness {format_ms(to_ms(s['allowed_lateness'], self.unit))}")
        return ", ".join(parts)

    def timeline(self, label: str, **options):
        """Replay setting ``label`` under a :class:`~streamlab.teach.timeline.Timeline`; returns it."""
        from .timeline import timeline

        res = self.pipeline(label)
        tl = timeline(res, **options)
        res.collect()
        tl.flush()
        return tl

    # --- display ----------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        a, b = self.labels
        diff = self.diff
        counts = diff["change"].value_counts() if len(diff) else pd.Series(dtype=int)
        head = "".join(
            f"<div><b>{escape(str(lab))}</b>: {escape(self.describe(lab))} → "
            f"{len(self.results[lab]):,} result rows, {len(self.late[lab]):,} late rows</div>"
            for lab in self.labels)
        summary = (f"<div>{len(diff):,} result rows differ: "
                   f"{_badge(counts.get(f'only {a}', 0), f'only {a}', _ONLY)} "
                   f"{_badge(counts.get(f'only {b}', 0), f'only {b}', _ONLY)} "
                   f"{_badge(counts.get('changed', 0), 'changed', _CHANGED)}</div>")
        late = "".join(
            f"<div style='flex:1;min-width:0'><b>late rows, {escape(str(lab))}</b>"
            f"{_late_table(self.late[lab], self.late_diff, lab, self.max_rows)}</div>"
            for lab in self.labels)
        from ..viz.table import TABLE_CSS  # ipywidgets: only when shown

        return (f"{TABLE_CSS}<div class='streamlab-compare'>{head}{summary}"
                f"<b>results, side by side</b>{self._results_table()}"
                f"<div style='display:flex;gap:16px'>{late}</div></div>")

    def _results_table(self) -> str:
        a, b = self.labels
        names = list(self.agg)
        finals = {lab: _final(self.results[lab], self._keys()) for lab in self.labels}
        both = finals[a].merge(finals[b], on=self._keys(), how="outer",
                               suffixes=(f"_{a}", f"_{b}"), indicator=True)
        both = both.sort_values(["window_start", "window_end", *self.by], kind="stable")
        changed = both["_merge"] != "both"
        for n in names:
            changed |= (both["_merge"] == "both") & ~_same(both[f"{n}_{a}"], both[f"{n}_{b}"])
        shown = both if len(both) <= self.max_rows else both[changed].head(self.max_rows)
        cols = [*self._keys(), *(f"{n}_{lab}" for lab in self.labels for n in names)]
        heads = "".join(f"<th>{escape(c)}</th>" for c in cols)
        body = []
        for _, row in shown.iterrows():
            cells = []
            for c in cols:
                style = ""
                lab = next((lab for lab in self.labels if c.endswith(f"_{lab}") and
                            c[: -len(lab) - 1] in names), None)
                if lab is not None:
                    other = b if lab == a else a
                    side = "left_only" if lab == a else "right_only"
                    if row["_merge"] == side:
                        style = f"background:{_ONLY}"
                    elif row["_merge"] == "both" and not _same_value(
                            row[c], row[f"{c[: -len(lab) - 1]}_{other}"]):
                        style = f"background:{_CHANGED}"
                cells.append(f"<td style='{style}'>{escape(_text(row[c]))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        note = (f"<div><i>{len(both) - len(shown):,} more rows not shown "
                f"(only differences, at most {self.max_rows})</i></div>") if len(shown) < len(both) else ""
        return (f"<div class='streamlab-scroll'><table class='streamlab-table'><thead><tr>{heads}"
                f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>{note}")


def compare(source, settings: Mapping[str, Mapping], by=None, agg=None, *, window=None,
            watermark=None, allowed_lateness=None, time: str | None = None,
            unit: str | None = None, n: int | None = None, timeout: float | None = None,
            max_rows: int = 30) -> Comparison:
    """Replay the same events under two settings and compare results and late rows.

    ``source`` is a streamlab stream (recorded once with ``collect(n=, timeout=)``) or a
    DataFrame (then ``time=`` names its event-time column and ``unit=`` its unit).
    ``settings`` maps two labels to dicts with ``window``, ``watermark`` (a delay; None: no
    watermark operator, i.e. delay 0) and ``allowed_lateness``; the keyword arguments of the same
    names are defaults for both. ``agg`` is the named aggregation (default: ``n`` = row count).
    """
    events, time, unit = _record(source, time, unit, n, timeout)
    if not isinstance(settings, Mapping) or len(settings) != 2:
        raise ValueError("settings must map two labels to settings, e.g. "
                         "{'A': dict(watermark='100ms'), 'B': dict(watermark='1s')}")
    defaults = {"window": window, "watermark": watermark, "allowed_lateness": allowed_lateness}
    resolved = {}
    for label, s in settings.items():
        if not isinstance(s, Mapping):
            raise TypeError(f"settings[{label!r}] must be a dict such as "
                            f"dict(window=sl.Tumble('1s'), watermark='100ms'), got {s!r}")
        unknown = sorted(set(s) - set(SETTING_KEYS))
        if unknown:
            raise ValueError(f"settings[{label!r}]: unknown key {unknown[0]!r}; "
                             f"use {', '.join(SETTING_KEYS)}")
        merged = {**defaults, **{k: v for k, v in s.items()}}
        if not isinstance(merged["window"], (Tumble, Hop, Cumulate, Session)):
            raise ValueError(f"settings[{label!r}] needs window=sl.Tumble(...), sl.Hop(...), "
                             f"sl.Cumulate(...) or sl.Session(...) (or compare(..., window=...))")
        resolved[str(label)] = merged
    if len(resolved) != 2:
        raise ValueError("the two settings need two different labels")
    by = [] if by is None else [by] if isinstance(by, str) else list(by)
    agg = dict(agg) if agg else {"n": (time, "size")}
    arrival = "arrival" if "arrival" not in events.columns else "_arrival"
    events = events.reset_index(drop=True)
    events.insert(0, arrival, np.arange(len(events)))
    return Comparison(events, resolved, by, agg, time, unit, max_rows)


def _record(source, time, unit, n, timeout):
    if isinstance(source, pd.DataFrame):
        col = time or "ts"
        if col not in source.columns:
            raise ValueError(f"time={col!r} is not a column of the frame; pass time='<column>'")
        return source.copy(), col, unit
    if not isinstance(source, Node) or source.time_meta is None:
        raise TypeError("compare(source, ...) takes a streamlab stream (sl.from_frame(...), "
                        f"sl.demo.sensors(...), ...) or a DataFrame, got {type(source).__name__}")
    meta = source.time_meta
    return source.collect(n=n, timeout=timeout), meta.column, meta.unit


def _final(results: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The last revision of each (key, window) row (allowed_lateness re-emits windows)."""
    out = results.drop(columns=[c for c in ("revision", "final") if c in results.columns])
    return out.drop_duplicates(keys, keep="last").reset_index(drop=True)


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    try:
        x, y = a.to_numpy(dtype="float64"), b.to_numpy(dtype="float64")
        return np.isclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True)
    except (TypeError, ValueError):
        return np.array([_same_value(u, v) for u, v in zip(a.tolist(), b.tolist())], dtype=bool)


def _same_value(u, v) -> bool:
    if pd.isna(u) and pd.isna(v):
        return True
    try:
        return bool(np.isclose(float(u), float(v), rtol=1e-9, atol=1e-12))
    except (TypeError, ValueError):
        return u == v


def _diff_results(results, labels, keys, names) -> pd.DataFrame:
    a, b = labels
    both = _final(results[a], keys).merge(_final(results[b], keys), on=keys, how="outer",
                                          suffixes=(f"_{a}", f"_{b}"), indicator=True)
    change = pd.Series("", index=both.index, dtype=object)
    change[both["_merge"] == "left_only"] = f"only {a}"
    change[both["_merge"] == "right_only"] = f"only {b}"
    differs = np.zeros(len(both), dtype=bool)
    for name in names:
        differs |= ~_same(both[f"{name}_{a}"], both[f"{name}_{b}"])
    change[(both["_merge"] == "both").to_numpy() & differs] = "changed"
    both.insert(len(keys), "change", change)
    for lab in labels:  # an outer join makes integer counts float; keep them integers (Int64)
        for name in names:
            if name in results[lab] and results[lab][name].dtype.kind in "iu":
                both[f"{name}_{lab}"] = both[f"{name}_{lab}"].astype("Int64")
    out = both[change != ""].drop(columns="_merge")
    cols = [*keys, "change", *(f"{n}_{lab}" for lab in labels for n in names)]
    return out[cols].sort_values(keys[-2:] + keys[:-2], kind="stable").reset_index(drop=True)


def _diff_late(late, labels) -> pd.DataFrame:
    a, b = labels
    key = late[a].columns[0]  # the arrival column
    la = late[a].set_index(key)
    lb = late[b].set_index(key)
    rows = []
    for arrival in sorted(set(la.index) | set(lb.index)):
        in_a, in_b = arrival in la.index, arrival in lb.index
        if in_a and in_b:
            ma, mb = la.at[arrival, "missed_windows"], lb.at[arrival, "missed_windows"]
            if ma == mb:
                continue
            change = "changed"
        else:
            change = f"only {a}" if in_a else f"only {b}"
        src = la if in_a else lb
        row = src.loc[arrival].to_dict()
        row.update({key: arrival, "change": change,
                    f"missed_{a}": la.at[arrival, "missed_windows"] if in_a else 0,
                    f"missed_{b}": lb.at[arrival, "missed_windows"] if in_b else 0})
        rows.append(row)
    base = [c for c in late[a].columns if c not in ("watermark", "missed_windows", "reason")]
    cols = [*base, "change", f"missed_{a}", f"missed_{b}", "reason"]
    if not rows:
        return pd.DataFrame({c: [] for c in cols})
    return pd.DataFrame(rows)[cols].reset_index(drop=True)


def _text(v) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return str(v)


def _badge(n, label, color) -> str:
    return f"<span style='background:{color};padding:0 4px'>{int(n):,} {escape(str(label))}</span>"


def _late_table(late: pd.DataFrame, late_diff: pd.DataFrame, label: str, max_rows: int) -> str:
    if not len(late):
        return "<div><i>none</i></div>"
    key = late.columns[0]
    only = set(late_diff.loc[late_diff["change"] == f"only {label}", key]) if len(late_diff) else set()
    cols = [c for c in late.columns if c not in ("missed_windows",)]
    shown = pd.concat([late[late[key].isin(only)], late[~late[key].isin(only)]]).head(max_rows)
    heads = "".join(f"<th>{escape(str(c))}</th>" for c in cols)
    body = "".join(
        f"<tr style='{'background:' + _ONLY if r[key] in only else ''}'>"
        + "".join(f"<td>{escape(_text(r[c]))}</td>" for c in cols) + "</tr>"
        for _, r in shown.iterrows())
    note = f"<div><i>{len(late) - len(shown):,} more</i></div>" if len(late) > len(shown) else ""
    return (f"<div class='streamlab-scroll'><table class='streamlab-table'><thead><tr>{heads}</tr>"
            f"</thead><tbody>{body}</tbody></table></div>{note}")
