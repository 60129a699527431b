"""``WITH (...)`` options of the source and sink tables: filesystem or Kafka."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..kafka.source import KafkaSource
from ..sources.base import Source
from ..sources.frame import CsvSource, ParquetSource
from .options import STARTUP, FlinkExportOptions

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def file_uri(path) -> str:
    """A ``file://`` URI for a local path (URIs are kept as they are).

    >>> file_uri("/data/in.csv"), file_uri("s3://b/k")
    ('file:///data/in.csv', 's3://b/k')
    """
    text = os.fspath(path)
    if "://" in text:
        return text
    return "file://" + os.path.abspath(text)


@dataclass(frozen=True)
class KafkaDefaults:
    """What a Kafka source says about itself; the export's options win over it (all None for
    other sources)."""

    topic: str | None = None
    bootstrap: str | None = None
    group: str | None = None
    start: str | None = None
    format: str | None = None

    @classmethod
    def of(cls, source: Source) -> KafkaDefaults:
        if not isinstance(source, KafkaSource):
            return cls()
        return cls(source.topic, source.bootstrap, source.group, source.start_at, source.format)


def source_options(source: Source, opts: FlinkExportOptions, notes: list[str], table: str) -> dict:
    """The source table's WITH options."""
    own = KafkaDefaults.of(source)
    if opts.connector == "kafka":
        topic = opts.topic or own.topic
        if not topic:
            topic = table
            notes.append(f"topic {topic!r} is the table name: pass topic= (the source is not Kafka)")
        start = opts.start or own.start or "earliest"
        if start not in STARTUP:
            raise ValueError(f"start={start!r}; use one of {', '.join(STARTUP)}")
        out: dict[str, object] = {
            "connector": "kafka",
            "topic": topic,
            "properties.bootstrap.servers": opts.bootstrap or own.bootstrap or DEFAULT_BOOTSTRAP,
            "properties.group.id": opts.group or own.group or "streamlab-flink",
            "scan.startup.mode": STARTUP[start],
            "format": opts.format or own.format or "json",
        }
        if start == "committed":
            out["properties.auto.offset.reset"] = "earliest"
        if out["format"] == "json":
            out["json.timestamp-format.standard"] = "ISO-8601"
        elif out["format"] == "raw":  # message key and value as text, like from_kafka(format="raw")
            out.update({"key.format": "raw", "key.fields": "key", "value.fields-include": "EXCEPT_KEY"})
    else:
        path = opts.paths.get(table) or opts.path or _file_of(source)
        fmt = opts.format or ("parquet" if isinstance(source, ParquetSource) else "csv")
        if path is None:
            path = "/path/to/input." + fmt
            notes.append(f"{source.label()} has no file: write its rows to {path} (headerless CSV: "
                         "streamlab.flink.write_csv(df, path)) or pass path=")
        elif fmt == "csv" and _has_header(source):
            notes.append(f"Flink's csv format reads every line as data: {os.fspath(path)} must not "
                         "have a header line (read it in streamlab with from_csv(path, header=None, "
                         "names=[...]))")
        out = {"connector": "filesystem", "path": file_uri(path), "format": fmt}
        if fmt == "csv":  # an empty field is NULL, as pandas.read_csv (and from_csv) reads it
            out["csv.null-literal"] = ""
    if fmt_is(out, "csv"):
        notes.append("csv input: columns in the order declared; timestamps as "
                     "'YYYY-MM-DD HH:MM:SS.mmm' (UTC, no zone)")
    out.update(opts.source_options)
    return out


def sink_options(source: Source, opts: FlinkExportOptions, table: str) -> dict:
    """The sink table's WITH options."""
    if opts.sink == "print":  # rows with their row kinds on the TaskManager's stdout
        return {"connector": "print", "print-identifier": table, **opts.sink_options}
    if opts.sink == "kafka":
        own = KafkaDefaults.of(source)
        source_topic = opts.topic or own.topic
        topic = opts.sink_topic or (f"{source_topic}-windows" if source_topic else table)
        out: dict[str, object] = {
            "connector": "kafka",
            "topic": topic,
            "properties.bootstrap.servers": opts.sink_bootstrap or opts.bootstrap or own.bootstrap
            or DEFAULT_BOOTSTRAP,
            "format": opts.sink_format or "json",
        }
        if out["format"] == "json":
            out["json.timestamp-format.standard"] = "ISO-8601"
    else:
        path = opts.sink_path
        if path is None:
            src = opts.path or _file_of(source)
            base = os.path.dirname(os.path.abspath(os.fspath(src))) if src else "/path/to"
            path = os.path.join(base, f"{table}-out")
        out = {"connector": "filesystem", "path": file_uri(path),
               "format": opts.sink_format or "csv"}
    out.update(opts.sink_options)
    return out


def kafka_columns(source, connector: str, fmt: str | None) -> tuple[dict, dict]:
    """Kafka message metadata as Flink columns, and the types ``format="raw"`` implies.

    Returns ``({column: declaration}, {column: type})``: ``kafka_timestamp`` is the message
    timestamp, ``partition`` and ``offset`` are virtual metadata columns.
    """
    if connector != "kafka":
        return {}, {}
    columns = source.columns or []
    meta = {"kafka_timestamp": "TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'",
            "partition": "INT METADATA VIRTUAL", "offset": "BIGINT METADATA VIRTUAL"}
    declared = {c: d for c, d in meta.items() if c in columns and isinstance(source, KafkaSource)}
    if source.time_meta.column == "kafka_timestamp":
        declared["kafka_timestamp"] = meta["kafka_timestamp"]
    raw = {"key": "STRING", "value": "STRING"} if fmt == "raw" else {}
    return declared, raw


def fmt_is(options: dict, fmt: str) -> bool:
    """True when the table's format is ``fmt``."""
    return options.get("format") == fmt


def _file_of(source: Source):
    """The file a CSV or Parquet source reads (None for other sources)."""
    return source.path if isinstance(source, CsvSource | ParquetSource) else None


def _has_header(source: Source) -> bool:
    return isinstance(source, CsvSource) and source.read_kwargs.get("header", "infer") is not None
