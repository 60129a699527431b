"""Views of changelog results: ``res.table()`` applies the changelog in place."""

from __future__ import annotations

import pandas as pd
import pytest
import streamz

import streamlab as sl
from streamlab.viz.table import live_table
from streamlab.widgets.testing import dummy_comms
from tests.kafka_broker import kafka_fixture, new_topic  # noqa: F401 - the kafka fixture


def test_live_table_applies_a_changelog_in_place():
    with dummy_comms() as comms:
        s = streamz.Stream()
        t = live_table(s, max_rows=10)
    s.emit(pd.DataFrame({"op": ["+I", "+I"], "page": ["/a", "/b"], "n": [1, 1]}))
    s.emit(pd.DataFrame({"op": ["-U", "+U"], "page": ["/a", "/a"], "n": [1, 2]}))
    assert sorted(zip(t.rows["page"], t.rows["n"])) == [("/a", 2), ("/b", 1)]
    assert "op" not in t.rows.columns
    html = comms[-1].updates()[-1]["state"]["value"]
    assert "updated in place" in html and "<td>2</td>" in html


def test_table_of_a_continuous_groupby_shows_the_final_counts():
    df = pd.DataFrame({"ts": range(6), "page": ["a", "b", "a", "c", "a", "b"]})
    res = sl.from_frame(df, time="ts", unit="s", batch_size=2).groupby("page").agg(n=("page", "size"))
    with dummy_comms():
        t = res.table()
    res.collect()
    assert dict(zip(t.rows["page"], t.rows["n"])) == {"a": 3, "b": 2, "c": 1}


def test_to_kafka_writes_a_changelog_as_upserts_with_tombstones(kafka):
    import json

    from confluent_kafka import Consumer

    df = pd.DataFrame({"ts": range(4), "k": ["a", "b", "c", "d"], "v": [1.0, 5.0, 2.0, 9.0]})
    topic = new_topic(kafka, 1, prefix="upsert")
    res = sl.from_frame(df, time="ts", unit="s", batch_size=1).nlargest(2, "v")  # the top 2 rows, keyed by k
    sink = res.to_kafka(topic, bootstrap=kafka, key="k")
    log = res.collect()
    assert sink.delivered == int((log["op"] != "-U").sum()) > 0
    consumer = Consumer({"bootstrap.servers": kafka, "group.id": "upsert-test", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got = []
    deadline = 30
    import time

    end = time.monotonic() + deadline
    while len(got) < sink.delivered and time.monotonic() < end:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            got.append((msg.key().decode(), None if msg.value() is None else json.loads(msg.value())))
    consumer.close()
    assert len(got) == sink.delivered
    # the top row per key of the changelog: a key's value, or a tombstone when it left the top
    latest = {}
    for key, value in got:
        latest[key] = value
    assert [k for k, _ in got] == ["a", "b", "a", "c", "c", "d"]  # a and c left the top 2: tombstones
    assert latest == {"a": None, "b": {"ts": 1, "k": "b", "v": 5.0}, "c": None, "d": {"ts": 3, "k": "d", "v": 9.0}}
    with pytest.raises(ValueError, match="give key="):
        sl.from_frame(df, time="ts", unit="s").groupby("k").agg(n=("v", "size")).to_kafka(topic, bootstrap=kafka)
