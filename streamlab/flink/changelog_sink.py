"""The sink of an exported result that is a changelog (continuous GROUP BY, Top-N, keep-last).

Flink's filesystem sink takes only inserts, so an updating result cannot be written to files:

- ``sink_connector="print"`` (the default for a file source): Flink's ``print`` connector, which
  prints every row with its row kind (``sink> +U[a, 3]``) on the TaskManager's stdout — or run the
  query alone and ``collect()`` it, as the tests do;
- ``sink_connector="kafka"`` (the default for a Kafka source): ``upsert-kafka``, keyed by the
  result's unique key (the GROUP BY keys, the deduplication keys, or the Top-N partition keys with
  ``rownum``), with a tombstone for each ``-D``.

>>> from streamlab.flink.options import FlinkExportOptions
>>> print(changelog_sink_options(FlinkExportOptions(), None, "sink"))
{'connector': 'print', 'print-identifier': 'sink'}
>>> changelog_sink_options(FlinkExportOptions(sink_connector="filesystem"), None, "sink")
Traceback (most recent call last):
...
ValueError: this result is a changelog (-U/+U/-D rows) and Flink's filesystem sink accepts only inserts; export with sink_connector='print' (the default) or 'kafka' (upsert-kafka)
"""

from __future__ import annotations

from .connectors import DEFAULT_BOOTSTRAP, KafkaDefaults
from .options import FlinkExportOptions
from .render import columns_block, ident, with_clause


def changelog_sink_options(opts: FlinkExportOptions, source, table: str) -> dict:
    """The WITH options of a changelog's sink table."""
    sink = opts.sink_connector or ("kafka" if opts.connector == "kafka" else "print")
    if sink == "filesystem":
        raise ValueError("this result is a changelog (-U/+U/-D rows) and Flink's filesystem sink accepts "
                         "only inserts; export with sink_connector='print' (the default) or 'kafka' (upsert-kafka)")
    if sink == "print":
        out: dict[str, object] = {"connector": "print", "print-identifier": table}
    else:
        own = KafkaDefaults.of(source)
        topic = opts.sink_topic or (f"{opts.topic or own.topic}-updates" if (opts.topic or own.topic) else table)
        out = {"connector": "upsert-kafka", "topic": topic,
               "properties.bootstrap.servers": opts.sink_bootstrap or opts.bootstrap or own.bootstrap
               or DEFAULT_BOOTSTRAP,
               "key.format": opts.sink_format or "json", "value.format": opts.sink_format or "json"}
    out.update(opts.sink_options)
    return out


def changelog_sink_ddl(opts: FlinkExportOptions, source, table: str, columns: list[tuple[str, str]],
                       key: list[str] | None) -> str:
    """``CREATE TABLE`` of a changelog's sink; upsert-kafka declares ``key`` as its primary key."""
    options = changelog_sink_options(opts, source, table)
    lines = [f"{ident(n)} {t}" for n, t in columns]
    if options["connector"] == "upsert-kafka":
        names = [n for n, _ in columns]
        if not key or any(k not in names for k in key):
            raise ValueError(
                f"upsert-kafka needs the result's unique key {key or '(none: a Top-N without rownum)'} among "
                f"its columns {names}; keep the key columns (and rownum for a Top-N: SELECT *, rownum in "
                f"%%streamlab), or export with sink_connector='print'")
        lines.append(f"PRIMARY KEY ({', '.join(ident(k) for k in key)}) NOT ENFORCED")
    return f"CREATE TABLE {ident(table)} {columns_block(lines)} {with_clause(options)}"
