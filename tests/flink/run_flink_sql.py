"""Run a batch of Flink SQL window queries over one CSV file, in one streaming job.

Run it with the Flink virtualenv's interpreter (``.venv-flink/bin/python``), never the main one:

    .venv-flink/bin/python tests/flink/run_flink_sql.py JOB.json

``JOB.json`` holds::

    {"input_csv": "/abs/in.csv",                 # no header, columns in the order below
     "columns": [["key", "STRING"], ["ts", "TIMESTAMP(3)"], ["v", "DOUBLE"]],
     "time_column": "ts",
     "watermark_delay_ms": 300,
     "queries": {"tumble": "SELECT ... FROM TABLE(TUMBLE(TABLE src, ...)) ..."},
     "output_dir": "/abs/out",
     "extra_sources": {"src_d0": 0},             # optional: more tables on the same file,
                                                 # each with its own watermark delay (ms)
     "tables": {"rates": {"input_csv": ..., "columns": ..., "time_column": ...,
                          "watermark_delay_ms": ...}},  # optional: more input tables (own files)
     "statements": ["CREATE TEMPORARY VIEW v AS ..."],  # optional: run before the queries
     "config": {"some.flink.option": "value"},   # optional, added to the defaults below
     "changelog_queries": {"name": "SELECT ..."}} # optional: updating queries, collected with
                                                 # their row kinds (one short job each)

The source table is called ``src``. Its event-time column is ``TIMESTAMP(3)`` with
``WATERMARK FOR ts AS ts - INTERVAL 'x' SECOND``. Every query gets its own filesystem CSV sink
table, and all the inserts run as one StatementSet, so the JVM and mini-cluster start only once.
Parallelism is 1 and the watermark is emitted after every record
(``pipeline.auto-watermark-interval = 0 ms``), so arrival order is file order and every record sees
the watermark of the records before it.

Outputs, under ``output_dir``:

- ``<name>/``: the query's rows as headerless CSV part files (Flink's own names);
- ``<name>.schema.json``: ``[[column, flink_type], ...]`` for those files;
- ``<name>.changelog.jsonl``: for each changelog query, one ``{"op": "+I", "values": [...]}`` line
  per row, in the order Flink's ``TableResult.collect()`` gave them (timestamps as text);
- ``job.json``: Flink version, settings, the optimised plan and the job's wall time.
"""

from __future__ import annotations

import json
import re
import sys
import time
from decimal import Decimal
from pathlib import Path

from pyflink.table import EnvironmentSettings, Schema, TableDescriptor, TableEnvironment

DEFAULT_CONFIG = {
    "parallelism.default": "1",
    "table.exec.resource.default-parallelism": "1",
    "pipeline.auto-watermark-interval": "0 ms",
    "table.local-time-zone": "UTC",
}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote(name: str) -> str:
    """Quote a SQL identifier with backticks."""
    return "`" + name.replace("`", "``") + "`"


def interval_literal(ms: int) -> str:
    """Return a Flink ``INTERVAL ... DAY TO SECOND`` literal for ``ms`` (>= 0) milliseconds."""
    ms = int(ms)
    if not 0 <= ms < 100 * 86_400_000:
        raise ValueError("the watermark delay must be in [0, 100 days)")
    days, rest = divmod(ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = Decimal(rest) / 1000
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{seconds:06.3f}' DAY TO SECOND(3)"


def column_type(col) -> str:
    """Return the SQL type of a resolved column, e.g. ``BIGINT NOT NULL``."""
    text = str(col)  # Java's Column.toString(): "`name` TYPE"
    prefix = quote(col.get_name()) + " "
    return text[len(prefix) :] if text.startswith(prefix) else text


def source_ddl(job: dict, table: str = "src", delay_ms: int | None = None) -> str:
    """Return the ``CREATE TABLE`` statement for the job's input file (default: ``src``)."""
    time_col = job["time_column"]
    cols = []
    for name, flink_type in job["columns"]:
        if name == time_col:
            flink_type = "TIMESTAMP(3)"
        cols.append(f"  {quote(name)} {flink_type}")
    if time_col not in {name for name, _ in job["columns"]}:
        raise ValueError(f"time_column {time_col!r} is not among the columns")
    if delay_ms is None:
        delay_ms = job["watermark_delay_ms"]
    delay = interval_literal(delay_ms)
    cols.append(f"  WATERMARK FOR {quote(time_col)} AS {quote(time_col)} - {delay}")
    path = Path(job["input_csv"]).resolve()
    return (
        f"CREATE TEMPORARY TABLE {quote(table)} (\n" + ",\n".join(cols) + "\n) WITH (\n"
        "  'connector' = 'filesystem',\n"
        f"  'path' = 'file://{path}',\n"
        "  'format' = 'csv'\n"
        ")"
    )


def make_env(extra: dict | None) -> TableEnvironment:
    """Create a streaming TableEnvironment with the deterministic settings."""
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    for key, value in {**DEFAULT_CONFIG, **(extra or {})}.items():
        conf.set(key, str(value))
    return t_env


def run(job: dict) -> dict:
    """Run every query of ``job`` in one Flink job and write the results; return a summary."""
    out = Path(job["output_dir"]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    t_env = make_env(job.get("config"))
    ddl = [source_ddl(job)]
    for table, delay_ms in (job.get("extra_sources") or {}).items():
        if not _NAME.match(table):
            raise ValueError(f"source name {table!r} must be a plain identifier")
        ddl.append(source_ddl(job, table, delay_ms))
    for table, spec in (job.get("tables") or {}).items():
        if not _NAME.match(table):
            raise ValueError(f"table name {table!r} must be a plain identifier")
        ddl.append(source_ddl(spec, table))
    ddl += list(job.get("statements") or [])
    for statement in ddl:
        t_env.execute_sql(statement)

    stmt = t_env.create_statement_set()
    schemas = {}
    for name, sql in job["queries"].items():
        if not _NAME.match(name):
            raise ValueError(f"query name {name!r} must be a plain identifier")
        table = t_env.sql_query(sql)
        resolved = table.get_resolved_schema()
        schemas[name] = [[col.get_name(), column_type(col)] for col in resolved.get_columns()]
        sink = (
            TableDescriptor.for_connector("filesystem")
            .schema(Schema.new_builder().from_resolved_schema(resolved).build())
            .option("path", f"file://{out / name}")
            .format("csv")
            .build()
        )
        t_env.create_temporary_table(f"sink_{name}", sink)
        stmt.add_insert(f"sink_{name}", table)
        (out / f"{name}.schema.json").write_text(json.dumps(schemas[name]))

    planned = time.monotonic()
    plan = ""
    if job["queries"]:
        plan = stmt.explain()
        planned = time.monotonic()
        stmt.execute().wait()
    for name, sql in (job.get("changelog_queries") or {}).items():
        if not _NAME.match(name):
            raise ValueError(f"query name {name!r} must be a plain identifier")
        collect_changelog(t_env, sql, out / f"{name}.changelog.jsonl")
    finished = time.monotonic()

    from pyflink.version import __version__ as flink_version

    summary = {
        "flink_version": flink_version,
        "config": {**DEFAULT_CONFIG, **(job.get("config") or {})},
        "source_ddl": ddl,
        "schemas": schemas,
        "plan": plan,
        "seconds_setup": round(planned - started, 3),
        "seconds_job": round(finished - planned, 3),
    }
    (out / "job.json").write_text(json.dumps(summary, indent=2))
    return summary


_KINDS = {"INSERT": "+I", "UPDATE_BEFORE": "-U", "UPDATE_AFTER": "+U", "DELETE": "-D"}


def collect_changelog(t_env: TableEnvironment, sql: str, path: Path) -> None:
    """Run ``sql`` and write every row Flink returns with its row kind, as JSON lines."""
    with t_env.execute_sql(sql).collect() as rows, path.open("w") as fh:
        for row in rows:
            kind = _KINDS[row.get_row_kind().name]
            fh.write(json.dumps({"op": kind, "values": [v if v is None or isinstance(v, (int, float, str))
                                                        else str(v) for v in row]}) + "\n")


def main(argv: list[str]) -> int:
    """Command-line entry point: ``run_flink_sql.py JOB.json``."""
    if len(argv) != 2:
        print(f"usage: {argv[0]} JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[1]).read_text())
    summary = run(job)
    print(
        f"flink {summary['flink_version']}: {len(job['queries'])} queries, "
        f"setup {summary['seconds_setup']} s, job {summary['seconds_job']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
