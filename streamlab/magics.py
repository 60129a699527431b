"""IPython magics: ``%%streamlab`` (a Flink SQL window query) and ``%streamlab`` (pipeline control).

``%load_ext streamlab`` registers :class:`StreamlabMagics`. Every input mistake raises a
:class:`StreamlabUsageError` (an IPython ``UsageError``: one line, no traceback) with a ``kind``
and a ``hint``; SQL mistakes also carry the ``line`` and ``column`` in the query body.
"""

from __future__ import annotations

from typing import Any

import streamz
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Int, Unicode

from streamlab.sql import commands as control
from streamlab.sql import joins, session
from streamlab.sql.analyze import catalog_of, plan_query
from streamlab.sql.errors import SQLError, did_you_mean, listing
from streamlab.sql.ranking import build as build_updating
from streamlab.sql.ranking import is_updating

PLOT_KINDS = ("line", "bar", "scatter", "step", "heatmap")


class StreamlabUsageError(UsageError):
    """A ``UsageError`` with ``kind``, ``hint`` and (for SQL) ``line``/``column``.

    >>> str(StreamlabUsageError("not_yet", "Flink export is not available yet", "soon"))
    'Flink export is not available yet — hint: soon'
    """

    def __init__(self, kind: str, what: str, hint: str = "", line: int | None = None,
                 column: int | None = None):
        self.kind, self.what, self.hint, self.line, self.column = kind, what, hint, line, column
        text = f"line {line}, column {column}: {what}" if line is not None else what
        super().__init__(f"{text} — hint: {hint}" if hint else text)

    @classmethod
    def from_sql(cls, error: SQLError) -> StreamlabUsageError:
        """The magic's form of a SQL error."""
        return cls(error.kind, error.what, error.hint, error.line, error.column)


def streams_in(namespace: dict[str, Any]) -> dict[str, Any]:
    """The streams bound in ``namespace`` (``streamz.Stream`` values; private names skipped)."""
    return {k: v for k, v in namespace.items()
            if not k.startswith("_") and isinstance(v, streamz.Stream)}


def parse_plot(spec: str) -> tuple[str, dict[str, Any]]:
    """``"line:x=window_end,y=avg_v,by=key"`` -> ``("line", {"x": ..., "y": ..., "by": ...})``.

    >>> parse_plot("line:x=window_end,y=avg_v,by=key")
    ('line', {'x': 'window_end', 'y': 'avg_v', 'by': 'key'})
    """
    kind, _, rest = spec.partition(":")
    kind = kind.strip()
    if kind not in PLOT_KINDS:
        guess = did_you_mean(kind, PLOT_KINDS)
        raise StreamlabUsageError("usage", f"unknown plot kind {kind!r}",
                                  f"did you mean {guess}?" if guess else listing("kinds", PLOT_KINDS))
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise StreamlabUsageError("usage", f"bad plot option {part!r}",
                                      "write --plot line:x=window_end,y=avg_v,by=key")
        value = value.strip()
        options[key.strip()] = int(value) if value.isdigit() else value
    return kind, options


@magics_class
class StreamlabMagics(Magics):
    """The ``%%streamlab`` SQL cell magic and the ``%streamlab`` control line magic."""

    max_rows = Int(1000, help="Most rows returned by `%streamlab late` and in snapshots.").tag(
        config=True)
    autostart = Bool(False, help="Start a query's pipeline as soon as its cell runs.").tag(
        config=True)
    default_watermark = Unicode(
        "", help="Watermark delay added to SQL sources, e.g. '500ms' ('' = the stream's own, "
        "or 0 if it has none).").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any):
        super().__init__(shell=shell, **kwargs)
        self.results: dict[str, Any] = {}  # --name -> result stream
        self.views: dict[str, Any] = {}  # CREATE [TEMPORARY] VIEW name -> stream (streamlab.sql.joins)
        self.settings: dict[str, str] = {}  # SET 'key' = 'value'; (streamlab.sql.session)

    @property
    def user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    # -- %%streamlab ----------------------------------------------------------------------------

    @cell_magic("streamlab")
    @magic_arguments(name="%streamlab")
    @argument("--name", "-n", help="Bind the result stream to this name (and name its pipeline).")
    @argument("--plot", "-p", metavar="KIND:x=..,y=..,by=..",
              help="Show a live plot, e.g. line:x=window_end,y=avg_v,by=key "
                   "(kinds: line, bar, scatter, step, heatmap).")
    @argument("--watermark", "-w", metavar="DELAY",
              help="Add a watermark with this delay (e.g. 500ms) to the source first.")
    @argument("--start", action="store_true", help="Start the pipeline now.")
    @argument("--collect", action="store_true",
              help="Run a finite source to its end and return the rows as a DataFrame.")
    @argument("--explain", action="store_true", help="Print the query plan; build nothing.")
    @argument("--flink", action="store_true",
              help="Run the query on the Flink cluster of sl.flink.cluster()/connect(); the value "
                   "is the live run (collect, plot, table, late, snapshot, stop).")
    @argument("--parallelism", type=int, default=1, help="--flink: the job's parallelism.")
    def streamlab_cell(self, line: str, cell: str) -> Any:
        """Run one Flink SQL window query over streams bound in the namespace::

            %%streamlab --name hot --plot line:x=window_end,y=avg_v,by=key
            SELECT key, window_start, window_end, COUNT(*) AS cnt, AVG(value) AS avg_v
            FROM TABLE(HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '10' SECOND))
            WHERE value > 0
            GROUP BY key, window_start, window_end

        TUMBLE, HOP (slide, then size), CUMULATE (step, then size) and SESSION (with
        PARTITION BY) are supported, with COUNT(*), COUNT, SUM, AVG, MIN and MAX. The value of
        the cell is the live result stream. Errors give the line and column in the query.
        ``SET 'table.local-time-zone' = 'Asia/Shanghai';`` (Flink's statement) cuts the windows
        of this and later cells in that zone's local time, until ``RESET 'table.local-time-zone';``.
        """
        args = self._parse(self.streamlab_cell, line)
        try:
            return self._run_query(args, cell)
        except SQLError as error:
            raise StreamlabUsageError.from_sql(error) from None

    def _run_query(self, args: Any, cell: str) -> Any:
        if args.name is not None and not args.name.isidentifier():
            raise StreamlabUsageError("usage", f"--name {args.name!r} is not a Python name",
                                      "use letters, digits and _, e.g. --name hot_sensors")
        cell = session.take_settings(cell, self.settings)  # SET 'table.local-time-zone' = ...;
        if not cell.strip():
            return None
        with session.session_time_zone(session.time_zone(self.settings)):
            return self._plan_and_build(args, cell)

    def _plan_and_build(self, args: Any, cell: str) -> Any:
        streams = streams_in(self.user_ns)
        if joins.needs_joins(cell):  # JOINs, views, several statements: streamlab/sql/joins.py
            return self._finish(args, joins.run_cell(cell, streams, self.views, args.watermark or
                                                     self.default_watermark or None, args.explain), None)
        if is_updating(cell):  # Top-N, deduplication, OVER, continuous GROUP BY (sql/ranking.py)
            result = build_updating(cell, streams, args.watermark or self.default_watermark or None)
            return self._finish(args, result, parse_plot(args.plot) if args.plot else None)
        plan = plan_query(cell, catalog_of(streams))
        plot = parse_plot(args.plot) if args.plot else None
        if plot is not None:
            for key in ("x", "y", "by"):
                if key in plot[1] and plot[1][key] not in plan.columns:
                    raise StreamlabUsageError(
                        "unknown_column", f"--plot {key}={plot[1][key]} is not a result column",
                        listing("result columns", plan.columns))
        if args.explain:
            print(plan.describe())
            return None
        result = control.build(plan, streams[plan.source],
                               args.watermark or self.default_watermark or None)
        return self._finish(args, result, plot)

    def _finish(self, args: Any, result: Any, plot: Any) -> Any:
        if result is None:  # only views were created, or --explain
            return None
        if plot is None and args.plot:
            plot = parse_plot(args.plot)
        if args.name:
            control.rename(result, args.name)
        if args.flink:
            result = self._on_flink(result, args.parallelism)
        if args.name:
            self.user_ns[args.name] = result
            self.results[args.name] = result
        if plot is not None:
            control.show_plot(result, *plot)
        if args.collect:
            return control.collect(result)
        if args.start or self.autostart:
            control.run(result, "start")
        return result

    @staticmethod
    def _on_flink(result: Any, parallelism: int) -> Any:
        from streamlab.flink import FlinkError

        try:
            return result.on_flink(None, parallelism=parallelism)
        except FlinkError as error:
            raise StreamlabUsageError("usage", str(error).splitlines()[0],
                                      "start one with sl.flink.cluster()") from None
        except ValueError as error:  # a shape Flink SQL export does not take (yet)
            raise StreamlabUsageError("usage", f"--flink: {str(error).splitlines()[0]}",
                                      "see %streamlab export NAME --flink for what runs on Flink") from None

    # -- %streamlab -----------------------------------------------------------------------------

    @line_magic("streamlab")
    @magic_arguments(name="streamlab")
    @argument("command", help="list | start | pause | resume | step | stop | inspect | late | "
                              "graph | export")
    @argument("name", nargs="?", help="A pipeline name (see `%%streamlab list`) or a stream "
                                      "bound in the namespace.")
    @argument("--flink", action="store_true", help="export: print Flink SQL (DDL and query).")
    @argument("--connector", choices=("filesystem", "kafka"),
              help="export: source and sink connector (default filesystem).")
    @argument("--out", metavar="FILE", help="export: write the SQL to FILE instead of printing it.")
    @argument("--lookup-table", metavar="TABLE",
              help="export: for a merge with a DataFrame, the Flink lookup table holding its rows.")
    def streamlab_line(self, line: str) -> Any:
        """Control and inspect pipelines::

            %streamlab list                     # name, state, events in, late, errors
            %streamlab start|pause|resume|step|stop NAME
            %streamlab inspect NAME             # the JSON-able snapshot of every operator
            %streamlab late NAME                # the late rows kept so far
            %streamlab graph NAME               # the operator graph (SVG in a notebook)
            %streamlab export NAME --flink      # runnable Flink SQL for the same pipeline
            %streamlab export NAME --flink --connector kafka --out job.sql
            %streamlab export NAME --flink --lookup-table users   # a merge with a DataFrame

        NAME is a key of ``sl.pipelines()`` or a stream bound in the namespace.
        """
        args = self._parse(self.streamlab_line, line)
        try:
            return self._run_command(args)
        except SQLError as error:
            raise StreamlabUsageError.from_sql(error) from None

    def _run_command(self, args: Any) -> Any:
        command = args.command
        if command not in control.COMMANDS:
            guess = did_you_mean(command, control.COMMANDS)
            raise StreamlabUsageError("usage", f"unknown subcommand {command!r}",
                                      f"did you mean {guess}?" if guess
                                      else listing("subcommands", control.COMMANDS))
        if command == "list":  # the kernel's pipelines, then its runs on Flink (NAME@flink)
            from streamlab.flink import runs

            return control.pipeline_table({**control.pipelines(), **runs()})
        if args.name is None:
            raise StreamlabUsageError("usage", f"%streamlab {command} needs a NAME",
                                      self._names_hint())
        stream, pipeline = self._resolve(args.name)
        if command == "export":
            if not args.flink:
                raise StreamlabUsageError("usage", "export needs a target",
                                          f"write %streamlab export {args.name} --flink")
            options = {"lookup_table": args.lookup_table} if args.lookup_table else {}
            text = control.export_flink(stream, pipeline, args.connector, **options)
            if args.out:
                with open(args.out, "w", encoding="utf-8") as fh:
                    fh.write(text)
                print(f"Flink SQL for {args.name} written to {args.out}")
            else:
                print(text, end="" if text.endswith("\n") else "\n")
            return None
        if command == "inspect":
            return control.snapshot(stream, pipeline, self.max_rows)
        if command == "late":
            return control.late_rows(stream, pipeline, self.max_rows)
        if command == "graph":
            return control.graph(stream, pipeline)
        return control.run(stream if stream is not None else pipeline, command)

    # -- helpers --------------------------------------------------------------------------------

    def _parse(self, magic: Any, line: str) -> Any:
        try:
            return parse_argstring(magic, line)
        except StreamlabUsageError:
            raise
        except (UsageError, ValueError) as error:  # argparse / shlex mistakes
            raise StreamlabUsageError("usage", str(error).splitlines()[0],
                                      "see %streamlab? or %%streamlab?") from None

    def _names_hint(self) -> str:
        names = sorted(set(control.pipelines()) | set(streams_in(self.user_ns)))
        return listing("pipelines and streams", names)

    def _resolve(self, name: str) -> tuple[Any, Any]:
        """(stream or None, pipeline) for a pipeline name or a stream bound in the namespace."""
        value = self.user_ns.get(name, self.results.get(name))
        if isinstance(value, streamz.Stream):
            return value, control.pipeline_of(value)
        pipes = control.pipelines()
        if name in pipes:
            return control.stream_of(pipes[name], self.results), pipes[name]
        names = sorted(set(pipes) | set(streams_in(self.user_ns)))
        guess = did_you_mean(name, names)
        hint = listing("pipelines and streams", names)
        raise StreamlabUsageError("unknown_pipeline", f"no pipeline or stream named {name!r}",
                                  f"did you mean {guess}? {hint}" if guess else hint)
