"""``to_flink_sql`` for an interval join: source DDL (one table when both inputs read the same
source, as in streamlab's graph), a view per input for its ``where`` steps, and the join query.

>>> import streamlab as sl, pandas as pd
>>> df = pd.DataFrame({"ts": pd.to_datetime([0], unit="ms"), "side": ["L"], "k": ["a"]})
>>> src = sl.from_frame(df, time="ts").watermark("200ms")
>>> j = src.where("side == 'L'").join(src.where("side == 'R'"), on="k", between=("-1s", "2s"), how="left")
>>> print(sl.flink.to_flink_sql(j, path="/data/rows.csv", parts=True).query)
SELECT CAST(l.ts AS TIMESTAMP(3)) AS ts_x, l.side AS side_x, l.k AS k, CAST(r.ts AS TIMESTAMP(3)) AS ts_y, r.side AS side_y
FROM src_l AS l LEFT JOIN src_r AS r
ON l.k = r.k AND r.ts BETWEEN l.ts - INTERVAL '1' SECOND AND l.ts + INTERVAL '2' SECOND
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..joins.interval import IntervalJoin
from ..sources.base import Source
from ..transforms import watermark as Watermark
from ..transforms import where as Where
from .connectors import sink_options
from .options import FlinkExportOptions
from .render import columns_block, ident, interval, with_clause
from .tvf import where_sql


@dataclass
class SideChain:
    """What the source DDL needs of one input: source, watermark, where steps."""

    source: Source
    watermark: Watermark | None
    wheres: list[Where] = field(default_factory=list)
    constants: dict = field(default_factory=dict)

    @property
    def time_meta(self):
        return self.source.time_meta

    idle_timeout = None


def read_side(stream) -> SideChain:
    """source -> watermark -> where ... (anything else: a ValueError naming it)."""
    steps, up = [], stream
    while not isinstance(up, Source):
        steps.append(up)
        ups = [u for u in getattr(up, "upstreams", []) if u is not None]
        if len(ups) != 1:
            raise ValueError(f"{up!r} has {len(ups)} inputs; a join input exports as one source chain")
        up = ups[0]
    chain = SideChain(up, None)
    for step in reversed(steps):
        if isinstance(step, Watermark) and chain.watermark is None:
            chain.watermark = step
        elif isinstance(step, Where) and isinstance(step.predicate, str) or hasattr(
                getattr(step, "predicate", None), "flink_sql"):
            chain.wheres.append(step)
        else:
            raise ValueError(f"{step!r} cannot be exported before a join; use watermark() and "
                             "where('query string') only")
    return chain


def _bound(col: str, ms: int) -> str:
    return col if not ms else f"{col} {'-' if ms < 0 else '+'} {interval(abs(ms))}"


def interval_join_export(join: IntervalJoin, options: FlinkExportOptions, source_ddl) -> dict:
    """The parts of the export of an interval join (``source_ddl`` makes one table's DDL)."""
    notes: list[str] = []
    sides = [read_side(u) for u in join.upstreams]
    base = options.source_table or "src"
    shared = sides[0].source is sides[1].source and sides[0].watermark is sides[1].watermark
    ddl, names, rowtimes, types = [], [], [], {}
    for i, side in enumerate(sides):
        table = base if shared else f"{base}_{'lr'[i]}"
        if i == 0 or not shared:
            text, rowtime, t = source_ddl(side, options, table, notes)
            ddl.append(text)
            types.update(t)
        rowtimes.append(rowtime)
        name = f"{base}_{'lr'[i]}"
        if side.wheres or shared:
            cond = f" WHERE {where_sql(side, types)}" if side.wheres else ""  # type: ignore[arg-type]
            ddl.append(f"CREATE TEMPORARY VIEW {ident(name)} AS SELECT * FROM {ident(table)}{cond}")
        names.append(name if (side.wheres or shared) else table)
    cols, how = join.cols, {"inner": "JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN", "full": "FULL JOIN"}[join.how]
    select, sink = [], []
    def col(alias: str, c: str, rowtime: str) -> str:  # a sink takes one rowtime: cast the others
        return f"CAST({alias}.{ident(c)} AS TIMESTAMP(3))" if c == rowtime else f"{alias}.{ident(c)}"

    for c, out in cols.left_names.items():
        expr = col("l", c, rowtimes[0])
        if c in cols.shared_keys and join.how in ("right", "full"):
            expr = f"COALESCE(l.{ident(c)}, r.{ident(c)})"
        select.append(f"{expr} AS {ident(out)}")
        sink.append((out, types.get(c, "STRING")))
    for c, out in cols.right_names.items():
        select.append(f"{col('r', c, rowtimes[1])} AS {ident(out)}")
        sink.append((out, types.get(c, "STRING")))
    keys = " AND ".join(f"l.{ident(a)} = r.{ident(b)}" for a, b in zip(join.left_on, join.right_on))
    lt, rt = f"l.{ident(rowtimes[0])}", f"r.{ident(rowtimes[1])}"
    query = "\n".join([f"SELECT {', '.join(select)}",
                       f"FROM {ident(names[0])} AS l {how} {ident(names[1])} AS r",
                       f"ON {keys} AND {rt} BETWEEN {_bound(lt, join.lower)} AND {_bound(lt, join.upper)}"])
    sink_table = options.sink_table or "sink"
    sink_cols = [f"{ident(n)} {t}" for n, t in sink]
    sink_ddl = f"CREATE TABLE {ident(sink_table)} {columns_block(sink_cols)} " \
               f"{with_clause(sink_options(sides[0].source, options, sink_table))}"
    return {"ddl": ddl, "sink_ddl": sink_ddl, "query": query, "sink_table": sink_table, "sink_columns": sink,
            "header": ["streamlab interval join export", *notes]}
