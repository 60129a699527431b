"""Contract tests by introspection: every operator kind snapshots to JSON and keeps its schema on empty input.

Every concrete subclass of ``streamlab.Node`` defined in the package is discovered (after importing
every streamlab module), built by the factory table below and checked: ``snapshot_node()`` is
JSON-able, the repr is useful, an empty input keeps the output schema, and ``save_state()`` /
``load_state()`` round-trip. A class with no factory fails, so a new operator cannot escape these
checks; abstract bases must be named in ``BASES``.
"""

from __future__ import annotations

import importlib
import itertools
import json
import pickle
import pkgutil

import pandas as pd
import pytest
import streamz

import streamlab as sl
from tests.kafka_broker import kafka_fixture, new_topic, produce  # noqa: F401

EMPTY = pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ms]"), "k": pd.Series([], dtype=object),
                      "v": pd.Series([], dtype="float64")})
SPECS = [sl.Tumble("1s"), sl.Hop("2s", "1s"), sl.Cumulate("2s", "1s"), sl.Session("1s")]
LATE_COLUMNS = ["watermark", "missed_windows", "reason"]


def every_operator(df):
    """One pipeline that uses every streamlab operator kind."""
    src = sl.from_frame(df, time="ts")
    return [
        src.watermark("100ms").where("v >= 0").assign(w=lambda d: d.v * 2).window(spec, by="k").agg(
            n=("v", "size"), c=("v", "count"), s=("v", "sum"), m=("v", "mean"), lo=("v", "min"), hi=("v", "max"),
            f=("v", "first"), la=("v", "last"), sd=("v", "std"), va=("v", "var"), md=("v", "median"))
        for spec in SPECS
    ]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: type(s).__name__)
def test_empty_input_keeps_the_output_schema(spec):
    res = sl.from_frame(EMPTY, time="ts").watermark("0ms").window(spec, by="k").agg(n=("v", "size"), s=("v", "sum"))
    out = res.collect()
    assert list(out.columns) == ["k", "window_start", "window_end", "n", "s"]
    assert len(out) == 0
    assert str(out["window_start"].dtype) == "datetime64[ms, UTC]"
    late = res.late.collect()  # late rows: the input columns plus watermark, missed_windows, reason
    assert len(late) == 0
    assert list(late.columns) == [*EMPTY.columns, *LATE_COLUMNS]


def test_every_operator_snapshot_is_json_and_has_the_contract_fields():
    df = pd.DataFrame({"ts": pd.to_datetime([0, 500, 1500, 2500], unit="ms"), "k": ["a", "<b>", "a", "<b>"],
                       "v": [1.0, 2.0, -3.0, 4.0]})
    results = every_operator(df)
    pipe = results[0].pipeline
    pipe.step()
    snap = pipe.snapshot()
    text = json.dumps(snap)
    assert json.loads(text) == snap
    kinds = {op["kind"] for op in snap["operators"]}
    assert {"source", "watermark", "where", "assign", "window"} <= kinds
    for op in snap["operators"]:
        assert {"id", "kind", "label", "upstreams", "counters", "events_per_s", "watermark", "state"} <= set(op)
        assert set(op["counters"]) == {"in", "out", "late", "errors"}
    windows = [op for op in snap["operators"] if op["kind"] == "window"]
    assert len(windows) == 4
    for w in windows:
        assert {"open_windows", "open_count", "truncated", "late_ledger", "errors"} <= set(w["state"])
        assert w["state"]["open_windows"], w["label"]
        assert {"key", "key_text", "window_start", "window_end", "rows", "partials"} <= set(w["state"]["open_windows"][0])
    assert {"name", "state", "watermark", "watermark_text", "lag_ms", "counters", "events_per_s", "operators"} <= set(snap)
    full = pipe.snapshot(limit=0, state=True)  # what checkpoints write: the same snapshot, with state
    json.dumps(full)
    assert all({"state", "counters", "sides"} <= set(op["checkpoint"]) for op in full["operators"])


def test_window_specs_are_small_frozen_values():
    for spec in SPECS:
        assert pickle.loads(pickle.dumps(spec)) == spec
        with pytest.raises(AttributeError):
            spec.size = "5s"


# --- every registered operator, by introspection ------------------------------------------------
def discover() -> dict[str, type]:
    """Every subclass of ``streamlab.Node`` defined in the package, after importing all its modules."""
    for mod in pkgutil.walk_packages(sl.__path__, "streamlab."):
        importlib.import_module(mod.name)
    found, todo = {}, list(sl.Node.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] == "streamlab":  # not the test suites' own subclasses
            assert found.get(cls.__name__, cls) is cls, f"two operator classes named {cls.__name__}"
            found[cls.__name__] = cls
    return found


#: Abstract bases: never built themselves; each must have subclasses (which need factories).
BASES = {"Source", "DemoSource", "_WorldSource", "SinkNode", "KeyedRank"}
#: Rows of a job on a Flink cluster (no factory without a cluster): tests/test_flink_cluster.py.
REMOTE = {"FlinkRun"}

#: The input every factory is given (or mirrors into its own medium): ms event times, one late row.
SAMPLE = pd.DataFrame({"ts": [0, 500, 1500, 2500, 100, 3500], "k": ["a", "b", "a", "b", "a", "b"],
                       "v": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
NO_ROWS = SAMPLE.iloc[:0]
_names = itertools.count()


class Env:
    """What factories may need: files and Kafka topics holding an input, made once per input."""

    def __init__(self, request, tmp_path):
        self.request, self.tmp_path = request, tmp_path
        self._made: dict = {}

    def once(self, key, make):
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def path(self, name: str):
        return self.tmp_path / f"{name}-{next(_names)}"

    @property
    def kafka(self) -> str:
        return self.request.getfixturevalue("kafka")

    def topic_with(self, df) -> str:
        def make():
            topic = new_topic(self.kafka)
            produce(self.kafka, topic, df.to_dict("records"))
            return topic

        return self.once(("topic", len(df)), make)


def frame(df, env):
    return sl.from_frame(df, time="ts", unit="ms", batch_size=2)


def csv(df, env):
    path = env.once(("csv", len(df)), lambda: env.path("in.csv"))
    df.to_csv(path, index=False)
    return sl.from_csv(path, time="ts", unit="ms", batch_size=2)


def parquet(df, env):
    path = env.once(("parquet", len(df)), lambda: env.path("in.parquet"))
    df.to_parquet(path, index=False)
    return sl.from_parquet(path, time="ts", unit="ms", batch_size=2)


def from_streamz(df, env):
    stream = streamz.Stream()
    src = sl.from_streamz(stream, time="ts", unit="ms", columns=list(df.columns))
    for row in df.itertuples(index=False):  # held in the source's buffer until it is run
        stream.emit(tuple(row))
    return src


def demo(make):
    # a demo stream has no input: 1 ms of event time at 1 event/s is the empty one
    def build(df, env):
        if len(df):
            return make(rate=1000, keys=2, events=50, speed=None, seed=0, batch_size=10)
        return make(rate=1, keys=2, duration="1ms", speed=None, seed=0)

    return build


def kafka_source(df, env):
    return sl.from_kafka(env.topic_with(df), bootstrap=env.kafka, time="ts", unit="ms", group="contract",
                         columns=list(df.columns), stop_at_end=True, batch_size=2)


def window(df, env):
    return frame(df, env).watermark("0ms").window(sl.Tumble(1000), by="k").agg(n=("v", "size"), s=("v", "sum"))


def sql_select(df, env):
    return sl.sql.query("SELECT window_end, k, COUNT(*) AS n, SUM(v) AS total "
                        "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                        "GROUP BY k, window_start, window_end", src=frame(df, env))


def interval_join(df, env):
    right = frame(df, env).watermark("0ms")
    return frame(df, env).watermark("0ms").join(right, on="k", between=(-500, 500), how="full")


def window_join(df, env):
    right = frame(df, env).watermark("0ms").window(sl.Tumble(1000))
    return frame(df, env).watermark("0ms").window(sl.Tumble(1000)).join(right, on="k", how="full")


def agg_window_join(df, env):
    return window(df, env).join(window(df, env), on="k", how="full")


def temporal_join(df, env):
    return frame(df, env).watermark("0ms").join_asof(frame(df, env).watermark("0ms"), on="k", how="left")


def merge(df, env):
    return frame(df, env).merge(pd.DataFrame({"k": ["a", "b"], "label": ["A", "B"]}), on="k")


FACTORIES = {
    "IntervalJoin": interval_join,
    "TemporalJoin": temporal_join,
    "Merge": merge,
    "WindowJoin": window_join,
    "AggWindowJoin": agg_window_join,
    "FrameSource": frame,
    "CsvSource": csv,
    "ParquetSource": parquet,
    "StreamzSource": from_streamz,
    "SensorsSource": demo(sl.demo.sensors),
    "ClicksSource": demo(sl.demo.clicks),
    "TradesSource": demo(sl.demo.trades),
    "_AdsSource": demo(lambda **kw: sl.demo.ads(**kw)[1]),  # the clicks of one world
    "_OrdersSource": demo(sl.demo.orders),
    "_RatesSource": demo(sl.demo.rates),
    "KafkaSource": kafka_source,
    "watermark": lambda df, env: frame(df, env).watermark("100ms"),
    "where": lambda df, env: frame(df, env).where("v >= 0"),
    "assign": lambda df, env: frame(df, env).assign(w=lambda d: d.v * 2),
    "WindowAgg": window,
    "Project": sql_select,
    "SideOutput": lambda df, env: window(df, env).late,
    "ParquetSink": lambda df, env: frame(df, env).to_parquet(env.once("sink", lambda: env.path("out"))),
    "GroupAgg": lambda df, env: frame(df, env).groupby("k").agg(n=("v", "size"), s=("v", "sum")),
    "WindowRank": lambda df, env: frame(df, env).watermark("0ms").window(sl.Tumble(1000), by="k").nlargest(1, "v"),
    "AggRank": lambda df, env: window(df, env).nlargest(1, "s"),
    "ContinuousRank": lambda df, env: frame(df, env).nlargest(1, "v", by="k"),
    "FirstByTime": lambda df, env: frame(df, env).watermark("0ms").drop_duplicates("k"),
    "OverAgg": lambda df, env: frame(df, env).watermark("0ms").rolling("1s", by="k").agg(s=("v", "sum")),
    "KafkaSink": lambda df, env: frame(df, env).to_kafka(
        env.once("sink", lambda: new_topic(env.kafka, prefix="out")), bootstrap=env.kafka),
}

OPERATORS = discover()
CONCRETE = sorted(set(OPERATORS) - BASES - REMOTE)


@pytest.fixture
def env(request, tmp_path):
    return Env(request, tmp_path)


def build(name, df, env):
    """The operator ``name`` at the end of a pipeline reading ``df``."""
    if name not in FACTORIES:
        pytest.fail(f"{OPERATORS[name].__module__}.{name} is an operator with no entry in FACTORIES "
                    f"(tests/test_contract.py): add one so the contract checks cover it")
    node = FACTORIES[name](df, env)
    assert type(node) is OPERATORS[name], f"the factory for {name} built a {type(node).__name__}"
    return node


def test_every_operator_class_has_a_factory_and_every_base_is_a_base():
    missing = [f"{OPERATORS[n].__module__}.{n}" for n in CONCRETE if n not in FACTORIES]
    assert not missing, f"operators with no factory in tests/test_contract.py: {missing}"
    assert not set(FACTORIES) - set(CONCRETE), "factories for classes that no longer exist"
    for name in BASES:
        assert OPERATORS[name].__subclasses__(), f"{name} is listed as a base but has no subclass"
    assert len(CONCRETE) >= 10  # discovery found the operators


@pytest.mark.parametrize("name", CONCRETE)
def test_snapshot_node_is_json(name, env):
    node = build(name, SAMPLE, env)
    node.pipeline.step()
    snap = node.snapshot_node()
    assert json.loads(json.dumps(snap)) == snap
    assert snap["id"] == node.op_id and snap["kind"] == node.kind and snap["label"] == node.label()


@pytest.mark.parametrize("name", CONCRETE)
def test_repr_is_useful(name, env):
    node = build(name, SAMPLE, env)
    assert isinstance(node, streamz.Stream)
    assert isinstance(node.label(), str) and node.label()
    for part in (name, node.label(), node.op_id):
        assert part in repr(node), f"{part!r} not in {node!r}"


@pytest.mark.parametrize("name", CONCRETE)
def test_empty_input_keeps_the_schema_of_the_output(name, env):
    want = build(name, SAMPLE, env).collect()
    assert len(want), f"the factory for {name} gives no output rows to take the schema from"
    got = build(name, NO_ROWS, env).collect()
    assert len(got) == 0
    assert list(got.columns) == list(want.columns)


@pytest.mark.parametrize("name", CONCRETE)
def test_save_state_and_load_state_round_trip(name, env):
    node = build(name, SAMPLE, env)
    pipe = node.pipeline
    for _ in range(2):  # mid-stream: some rows in, windows open (a push source ends at once)
        if pipe.state != "finished":
            pipe.step()
    state = node.save_state()
    assert json.loads(json.dumps(state)) == state, "save_state() must be plain data"
    again = build(name, SAMPLE, env)
    again.load_state(state)
    assert again.save_state() == state
