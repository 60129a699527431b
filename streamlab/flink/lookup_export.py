"""``to_flink_sql`` for ``stream.merge(df, on=..., how=...)``, the enrichment with a static table.

Flink's form for it is a **lookup join** against a table that holds the DataFrame's rows:
``JOIN users FOR SYSTEM_TIME AS OF s.proc_time AS u ON s.user = u.user``. The export needs that
table's name, ``lookup_table=``; without it, it refuses and says so. Two forms:

- ``lookup_table="users"`` alone: a processing-time lookup join. Declare ``users`` yourself with a
  lookup connector (JDBC, HBase, Hive ...): the script's header gives its columns. As long as the
  table holds the DataFrame's rows, each stream row meets the same rows as in pandas ``merge``.
- ``lookup_table="users", paths={"users": "users.csv"}``: the export declares ``users`` as a
  filesystem table over that file (write it with ``streamlab.flink.write_csv(df, path)``). Flink
  refuses a lookup join against a filesystem table (it has no lookup), and a regular join with a
  LEFT side is an updating result, so the export uses the form that gives the same append-only
  rows: an **event-time temporal join** against the table as a versioned table whose rows are all
  valid since 0001-01-01 (a constant version time, the join keys as primary key). A versioned table
  has one row per key, so this form needs unique keys in the DataFrame (it refuses duplicates).

>>> import streamlab as sl, pandas as pd
>>> clicks = sl.from_frame(pd.DataFrame({"ts": pd.to_datetime([0], unit="ms"), "user": ["u1"]}), time="ts")
>>> users = pd.DataFrame({"user": ["u1"], "country": ["NP"]})
>>> print(sl.flink.to_flink_sql(clicks.merge(users, on="user"), path="/d/clicks.csv", lookup_table="users",
...                             parts=True).query)
SELECT CAST(l.ts AS TIMESTAMP(3)) AS ts, l.`user` AS `user`, r.country AS country
FROM src_proc AS l LEFT JOIN users FOR SYSTEM_TIME AS OF l.proc_time AS r
ON l.`user` = r.`user`
>>> clicks.merge(users, on="user").to_flink_sql(path="/d/clicks.csv")
Traceback (most recent call last):
...
ValueError: merge() with a static DataFrame exports as a lookup join against a Flink table that holds its rows: pass lookup_table='users' (declare that table with a lookup connector such as JDBC), or lookup_table='users', paths={'users': '/data/users.csv'} to declare it from a file written by streamlab.flink.write_csv(df, path)
"""

from __future__ import annotations

import os

import pandas as pd

from ..joins.common import JoinColumns
from ..joins.merge import Merge
from .connectors import file_uri
from .join_query import HOW_SQL, JoinQuery, Table, finish, key_condition, pair_columns, side_tables
from .options import FlinkExportOptions
from .render import columns_block, ident, string, with_clause
from .schema import flink_type

#: The version time of every row of a file-backed lookup table (valid since then).
VALID_SINCE = "TIMESTAMP '0001-01-01 00:00:00.000'"


def _fresh(name: str, taken) -> str:
    while name in taken:
        name += "_"
    return name


def _refuse() -> ValueError:
    return ValueError("merge() with a static DataFrame exports as a lookup join against a Flink table that holds "
                      "its rows: pass lookup_table='users' (declare that table with a lookup connector such as "
                      "JDBC), or lookup_table='users', paths={'users': '/data/users.csv'} to declare it from a "
                      "file written by streamlab.flink.write_csv(df, path)")


def table_types(df: pd.DataFrame, overrides) -> dict[str, str]:
    """{column: Flink type} of the static table (``types=`` wins)."""
    out = {}
    for c in df.columns:
        t = overrides.get(c) or flink_type(df[c])
        if t is None:
            raise ValueError(f"the Flink type of the merged table's column {c!r} is unknown; "
                             f"pass types={{{c!r}: 'STRING'}}")
        out[str(c)] = t
    return out


def lookup_join_query(merge: Merge, options: FlinkExportOptions, source_ddl) -> JoinQuery:
    """The :class:`JoinQuery` of ``merge`` as a lookup join (see the module docstring)."""
    name = options.lookup_table
    if name is None:
        raise _refuse()
    notes: list[str] = []
    ddl, (probe,) = side_tables(merge.upstreams, options, source_ddl, notes)
    df = merge.table
    types = table_types(df, options.types)
    cols = JoinColumns(probe.columns, list(types), merge.left_on, merge.right_on, merge.suffixes)
    if merge.columns is not None and cols.output != list(merge.columns):
        raise ValueError(f"the merge's columns {list(merge.columns)} have no Flink lookup-join form here "
                         f"(expected {cols.output}); rename clashing columns before the merge")
    path = options.paths.get(name)
    keys = list(merge.right_on)
    if path is None:
        proc = _fresh("proc_time", probe.columns)
        view = _fresh(f"{probe.name}_proc", [probe.name, name])
        ddl.append(f"CREATE TEMPORARY VIEW {ident(view)} AS SELECT *, PROCTIME() AS {ident(proc)} "
                   f"FROM {ident(probe.name)}")
        left, at = Table(view, probe.rowtime, probe.types, probe.chain), proc
        decl = ", ".join(f"{ident(c)} {t}" for c, t in types.items())
        notes.append(f"{name} must be a lookup table holding the DataFrame's {len(df)} rows, e.g. "
                     f"CREATE TABLE {ident(name)} ({decl}) WITH ('connector' = 'jdbc', ...)")
        if df[keys].isna().any(axis=None):
            notes.append("the DataFrame has NULL keys: pandas merge matches them with NULL keys of the stream, "
                         "Flink's join never matches NULL")
    else:
        if df[keys].isna().any(axis=None):
            raise ValueError(f"lookup_table={name!r} from a file: the DataFrame has NULL keys in {keys}, which a "
                             "primary key cannot hold (and Flink never matches NULL); drop those rows first")
        if df.duplicated(subset=keys).any():
            raise ValueError(f"lookup_table={name!r} from a file is joined as a versioned table (one row per key), "
                             f"but the DataFrame has duplicate keys in {keys}; make them unique, or pass only "
                             f"lookup_table={name!r} (no file in paths=) for a lookup join against a JDBC table")
        valid = _fresh("valid_from", list(types))
        fmt = "parquet" if os.fspath(path).endswith(".parquet") else "csv"
        # numeric event time has a TIMESTAMP_LTZ rowtime (TO_TIMESTAMP_LTZ); Flink's temporal join
        # needs the versioned table's rowtime of the same type
        ltz = merge.time_meta is not None and merge.time_meta.unit is not None
        since = f"CAST({VALID_SINCE} AS TIMESTAMP_LTZ(3))" if ltz else VALID_SINCE
        lines = [*(f"{ident(c)} {t}" for c, t in types.items()), f"{ident(valid)} AS {since}",
                 f"WATERMARK FOR {ident(valid)} AS {ident(valid)}",
                 f"PRIMARY KEY ({', '.join(ident(k) for k in keys)}) NOT ENFORCED"]
        opts: dict[str, object] = {"connector": "filesystem", "path": file_uri(path), "format": fmt}
        if fmt == "csv":
            opts["csv.null-literal"] = ""
        ddl.append(f"CREATE TABLE {ident(name)} {columns_block(lines)} {with_clause(opts)}")
        left, at = probe, probe.rowtime
        notes.append(f"{name} is a filesystem table, which cannot serve a lookup join; it is joined as a versioned "
                     f"table whose rows are valid since 0001-01-01 (event-time temporal join: same rows as pandas "
                     f"merge; each row is emitted once the watermark passes it). Write it with "
                     f"streamlab.flink.write_csv(df, {string(os.fspath(path))})")
    right = Table(name, "", types, None)  # type: ignore[arg-type]
    body = [f"FROM {ident(left.name)} AS l {HOW_SQL[merge.how]} {ident(name)} FOR SYSTEM_TIME AS OF "
            f"l.{ident(at)} AS r",
            f"ON {key_condition(merge.left_on, merge.right_on)}"]
    return JoinQuery("lookup join", merge.label(), ddl, pair_columns(cols, merge.how, left, right), body,
                     probe.chain.source, notes)


def lookup_join_export(merge: Merge, options: FlinkExportOptions, source_ddl) -> dict:
    """The parts of the export of ``merge`` with a static table."""
    return finish(lookup_join_query(merge, options, source_ddl), options)
