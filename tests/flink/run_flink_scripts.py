"""Run several Flink SQL scripts (as ``res.to_flink_sql()`` writes them) in ONE Flink job.

Run it with the Flink virtualenv's interpreter (``.venv-flink/bin/python``), never the main one:

    .venv-flink/bin/python tests/flink/run_flink_scripts.py JOB.json

``JOB.json`` holds ``{"scripts": {"name": "SET ...; CREATE TABLE ...; INSERT INTO ...;", ...},
"validate": {"name": "...", ...}, "summary": "/abs/summary.json"}``. Every script is split into
statements, as the SQL client does:

- ``SET 'key' = 'value'`` goes into the TableEnvironment's configuration (``executeSql`` does not
  take SET); scripts that set one key to different values are an error;
- ``CREATE ...`` runs at once; table names must differ between scripts;
- every ``INSERT INTO`` joins one StatementSet, so the JVM and the mini-cluster start once.

``validate`` scripts (optional) are only checked, for connectors whose jar PyFlink does not ship
(Kafka): each ``CREATE TABLE`` must pass Flink's DDL checks as written; then the table is made
again as a ``datagen`` stand-in with the same columns (metadata columns made physical), and the
INSERT's query is resolved against it. Nothing runs and their SETs are ignored.

The summary records the Flink version, the settings, the validated queries' result schemas and
the seconds spent.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

_SET = re.compile(r"^SET\s+'((?:[^']|'')*)'\s*=\s*'((?:[^']|'')*)'$", re.IGNORECASE | re.DOTALL)


def split_statements(script: str) -> list[str]:
    """Statements of a script without comments and ``;`` (quote-aware).

    >>> split_statements("-- c\\nSET 'a' = 'x;y';\\nSELECT `a;b` FROM t; -- end")
    ["SET 'a' = 'x;y'", 'SELECT `a;b` FROM t']
    """
    out, buf, i, quote = [], [], 0, None
    while i < len(script):
        ch = script[i]
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'`\"":
            quote = ch
            buf.append(ch)
        elif script.startswith("--", i):
            while i < len(script) and script[i] != "\n":
                i += 1
            continue
        elif ch == ";":
            out.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf).strip())
    return [s for s in out if s]


def split_settings(scripts: dict, settings: dict | None = None) -> tuple[dict[str, str], dict]:
    """The scripts' ``SET`` statements as one settings dict (a conflict is an error), and each
    script's other statements, by name."""
    settings = {} if settings is None else settings
    plan: dict = {}
    for name, script in scripts.items():
        for statement in split_statements(script):
            match = _SET.match(statement)
            if match:
                key, value = (g.replace("''", "'") for g in match.groups())
                if settings.get(key, value) != value:
                    raise ValueError(f"{name}: SET {key!r} = {value!r} conflicts with {settings[key]!r}")
                settings[key] = value
            else:
                plan.setdefault(name, []).append(statement)
    return settings, plan


def run(job: dict) -> dict:
    """Run every script of ``job`` in one Flink job; return the summary."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    started = time.monotonic()
    settings, plan = split_settings(job["scripts"])
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    for key, value in settings.items():
        conf.set(key, value)
    statement_set = t_env.create_statement_set()
    inserts = 0
    for statements in plan.values():
        for statement in statements:
            if statement.upper().startswith("INSERT"):
                statement_set.add_insert_sql(statement)
                inserts += 1
            else:
                t_env.execute_sql(statement)
    planned = time.monotonic()
    statement_set.execute().wait()
    finished = time.monotonic()
    schemas = {name: validate(t_env, script) for name, script in (job.get("validate") or {}).items()}

    from pyflink.version import __version__ as flink_version

    summary = {"flink_version": flink_version, "settings": settings, "inserts": inserts,
               "validated": schemas, "seconds_setup": round(planned - started, 3),
               "seconds_job": round(finished - planned, 3)}
    Path(job["summary"]).write_text(json.dumps(summary, indent=2))
    return summary


_TABLE = re.compile(r"^CREATE\s+TABLE\s+(`[^`]+`|\w+)", re.IGNORECASE)
_WITH = re.compile(r"\)\s*WITH\s*\(.*\)\s*$", re.DOTALL)
_METADATA = re.compile(r"\s+METADATA(\s+FROM\s+'[^']*')?(\s+VIRTUAL)?")


def validate(t_env, script: str) -> list[str]:
    """Check a script's DDL and resolve its INSERT's query; return the query's columns."""
    columns: list[str] = []
    for statement in split_statements(script):
        if _SET.match(statement):
            continue
        if statement.upper().startswith("INSERT"):
            query = statement[statement.upper().index("SELECT"):]
            schema = t_env.sql_query(query).get_resolved_schema()
            columns = [str(c) for c in schema.get_columns()]
            continue
        t_env.execute_sql(statement)
        table = _TABLE.match(statement)
        if table:
            t_env.execute_sql(f"DROP TABLE {table.group(1)}")
            stand_in = _WITH.sub(") WITH ('connector' = 'datagen')", _METADATA.sub("", statement))
            t_env.execute_sql(stand_in)
    return columns


def main(argv: list[str]) -> int:
    """Command-line entry point: ``run_flink_scripts.py JOB.json``."""
    if len(argv) != 2:
        print(f"usage: {argv[0]} JOB.json", file=sys.stderr)
        return 2
    summary = run(json.loads(Path(argv[1]).read_text()))
    print(f"flink {summary['flink_version']}: {summary['inserts']} inserts, "
          f"setup {summary['seconds_setup']} s, job {summary['seconds_job']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
