"""``res.to_flink_sql()``: a window pipeline as a runnable Flink SQL script giving the same rows.

The script has three parts: the ``SET`` statements that make Flink deterministic (see
:data:`SETTINGS`), the ``CREATE TABLE`` statements (source with its ``WATERMARK``, sink), and one
``INSERT INTO sink SELECT ...`` over the windowing TVF. :func:`flink_export` returns them apart
(a :class:`FlinkExport`), so several exports can run in one Flink job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..kafka.source import KafkaSource
from .chain import Chain, read_chain
from .connectors import kafka_columns, sink_options, source_options
from .joins_export import join_parts
from .options import FlinkExportOptions
from .ranking_export import is_updating, updating_export
from .render import columns_block, ident, interval, string, with_clause
from .schema import is_integer, source_types, time_type
from .tvf import aggregate, tvf_call, where_sql

#: Flink settings under which its window rows equal streamlab's (DESIGN.md §2).
SETTINGS = {
    "execution.runtime-mode": "streaming",
    "parallelism.default": "1",
    "table.exec.resource.default-parallelism": "1",
    "pipeline.auto-watermark-interval": "0 ms",
    "table.local-time-zone": "UTC",
}
SETTINGS_NOTE = """\
-- Settings under which Flink's rows equal streamlab's:
--   parallelism 1: records are read in arrival (file or partition) order, as streamlab does;
--   auto-watermark-interval 0 ms: a watermark after every record, so each record sees the
--     watermark of the records before it and late data is decided row by row;
--   local time zone: UTC aligns windows to the epoch in UTC, like streamlab's; a window's tz=
--     sets it to that zone (with a TIMESTAMP_LTZ rowtime) to cut windows in its local time."""

_NUMBER_TIME = {"s": "{c} * 1000", "ms": "{c}", "us": "{c} / 1000", "ns": "{c} / 1000000"}


@dataclass(frozen=True)
class FlinkExport:
    """The parts of an exported script. ``str(export)`` (or :meth:`script`) is the whole script."""

    settings: dict[str, str]
    source_ddl: str
    sink_ddl: str
    query: str
    sink_table: str
    sink_columns: list[tuple[str, str]]
    view_ddl: str | None = None
    header: list[str] = field(default_factory=list)

    @property
    def insert(self) -> str:
        """``INSERT INTO sink SELECT ...``."""
        return f"INSERT INTO {ident(self.sink_table)}\n{self.query}"

    @property
    def ddl(self) -> list[str]:
        """The ``CREATE`` statements, in order."""
        return [s for s in (self.source_ddl, self.view_ddl, self.sink_ddl) if s]

    def statements(self) -> list[str]:
        """Every statement without its ``;``: SETs, CREATEs, then the INSERT."""
        sets = [f"SET {string(k)} = {string(v)}" for k, v in self.settings.items()]
        return [*sets, *self.ddl, self.insert]

    def script(self) -> str:
        """The runnable script (for ``sql-client.sh -f``), with comments."""
        head = "\n".join(f"-- {line}" for line in self.header)
        sets = [f"SET {string(k)} = {string(v)};" for k, v in self.settings.items()]
        body = [SETTINGS_NOTE + "\n" + "\n".join(sets)] if sets else []
        body += [f"{s};" for s in (*self.ddl, self.insert)]
        return "\n\n".join([head, *body]).strip() + "\n"

    __str__ = script


def to_flink_sql(stream, connector: str = "filesystem", *, parts: bool = False, **options):
    """Runnable Flink SQL for a window pipeline: SETs, source and sink DDL, and the INSERT.

    ``parts=True`` returns the :class:`FlinkExport` instead of the script text. The options are
    the fields of :class:`~streamlab.flink.options.FlinkExportOptions`: ``source_table`` /
    ``sink_table`` (names), ``types`` ({column: Flink type} overrides), ``path`` / ``format``
    (filesystem source), ``topic`` / ``bootstrap`` / ``group`` / ``start`` (Kafka source),
    ``sink_connector``, ``sink_path``, ``sink_topic``, ``sink_format``, ``source_options`` /
    ``sink_options`` (extra WITH options), ``rowtime`` (name of the computed timestamp column for
    numeric time) and ``settings=False`` (no SET statements). An unknown one is a TypeError.

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": pd.to_datetime([0, 1500], unit="ms"), "key": ["a", "b"], "v": [1.0, 2.5]})
    >>> res = (sl.from_frame(df, time="ts").watermark("200ms").where("v > 0")
    ...        .window(sl.Tumble("1s"), by="key").agg(n=("v", "count"), avg=("v", "mean")))
    >>> print(to_flink_sql(res, path="/data/events.csv", parts=True).insert)
    INSERT INTO sink
    SELECT key, window_start, window_end, COUNT(v) AS n, AVG(v) AS `avg`
    FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
    WHERE v > 0
    GROUP BY key, window_start, window_end
    """
    export = flink_export(stream, connector, **options)
    return export if parts else export.script()


def flink_export(stream, connector: str = "filesystem", **options) -> FlinkExport:
    """The :class:`FlinkExport` of ``stream`` (see :func:`to_flink_sql` for the options)."""
    return build_export(stream, FlinkExportOptions.of(connector, **options))


@dataclass(frozen=True)
class JoinExport(FlinkExport):
    """The export of a join: several source tables and views (``more_ddl``)."""

    more_ddl: list[str] = field(default_factory=list)

    @property
    def ddl(self) -> list[str]:
        return [self.source_ddl, *self.more_ddl, self.sink_ddl]


def build_export(stream, options: FlinkExportOptions) -> FlinkExport:
    """The :class:`FlinkExport` of ``stream`` under ``options``."""
    parts: dict | None
    if is_updating(stream):  # continuous GROUP BY, Top-N, deduplication, OVER
        parts = updating_export(stream, options, _source_ddl, build_export)
    else:  # interval, window, temporal, merge (None: not a join)
        parts = join_parts(stream, options, _source_ddl, build_export)
    if parts is not None:
        settings = dict(SETTINGS) if options.settings else {}
        return JoinExport(settings, parts["ddl"][0], parts["sink_ddl"], parts["query"], parts["sink_table"],
                          parts["sink_columns"], None, parts["header"], more_ddl=parts["ddl"][1:])
    chain = read_chain(stream)
    plan_source = chain.sql_plan.source if chain.sql_plan is not None else None
    src_table = options.source_table or plan_source or "src"
    sink_table = options.sink_table or "sink"
    notes: list[str] = []

    zone = getattr(chain.window.plan, "tz", None)  # a session time zone: Tumble/Hop/Cumulate(tz=...)
    source_ddl, rowtime, types = _source_ddl(chain, options, src_table, notes, zone)
    table, view_ddl = src_table, None
    if chain.constants:
        table = f"{src_table}_input"
        extra = ", ".join(f"{_constant(v)} AS {ident(k)}" for k, v in chain.constants.items())
        view_ddl = f"CREATE TEMPORARY VIEW {ident(table)} AS SELECT *, {extra} FROM {ident(src_table)}"
        types.update({k: _constant_type(v) for k, v in chain.constants.items()})

    select, sink_columns = _select(chain, types)
    query = "\n".join([
        f"SELECT {', '.join(select)}",
        f"FROM TABLE({tvf_call(chain.window, table, rowtime)})",
        *([f"WHERE {where_sql(chain, types)}"] if chain.wheres else []),
        f"GROUP BY {', '.join([*(ident(k) for k in chain.window.by), 'window_start', 'window_end'])}",
    ])
    sink_cols = [f"{ident(n)} {t}" for n, t in sink_columns]
    sink_with = sink_options(chain.source, options, sink_table)
    sink_ddl = f"CREATE TABLE {ident(sink_table)} {columns_block(sink_cols)} {with_clause(sink_with)}"
    settings = dict(SETTINGS) if options.settings else {}
    if zone and settings:
        settings["table.local-time-zone"] = zone
    _idleness(chain, options.connector, settings, notes)
    return FlinkExport(settings, source_ddl, sink_ddl, query, sink_table, sink_columns, view_ddl,
                       _header(chain, notes))


def _source_ddl(chain: Chain, options: FlinkExportOptions, table: str, notes: list[str],
                zone: str | None = None):
    """(``CREATE TABLE`` of the source, the rowtime column, {column: Flink type}).

    With a session time zone the rowtime is a TIMESTAMP_LTZ(3): the UTC text of a datetime
    column read as an instant, so windows are cut in ``table.local-time-zone`` as in streamlab."""
    meta, source = chain.time_meta, chain.source
    overrides = dict(options.types)
    src_with = source_options(source, options, notes, table)
    declared, implied = kafka_columns(source, options.connector, src_with.get("format"))
    columns = list(source.columns or dict.fromkeys([*overrides, *declared]))
    types = source_types(source, [c for c in columns if c not in declared], {**implied, **overrides})
    types.update({c: d.split(" METADATA")[0] for c, d in declared.items()})
    rowtime = meta.column
    if meta.column not in declared:
        types[meta.column] = time_type(types[meta.column], meta.unit)
        if meta.unit is None and src_with.get("json.timestamp-format.standard") == "ISO-8601":
            types[meta.column] = "TIMESTAMP_LTZ(3)"  # ISO text with a 'Z', as to_kafka writes it
    lines = [f"{ident(c)} {declared.get(c, types[c])}" for c in columns]
    if zone and meta.unit is None and types[meta.column].upper().startswith("TIMESTAMP(") \
            and meta.column not in declared:
        rowtime = options.rowtime or _fresh(f"{meta.column}_ltz", columns)
        lines.append(f"{ident(rowtime)} AS TO_TIMESTAMP_LTZ(CAST({ident(meta.column)} AS STRING), "
                     f"'yyyy-MM-dd HH:mm:ss.SSS', 'UTC')")
        notes.append(f"{meta.column} holds UTC times; {rowtime} is it as a TIMESTAMP_LTZ, so windows "
                     f"are cut in the session time zone {zone} and window_start / window_end are its "
                     "local wall-clock times, as streamlab gives them")
    if meta.unit is not None and meta.column not in declared:
        rowtime = options.rowtime or _fresh(f"{meta.column}_time", columns)
        lines.append(f"{ident(rowtime)} AS {_to_timestamp(meta.column, meta.unit, types)}")
        notes.append(f"{meta.column} holds numbers in {meta.unit!r}; {rowtime} is it as a "
                     f"timestamp, and window_start / window_end are TIMESTAMP(3) in UTC here "
                     f"(streamlab gives them as numbers in {meta.unit!r})")
    delay = chain.watermark.delay if chain.watermark is not None else 0
    mark = ident(rowtime) if not delay else f"{ident(rowtime)} - {interval(delay)}"
    lines.append(f"WATERMARK FOR {ident(rowtime)} AS {mark}")
    ddl = f"CREATE TABLE {ident(table)} {columns_block(lines)} {with_clause(src_with)}"
    return ddl, rowtime, types


def _idleness(chain: Chain, connector: str, settings: dict, notes: list[str]) -> None:
    source = chain.source
    kafka = connector == "kafka" and isinstance(source, KafkaSource)
    idle_s = source.idle_timeout if kafka else None
    if idle_s and settings:  # from_kafka(idle_timeout=...): Flink's own per-partition idleness
        settings["table.exec.source.idle-timeout"] = f"{round(idle_s * 1000)} ms"
        notes.append("idle partitions stop holding the watermark back after "
                     "'table.exec.source.idle-timeout' of processing time, as in streamlab; "
                     "where that happens depends on timing, not only on the data")
    if chain.idle_timeout is not None:
        notes.append("watermark(idle_timeout=...) advances the watermark with processing time; "
                     "Flink SQL has no such rule, so it is left out")


def _select(chain: Chain, types: dict[str, str]) -> tuple[list[str], list[tuple[str, str]]]:
    window = chain.window
    exprs = {k: (ident(k), types[k]) for k in window.by}
    exprs["window_start"] = exprs["window_end"] = ("", "TIMESTAMP(3)")
    for spec in window.specs:
        exprs[spec.name] = aggregate(spec, types, chain)
    outputs = [(o.name, o.source) for o in chain.project.outputs] if chain.project is not None \
        else [(c, c) for c in window.columns or []]
    select, sink = [], []
    for name, src in outputs:
        expr, flink = exprs[src]
        expr = expr or ident(src)
        select.append(expr if expr == ident(name) else f"{expr} AS {ident(name)}")
        sink.append((name, flink))
    return select, sink


def _to_timestamp(column: str, unit: str, types: dict[str, str]) -> str:
    """The computed rowtime for numeric time (whole ms; us/ns divide, truncating before 1970)."""
    col = ident(column)
    if is_integer(types[column]):
        if unit == "s":
            return f"TO_TIMESTAMP_LTZ({col}, 0)"
        return f"TO_TIMESTAMP_LTZ({_NUMBER_TIME[unit].format(c=col)}, 3)"
    ms = _NUMBER_TIME[unit].format(c=f"CAST({col} AS DOUBLE)")
    return f"TO_TIMESTAMP_LTZ(CAST(FLOOR({ms}) AS BIGINT), 3)"


def _fresh(name: str, taken: list[str]) -> str:
    while name in taken:
        name += "_"
    return name


def _constant(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return string(value)
    return repr(value).upper() if isinstance(value, float) else str(value)


def _constant_type(value) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    return {int: "INT", float: "DOUBLE"}.get(type(value), "STRING")


def _version() -> str:
    """streamlab's installed version (the package itself is a layer above this one)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("streamlab")
    except PackageNotFoundError:
        return "(not installed)"


def _header(chain: Chain, notes: list[str]) -> list[str]:
    pipe = chain.source.owner
    name = f" pipeline {pipe.name!r}" if pipe is not None else ""
    steps = [chain.source.label()]
    steps += [chain.watermark.label()] if chain.watermark is not None else []
    steps += [w.label() for w in chain.wheres]
    steps += [f"assign({', '.join(chain.constants)})"] if chain.constants else []
    steps.append(chain.window.label())
    lines = [f"Flink SQL exported by streamlab {_version()} from{name}:",
             "  " + " -> ".join(steps)]
    if chain.sql_plan is not None:
        lines.append(f"  (%%streamlab query: {chain.sql_plan.describe()})")
    return lines + [f"NOTE: {n}" for n in notes] + ["Run it with: sql-client.sh -f this.sql"]


__all__ = ["SETTINGS", "FlinkExport", "FlinkExportOptions", "build_export", "flink_export",
           "to_flink_sql"]
