"""The options of ``to_flink_sql(connector=..., **options)`` as one frozen, checked dataclass."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

CONNECTORS = ("filesystem", "kafka")
#: Sink connectors: ``print`` prints rows with their row kinds (for changelog results).
SINKS = (*CONNECTORS, "print")
#: ``start=`` -> the Kafka table's ``scan.startup.mode``.
STARTUP = {"earliest": "earliest-offset", "latest": "latest-offset", "committed": "group-offsets"}
_TEXT = ("source_table", "sink_table", "rowtime", "format", "sink_format", "topic", "sink_topic",
         "bootstrap", "sink_bootstrap", "group", "lookup_table")


@dataclass(frozen=True, kw_only=True)
class FlinkExportOptions:
    """How to export: connectors, table names and overrides. None means "from the pipeline".

    >>> FlinkExportOptions(connector="kafka", topic="events").sink
    'kafka'
    >>> FlinkExportOptions(start="newest")
    Traceback (most recent call last):
    ...
    ValueError: start='newest'; use one of earliest, latest, committed
    """

    connector: str = "filesystem"
    """Source connector, ``"filesystem"`` or ``"kafka"``; also the sink's unless ``sink_connector``."""
    sink_connector: str | None = None
    """Sink connector when it differs from ``connector``: filesystem, kafka or print."""
    source_table: str | None = None
    """Source table name (default: the ``%%streamlab`` query's stream name, else ``src``)."""
    sink_table: str | None = None
    """Sink table name (default ``sink``)."""
    types: Mapping[str, str] = field(default_factory=dict)
    """``{column: Flink type}`` overrides, e.g. ``{"v": "DECIMAL(10, 2)"}``."""
    rowtime: str | None = None
    """Name of the computed timestamp column for numeric event time (default ``<time>_time``)."""
    path: str | os.PathLike | None = None
    """Filesystem source: the input file (default: the source's own file)."""
    format: str | None = None
    """Source format (default: csv or parquet from the source; json for Kafka)."""
    topic: str | None = None
    """Kafka source topic (default: the Kafka source's)."""
    bootstrap: str | None = None
    """Kafka bootstrap servers (default: the Kafka source's, else ``127.0.0.1:9092``)."""
    group: str | None = None
    """Kafka consumer group (default: the Kafka source's, else ``streamlab-flink``)."""
    start: str | None = None
    """Kafka start: ``earliest``, ``latest`` or ``committed`` (default: the source's)."""
    sink_path: str | os.PathLike | None = None
    """Filesystem sink directory (default ``<sink_table>-out`` next to the input)."""
    sink_topic: str | None = None
    """Kafka sink topic (default ``<topic>-windows``)."""
    sink_format: str | None = None
    """Sink format (default csv for files, json for Kafka)."""
    sink_bootstrap: str | None = None
    """Kafka sink bootstrap servers (default: the source's)."""
    source_options: Mapping[str, object] = field(default_factory=dict)
    """Extra ``WITH`` options of the source table; they win over the computed ones."""
    sink_options: Mapping[str, object] = field(default_factory=dict)
    """Extra ``WITH`` options of the sink table; they win over the computed ones."""
    settings: bool = True
    """False leaves out the ``SET`` statements that make Flink deterministic."""
    paths: Mapping[str, str | os.PathLike] = field(default_factory=dict)
    """Filesystem input file per table, for exports that read several tables (joins), e.g.
    ``{"src_l": "/data/orders.csv", "src_r": "/data/rates.csv"}``; they win over ``path``."""
    lookup_table: str | None = None
    """``merge()`` with a static DataFrame: the Flink table holding its rows. The export is a
    lookup join against it (``FOR SYSTEM_TIME AS OF`` processing time): declare it with a lookup
    connector such as JDBC. With a file for it in ``paths`` the export declares it as a
    filesystem table instead (see :mod:`streamlab.flink.lookup_export`)."""

    def __post_init__(self) -> None:
        _choice("connector", self.connector, CONNECTORS)
        if self.sink_connector is not None:
            _choice("sink_connector", self.sink_connector, SINKS)
        if self.start is not None:
            _choice("start", self.start, STARTUP)
        for name in _TEXT:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise TypeError(f"{name}= takes a non-empty string, got {value!r}; e.g. "
                                f"{name}='events', or leave it out for the default")
        for name in ("path", "sink_path"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str | os.PathLike):
                raise TypeError(f"{name}= takes a file path or URI, got {value!r}; e.g. "
                                f"{name}='/data/events.csv'")
        if not isinstance(self.settings, bool):
            raise TypeError(f"settings= takes True or False, got {self.settings!r}")
        object.__setattr__(self, "types", _mapping("types", self.types, str,
                                                   "{column: Flink type}", "{'v': 'DOUBLE'}"))
        object.__setattr__(self, "paths", _mapping("paths", self.paths, str | os.PathLike,
                                                   "{table: file}", "{'src_r': '/data/rates.csv'}"))
        for name in ("source_options", "sink_options"):
            copy = _mapping(name, getattr(self, name), object, "{WITH option: value}",
                            "{'csv.field-delimiter': ';'}")
            object.__setattr__(self, name, copy)

    @property
    def sink(self) -> str:
        """The sink's connector."""
        return self.sink_connector or self.connector

    @classmethod
    def of(cls, connector: str = "filesystem", **options: object) -> FlinkExportOptions:
        """From ``to_flink_sql`` keywords; TypeError naming an unknown one and listing the rest.

        >>> FlinkExportOptions.of(sinkpath="/x")
        Traceback (most recent call last):
        ...
        TypeError: to_flink_sql() got unknown option(s) ['sinkpath'] (did you mean sink_path?); options are: connector, sink_connector, source_table, sink_table, types, rowtime, path, format, topic, bootstrap, group, start, sink_path, sink_topic, sink_format, sink_bootstrap, source_options, sink_options, settings, paths, lookup_table
        """
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            guess = difflib.get_close_matches(unknown[0], OPTIONS, n=1)
            hint = f" (did you mean {guess[0]}?)" if guess else ""
            raise TypeError(f"to_flink_sql() got unknown option(s) {unknown}{hint}; options are: "
                            f"{', '.join(OPTIONS)}")
        return cls(connector=connector, **options)  # type: ignore[arg-type]


def _choice(name: str, value: object, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r}; use one of {', '.join(allowed)}")


def _mapping(name: str, value: object, kind: Any, shape: str, example: str) -> dict:
    """A copy of a ``{str: kind}`` option (None is empty)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, kind) for k, v in value.items()):
        raise TypeError(f"{name}= takes a dict {shape}, got {value!r}; e.g. {name}={example}")
    return dict(value)


#: Every option name, in the dataclass's order.
OPTIONS = tuple(f.name for f in fields(FlinkExportOptions))

__all__ = ["CONNECTORS", "OPTIONS", "SINKS", "STARTUP", "FlinkExportOptions"]
