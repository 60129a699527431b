"""One Flink job for one or more pipelines: inputs as files, the exported SQL, late-row companions.

Every part (a pipeline's results, or its late rows) becomes one branch of a ``UNION ALL`` whose
columns are all ``STRING`` (the driver sends them as JSON text; PyFlink cannot hand over every
Flink type): ``tag, c0, c1, ...``. :func:`decode` turns a part's rows back into a DataFrame with the
types the kernel gives.

>>> import streamlab as sl, pandas as pd
>>> res = sl.from_frame(pd.DataFrame({"ts": [0, 1500], "k": ["a", "b"]}), time="ts", unit="ms") \\
...     .window(sl.Tumble("1s"), by="k").agg(n=("k", "size"))
>>> job = build_job([res], "/tmp/streamlab-doc", parallelism=2)
>>> [p.tag for p in job.parts], job.settings["parallelism.default"]
(['q0:out', 'q0:late'], '2')
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..joins.merge import Merge
from ..kafka.source import KafkaSource
from ..ranking.changelog import OP
from ..sources.base import Source
from ..sources.frame import CsvSource, FrameSource, ParquetSource
from ..windows.specs import Cumulate, Hop, Session, Tumble
from .chain import SelectList, read_chain
from .cluster import FlinkError
from .export import SETTINGS, build_export
from .files import write_csv
from .joins_export import JOINS
from .options import FlinkExportOptions
from .ranking_export import is_updating
from .render import ident
from .schema import source_types
from .session_late import SessionLate, session_late_parts

KAFKA_JAR = "flink-sql-connector-kafka"


@dataclass
class Part:
    """One branch of the job's union: its tag, its SELECT and its columns (name, Flink type)."""

    tag: str
    select: str
    columns: list[tuple[str, str]]
    unit: str | None = None  # the input's time unit: window bounds go back as numbers in it
    time_column: str | None = None
    #: An updating result: its rows get an ``op`` column (Flink's RowKind) in front.
    changelog: bool = False


@dataclass
class Job:
    """What the driver receives (see :mod:`streamlab.flink.driver`), plus the parts to decode."""

    statements: list[str]
    parts: list[Part]
    settings: dict[str, str] = field(default_factory=dict)
    #: Per pipeline (``q0`` ...) with a SESSION window: its late rows, found at the job's end.
    session_late: dict[str, SessionLate] = field(default_factory=dict)

    @property
    def query(self) -> str:
        width = max(len(p.columns) for p in self.parts)
        branches = []
        for p in self.parts:
            cells = [f"CAST({ident(n)} AS STRING)" for n, _ in p.columns]
            cells += ["CAST(NULL AS STRING)"] * (width - len(cells))
            names = ", ".join(f"{c} AS c{i}" for i, c in enumerate(cells))
            branches.append(f"SELECT '{p.tag}' AS tag, {names} FROM (\n{p.select}\n)")
        return "\nUNION ALL\n".join(branches)

    @property
    def changelog(self) -> bool:
        """Whether a part is an updating result (then every row carries its RowKind)."""
        return any(p.changelog for p in self.parts)

    def spec(self, host: str, port: int, name: str) -> dict:
        return {"rest_address": host, "rest_port": port, "settings": self.settings,
                "statements": self.statements, "query": self.query, "job_name": name,
                "changelog": self.changelog}


def build_job(streams: list, workdir, parallelism: int = 1, late: bool = True,
              has_kafka_jar: bool | None = None, continuous: bool = False) -> Job:
    """The job running ``streams`` (window results) at ``parallelism``; inputs go to ``workdir``.

    ``continuous=True`` makes file inputs unbounded: each is a folder that Flink keeps watching
    (``source.monitor-interval``), so the job runs until it is stopped.
    """
    if not isinstance(parallelism, int) or parallelism < 1:
        raise ValueError(f"parallelism must be a positive integer, got {parallelism!r}")
    settings = {**SETTINGS, "parallelism.default": str(parallelism),
                "table.exec.resource.default-parallelism": str(parallelism)}
    statements: list[str] = []
    parts: list[Part] = []
    session_late: dict[str, SessionLate] = {}
    for i, stream in enumerate(streams):
        if isinstance(stream, JOINS) or isinstance(stream, SelectList) and isinstance(stream.window, JOINS):
            statements_, part = join_part(stream, i, workdir, continuous)
            statements += statements_
            parts.append(part)
            continue
        if is_updating(stream):
            statements_, part = updating_part(stream, i, workdir, continuous)
            statements += statements_
            parts.append(part)
            continue
        chain = read_chain(stream)
        src = chain.source
        opts: dict = {"source_table": f"q{i}_src", "sink_table": f"q{i}_sink", "settings": False}
        if isinstance(src, KafkaSource):
            if has_kafka_jar is False:
                raise FlinkError(f"this Flink cluster has no Kafka connector: put {KAFKA_JAR}-<version>.jar "
                                 "(matching Flink 2.3) into the cluster's lib/ folder and restart it")
            export = build_export(stream, FlinkExportOptions.of("kafka", **opts))
        else:
            folder = os.path.join(os.fspath(workdir), f"q{i}-input")
            frame = input_frame(src)
            write_csv(frame, os.path.join(folder, "part-0.csv"), columns=list(src.columns or frame.columns))
            if continuous:
                opts["source_options"] = {"source.monitor-interval": "1 s"}
            export = build_export(stream, FlinkExportOptions.of("filesystem", path=folder, **opts))
        statements += [export.source_ddl, *([export.view_ddl] if export.view_ddl else [])]
        unit = chain.time_meta.unit
        parts.append(Part(f"q{i}:out", export.query, export.sink_columns, unit))
        companion = late_part(chain, export, f"q{i}:late") if late else None
        if companion is not None:
            parts.append(companion)
        elif late and isinstance(chain.window.spec, Session) and not isinstance(src, KafkaSource) \
                and not continuous and not chain.constants:
            rowtime = _rowtime(export)
            more, extra, session_late[f"q{i}"] = session_late_parts(
                export, i, frame, list(src.columns or frame.columns),
                os.path.join(os.fspath(workdir), f"q{i}-rows"), rowtime, unit,
                _ms(f"CURRENT_WATERMARK({ident(rowtime)})"), Part)
            statements += more
            parts += extra
    return Job(statements, parts, settings, session_late)


def join_part(join, i: int, workdir, continuous: bool = False) -> tuple[list[str], Part]:
    """The statements and the result part of a join (interval, window, temporal, or a merge with
    a DataFrame; with a ``%%streamlab`` select list or not) of frames, CSV or Parquet.

    One source read by both inputs is one table (as in streamlab's graph); two sources are two
    tables, ``q<i>_src_l`` / ``q<i>_src_r``, each reading its own folder. A merge's DataFrame is
    written to a folder too and joined as the table ``q<i>_table`` (the export's ``lookup_table``
    from a file). The rows are append-only for every join (DESIGN §2b) and a join's late rows
    are counted, not emitted, so there is no late companion.
    """
    inner = join.window if isinstance(join, SelectList) else join
    sources = [source_of(u, join) for u in inner.upstreams]
    for src in sources:
        if isinstance(src, KafkaSource):
            raise FlinkError(f"{join.label()}: on_flink of a join reads frames, CSV and Parquet; "
                             "export a Kafka join with to_flink_sql(..., connector='kafka')")
    base = f"q{i}_src"
    opts: dict = {"source_table": base, "sink_table": f"q{i}_sink", "settings": False}
    root = os.fspath(workdir)
    if len(sources) == 1 or sources[0] is sources[1]:
        opts["path"] = _write_input(sources[0], os.path.join(root, f"q{i}-input"))
    else:
        opts["paths"] = {f"{base}_{lr}": _write_input(src, os.path.join(root, f"q{i}-input-{lr}"))
                         for src, lr in zip(sources, "lr")}
    if isinstance(inner, Merge):  # a merge with a static DataFrame: its rows as a file table
        name, folder = f"q{i}_table", os.path.join(root, f"q{i}-table")
        write_csv(inner.table, os.path.join(folder, "part-0.csv"), columns=list(inner.table.columns))
        opts["lookup_table"] = name
        opts["paths"] = {**opts.get("paths", {}), name: folder}
    if continuous:
        opts["source_options"] = {"source.monitor-interval": "1 s"}
    export = build_export(join, FlinkExportOptions.of("filesystem", **opts))
    statements = [d for d in export.ddl if d != export.sink_ddl]
    meta = sources[0].time_meta
    return statements, Part(f"q{i}:out", export.query, export.sink_columns, meta.unit if meta else None)


def updating_part(res, i: int, workdir, continuous: bool = False) -> tuple[list[str], Part]:
    """The statements and the result part of an updating result (continuous GROUP BY, Top-N,
    deduplication, OVER; DESIGN §2b) of a frame, CSV or Parquet. A result with an ``op`` column
    comes back as a changelog (Flink's RowKind as ``op``), compared as a materialised table; the
    append-only ones (window Top-N, keep-first, OVER) as rows. Their late rows stay in the kernel's
    ``late``: the export has no late companion for them.
    """
    src = source_of(res, res)
    if isinstance(src, KafkaSource):
        raise FlinkError(f"{res.label()}: on_flink of an updating result reads frames, CSV and Parquet; "
                         "export a Kafka pipeline with to_flink_sql(..., connector='kafka')")
    opts: dict = {"source_table": f"q{i}_src", "sink_table": f"q{i}_sink", "settings": False,
                  "path": _write_input(src, os.path.join(os.fspath(workdir), f"q{i}-input"))}
    if continuous:
        opts["source_options"] = {"source.monitor-interval": "1 s"}
    export = build_export(res, FlinkExportOptions.of("filesystem", **opts))
    statements = [d for d in export.ddl if d != export.sink_ddl]
    changelog = OP in list(res.columns or [])
    columns = [(n, t) for n, t in export.sink_columns if not (changelog and n == OP)]
    meta = src.time_meta
    return statements, Part(f"q{i}:out", export.query, columns, meta.unit if meta else None, changelog=changelog)


def source_of(node, result) -> Source:
    """The source a join input reads (inputs are single chains: source -> watermark -> ...)."""
    while not isinstance(node, Source):
        if len(node.upstreams) != 1:
            raise FlinkError(f"{result.label()}: on_flink runs a join of two single-input chains; "
                             f"{node.label()} has {len(node.upstreams)} inputs")
        node = node.upstreams[0]
    return node


def _write_input(src: Source, folder: str) -> str:
    frame = input_frame(src)
    write_csv(frame, os.path.join(folder, "part-0.csv"), columns=list(src.columns or frame.columns))
    return folder


def input_frame(src) -> pd.DataFrame:
    """All rows of a frame, CSV or Parquet source, in arrival order."""
    if isinstance(src, FrameSource):
        return src.df
    if isinstance(src, CsvSource | ParquetSource):
        batches = list(src._batches())
        return pd.concat(batches, ignore_index=True) if batches else pd.DataFrame(columns=src.columns)
    raise FlinkError(f"{src.label()}: on_flink reads frames, CSV, Parquet and Kafka; write this "
                     "source's rows to a file first (sl.from_csv)")


def _ms(expr: str) -> str:
    """Epoch milliseconds of a TIMESTAMP / TIMESTAMP_LTZ expression (UTC session)."""
    t = f"CAST({expr} AS TIMESTAMP(3))"
    whole = f"FLOOR({t} TO SECOND)"  # TIMESTAMPDIFF truncates toward zero; this is exact
    return (f"(CAST(TIMESTAMPDIFF(SECOND, TIMESTAMP '1970-01-01 00:00:00', {whole}) AS BIGINT) * 1000"
            f" + {_mod(f'CAST(EXTRACT(MILLISECOND FROM {t}) AS BIGINT)', 1000)})")


def _mod(expr: str, by: int) -> str:
    """Floor mod in Flink SQL (its ``MOD`` takes the dividend's sign)."""
    return f"MOD(MOD({expr}, {by}) + {by}, {by})"


def _div(expr: str, by: int) -> str:
    """Floor division in Flink SQL (its ``/`` on integers truncates toward zero)."""
    return f"CAST(FLOOR(CAST({expr} AS DOUBLE) / {by}) AS BIGINT)"


def late_part(chain, export, tag: str) -> Part | None:
    """The companion query: input rows late for at least one window (Tumble, Hop, Cumulate).

    A row is late for window ``[s, e)`` when ``e - 1 ms <= CURRENT_WATERMARK`` as it arrives (the
    watermark of the rows before it). Sessions are left out: whether a session row is late depends
    on the key's open sessions, which a per-row predicate cannot see.
    """
    spec = chain.window.spec
    if isinstance(spec, Session) or not isinstance(spec, Tumble | Hop | Cumulate):
        return None
    plan = chain.window.plan
    size, pane, off = int(plan.size), int(plan.pane), int(plan.offset)
    rowtime = _rowtime(export)
    t, w = _ms(ident(rowtime)), _ms(f"CURRENT_WATERMARK({ident(rowtime)})")
    if isinstance(spec, Cumulate):
        start = f"({t} - {_mod(f'{t} - {off}', size)})"
        first = f"({_div(f'{t} - {start}', pane)} + 1)"  # the smallest k with start + k*pane > t
        missed = f"({_div(f'{w} + 1 - {start}', pane)} - {first} + 1)"
        total = f"({size // pane} - {first} + 1)"
    else:  # Tumble is a Hop with slide = size
        first_end = f"({t} - {_mod(f'{t} - {off}', pane)} + {pane})"
        missed = f"({_div(f'{w} + 1 - {first_end}', pane)} + 1)"
        total = str(size // pane)
    missed = f"LEAST(GREATEST({missed}, 0), {total})"
    table = f"q{tag[1:].split(':')[0]}_src"
    table = f"{table}_input" if export.view_ddl else table
    where = [ln[6:] for ln in export.query.splitlines() if ln.startswith("WHERE ")]
    cond = f"CURRENT_WATERMARK({ident(rowtime)}) IS NOT NULL AND {missed} >= 1"
    if where:
        cond = f"({where[0]}) AND {cond}"
    src = chain.source
    columns = list(src.columns or [])
    columns += [c for c in chain.constants if c not in columns]
    types = source_types(src, [c for c in columns if c not in chain.constants], {})
    wm_type = "BIGINT" if chain.time_meta.unit is not None else "TIMESTAMP(3)"
    wm_expr = w if chain.time_meta.unit is not None else f"CAST(CURRENT_WATERMARK({ident(rowtime)}) AS TIMESTAMP(3))"
    select = (f"SELECT {', '.join(ident(c) for c in columns)}, {wm_expr} AS `watermark`, "
              f"{missed} AS missed_windows, {total} AS total_windows\n"
              f"FROM {ident(table)}\nWHERE {cond}")
    consts = {c: {bool: "BOOLEAN", int: "BIGINT", float: "DOUBLE"}.get(type(v), "STRING")
              for c, v in chain.constants.items()}
    cols = [(c, types.get(c) or consts.get(c, "STRING")) for c in columns]
    cols += [("watermark", wm_type), ("missed_windows", "BIGINT"), ("total_windows", "BIGINT")]
    return Part(tag, select, cols, chain.time_meta.unit, chain.time_meta.column)


def _rowtime(export) -> str:
    line = [ln for ln in export.source_ddl.splitlines() if "WATERMARK FOR" in ln][0]
    return line.split("WATERMARK FOR", 1)[1].split(" AS ")[0].strip().strip("`")


_UNIT_MS = {"s": 1000, "ms": 1, "us": 0.001, "ns": 0.000001}
_TEXT = pd.Series(["text"]).dtype


def decode(part: Part, rows: list[list]) -> pd.DataFrame:
    """A part's rows (strings from Flink) as the DataFrame the kernel would give."""
    names = [n for n, _ in part.columns]
    raw = pd.DataFrame([r[: len(names)] for r in rows], columns=names, dtype=object)
    out = {}
    if part.changelog:  # the driver appends Flink's RowKind to every row of a changelog job
        out[OP] = pd.Series([r[-1] for r in rows], dtype=object)
    for name, flink in part.columns:
        out[name] = _column(raw[name], flink.upper(), part.unit, name)
    frame = pd.DataFrame(out)
    if part.tag.endswith(":late"):
        frame = _late_columns(frame, part)
    return frame


def _column(values: pd.Series, flink: str, unit: str | None, name: str):
    base = flink.split("(")[0].split(" ")[0]
    if base.startswith("TIMESTAMP"):
        ts = pd.to_datetime(values, utc=True)
        if unit is not None and name in ("window_start", "window_end"):
            ms = (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "ms")
            return ms // _UNIT_MS[unit] if unit in ("s", "ms") else ms / _UNIT_MS[unit]
        return ts
    if base in ("BIGINT", "INT", "INTEGER", "SMALLINT", "TINYINT"):
        nums = pd.to_numeric(values)
        return nums.astype("int64") if nums.notna().all() else nums.astype("Int64")
    if base in ("DOUBLE", "FLOAT", "DECIMAL"):
        return pd.to_numeric(values).astype("float64")
    if base == "BOOLEAN":
        return values.map({"TRUE": True, "FALSE": False, "true": True, "false": False})
    # text in the dtype pandas gives a frame's text (``str`` with NaN for NULL on pandas 3), also
    # for a batch whose values are all NULL
    return pd.Series(values.tolist(), index=values.index, dtype=_TEXT)


def _late_columns(frame: pd.DataFrame, part: Part) -> pd.DataFrame:
    total = frame.pop("total_windows")
    if part.unit is not None:
        frame["watermark"] = frame["watermark"].astype("int64")
        if part.unit != "ms":
            frame["watermark"] = frame["watermark"] / _UNIT_MS[part.unit]
    frame["missed_windows"] = frame["missed_windows"].astype(np.int64)
    frame["reason"] = [f"late for {m} of {t} windows (window end - 1ms <= watermark)"
                       for m, t in zip(frame["missed_windows"], total)]
    return frame
