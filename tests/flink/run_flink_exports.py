"""Run ``to_flink_sql`` scripts in ONE Flink process: append-only ones as one StatementSet job,
changelog ones (sink ``print`` or ``upsert-kafka``) by collecting their query with its row kinds.

Run it with the Flink virtualenv's interpreter (``.venv-flink/bin/python``):

    .venv-flink/bin/python tests/flink/run_flink_exports.py JOB.json

``JOB.json`` holds ``{"scripts": {name: script}, "collect": {name: script}, "out": "/abs/dir"}``.
Every script's ``SET`` statements go into the configuration (a conflict is an error), its
``CREATE`` statements run as written. A ``scripts`` INSERT joins the StatementSet; a ``collect``
script's INSERT is not run: its ``SELECT`` (the exported query, verbatim) is collected instead, as
``TableResult.collect()`` gives it, into ``<out>/<name>.changelog.jsonl`` (one
``{"op": "+I", "values": [...]}`` line per row; timestamps as text). Flink's filesystem sink takes
only inserts, so this is how a changelog export is checked without a Kafka broker.

``"validate": {name: script}`` (optional, e.g. Kafka and upsert-kafka exports, whose jars PyFlink
does not ship) are only checked as ``run_flink_scripts.validate`` does: the DDL as written, then the
query's columns over ``datagen`` stand-ins; they go to ``<out>/validated.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_flink_scripts import split_settings, validate  # noqa: E402

_KINDS = {"INSERT": "+I", "UPDATE_BEFORE": "-U", "UPDATE_AFTER": "+U", "DELETE": "-D"}


def run(job: dict) -> dict:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    started = time.monotonic()
    settings: dict[str, str] = {}
    plans: dict[tuple[str, str], list[str]] = {}
    for kind in ("scripts", "collect"):
        _, plan = split_settings(job.get(kind) or {}, settings)
        plans.update({(kind, name): statements for name, statements in plan.items()})
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    for key, value in settings.items():
        t_env.get_config().set(key, value)
    statement_set = t_env.create_statement_set()
    queries: dict[str, str] = {}
    for (kind, name), statements in plans.items():
        for statement in statements:
            if not statement.upper().startswith("INSERT"):
                t_env.execute_sql(statement)
            elif kind == "scripts":
                statement_set.add_insert_sql(statement)
            else:
                queries[name] = statement[statement.upper().index("SELECT"):]
    if any(kind == "scripts" for kind, _ in plans):
        statement_set.execute().wait()
    appended = time.monotonic()
    out = Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    for name, query in queries.items():
        with t_env.execute_sql(query).collect() as rows, (out / f"{name}.changelog.jsonl").open("w") as fh:
            for row in rows:
                values = [v if v is None or isinstance(v, (int, float, str)) else str(v) for v in row]
                fh.write(json.dumps({"op": _KINDS[row.get_row_kind().name], "values": values}) + "\n")
    checked = {name: validate(t_env, script) for name, script in (job.get("validate") or {}).items()}
    (out / "validated.json").write_text(json.dumps(checked))
    from pyflink.version import __version__ as flink_version

    return {"flink_version": flink_version, "inserts": len(plans) - len(queries), "collected": len(queries),
            "seconds_append": round(appended - started, 3), "seconds_collect": round(time.monotonic() - appended, 3)}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} JOB.json", file=sys.stderr)
        return 2
    summary = run(json.loads(Path(argv[1]).read_text()))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
