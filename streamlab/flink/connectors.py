"""``WITH (...)`` options of the source and sink tables: filesystem or Kafka."""

from __future__ import annotations

import os

from ..sources.base import Source

CONNECTORS = ("filesystem", "kafka")
STARTUP = {"earliest": "earliest-offset", "latest": "latest-offset", "committed": "group-offsets"}


def file_uri(path) -> str:
    """A ``file://`` URI for a local path (URIs are kept as they are).

    >>> file_uri("/data/in.csv"), file_uri("s3://b/k")
    ('file:///data/in.csv', 's3://b/k')
    """
    text = os.fspath(path)
    if "://" in text:
        return text
    return "file://" + os.path.abspath(text)


def source_options(source: Source, connector: str, opts: dict, notes: list[str], table: str) -> dict:
    """The source table's WITH options."""
    if connector == "kafka":
        topic = opts.get("topic") or _kafka(source, "topic")
        if not topic:
            topic = table
            notes.append(f"topic {topic!r} is the table name: pass topic= (the source is not Kafka)")
        start = opts.get("start") or _kafka(source, "start_at") or "earliest"
        if start not in STARTUP:
            raise ValueError(f"start={start!r}; use one of {', '.join(STARTUP)}")
        out = {
            "connector": "kafka",
            "topic": topic,
            "properties.bootstrap.servers": _bootstrap(source, opts),
            "properties.group.id": opts.get("group") or _kafka(source, "group")
            or "streamlab-flink",
            "scan.startup.mode": STARTUP[start],
            "format": opts.get("format") or _kafka(source, "format") or "json",
        }
        if start == "committed":
            out["properties.auto.offset.reset"] = "earliest"
        if out["format"] == "json":
            out["json.timestamp-format.standard"] = "ISO-8601"
        elif out["format"] == "raw":  # message key and value as text, like from_kafka(format="raw")
            out.update({"key.format": "raw", "key.fields": "key", "value.fields-include": "EXCEPT_KEY"})
    else:
        path = opts.get("path") or getattr(source, "path", None)
        fmt = opts.get("format") or ("parquet" if hasattr(source, "_file") else "csv")
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
    out.update(opts.get("source_options") or {})
    return out


def sink_options(source: Source, connector: str, opts: dict, table: str) -> dict:
    """The sink table's WITH options."""
    if connector == "kafka":
        source_topic = opts.get("topic") or _kafka(source, "topic")
        topic = opts.get("sink_topic") or (f"{source_topic}-windows" if source_topic else table)
        out = {
            "connector": "kafka",
            "topic": topic,
            "properties.bootstrap.servers": opts.get("sink_bootstrap") or _bootstrap(source, opts),
            "format": opts.get("sink_format") or "json",
        }
        if out["format"] == "json":
            out["json.timestamp-format.standard"] = "ISO-8601"
    else:
        path = opts.get("sink_path")
        if path is None:
            src = opts.get("path") or getattr(source, "path", None)
            base = os.path.dirname(os.path.abspath(os.fspath(src))) if src else "/path/to"
            path = os.path.join(base, f"{table}-out")
        out = {"connector": "filesystem", "path": file_uri(path),
               "format": opts.get("sink_format") or "csv"}
    out.update(opts.get("sink_options") or {})
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
    declared = {c: d for c, d in meta.items() if c in columns and _kafka(source, "topic")}
    if source.time_meta.column == "kafka_timestamp":
        declared["kafka_timestamp"] = meta["kafka_timestamp"]
    raw = {"key": "STRING", "value": "STRING"} if fmt == "raw" else {}
    return declared, raw


def fmt_is(options: dict, fmt: str) -> bool:
    """True when the table's format is ``fmt``."""
    return options.get("format") == fmt


def _bootstrap(source, opts) -> str:
    return opts.get("bootstrap") or _kafka(source, "bootstrap") or "127.0.0.1:9092"


def _kafka(source, name: str):
    """A Kafka source's setting (``topic``, ``bootstrap``, ...); None for other sources."""
    if not isinstance(getattr(source, "topic", None), str):
        return None
    value = getattr(source, name, None)
    return None if callable(value) else value


def _has_header(source) -> bool:
    kwargs = getattr(source, "read_kwargs", None)
    if kwargs is None:
        return False
    return kwargs.get("header", "infer") is not None
