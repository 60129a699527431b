"""Restore is all or nothing; checkpoints call the operator protocol's hooks directly."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.checkpoint import Checkpointer, read_checkpoint
from streamlab.checkpoint.fit import operators
from streamlab.checkpoint.write import encode_state
from streamlab.core.node import Node


class Flaky(Node):
    """Passes rows through and counts them; loading a ``poison`` state fails half way through."""

    kind = "flaky"

    def __init__(self, upstream, poison=False):
        super().__init__(upstream)
        self.poison, self.seen, self.checkpointed = poison, 0, []

    def on_batch(self, df, port, marks):
        self.seen += len(df)
        return df

    def save_state(self):
        return {"seen": self.seen, "poison": self.poison}

    def load_state(self, state):
        self.seen = state["seen"]  # half of the state is in ...
        if state["poison"]:
            raise RuntimeError("poisoned state")  # ... when loading fails

    def on_checkpoint(self, state):
        self.checkpointed.append(state)

    def reset_state(self):
        super().reset_state()
        self.seen = 0


def events(n=600, seed=4):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ts": np.arange(n) * 7 + rng.integers(-150, 150, n), "k": rng.choice(list("abc"), n),
                         "v": rng.integers(0, 40, n) * 0.25})


def build(df, poison=False, batch_size=50):
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=batch_size).watermark("100ms").window(
        sl.Hop("1s", "250ms"), by="k").agg(n=("v", "count"), s=("v", "sum"), med=("v", "median"))
    return res, Flaky(res, poison=poison)


def canonical(df):
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def picture(pipe):
    """Everything restore could change: each operator's state and counters, side counters, the id."""
    return ([(encode_state(n, n.save_state()), n.counters.as_dict(),
              {w: s.counters.as_dict() for w, s in n.sides.items()}) for n in operators(pipe)],
            pipe.checkpoint_id, pipe.state)


def test_a_failing_load_leaves_the_pipeline_exactly_as_it_was(tmp_path):
    df = events()
    first, keep = build(df, poison=True)  # noqa: F841 - downstream nodes are weakly held
    for _ in range(6):
        first.step()
    first.checkpoint(tmp_path / "c.json")

    second, flaky = build(df)
    out = second.sink_to_list()
    for _ in range(3):
        second.step()
    pipe = second.pipeline
    before = picture(pipe)
    assert before[0][0][0]["position"] == 150 and before[0][3][0]["seen"] > 0
    with pytest.raises(ValueError, match=r"checkpoint field operators\[3\].state: operator #4 \(flaky\) could not "
                                         r"load it \(RuntimeError: poisoned state\); the pipeline was left as it was"):
        sl.restore(tmp_path / "c.json", second)
    assert picture(pipe) == before  # source position, window state, counters, id: unchanged
    assert flaky.checkpointed == []
    second.collect()
    everything = pd.concat(out, ignore_index=True)
    pd.testing.assert_frame_equal(canonical(everything), canonical(build(df)[0].collect()))


def test_restore_calls_the_hooks_and_counters_come_back(tmp_path):
    df = events()
    first, flaky = build(df)
    for _ in range(4):
        first.step()
    info = first.checkpoint(tmp_path / "c.json")
    assert flaky.checkpointed == [{"seen": flaky.seen, "poison": False}]  # on_checkpoint after the write
    assert first.pipeline.checkpoint_id == info["id"] == 1
    second, flaky2 = build(df)
    assert sl.restore(tmp_path / "c.json", second) is second.pipeline
    assert second.pipeline.checkpoint_id == 1 and flaky2.seen == flaky.seen
    assert flaky2.checkpointed == flaky.checkpointed  # the pipeline stands at a durable checkpoint
    assert picture(second.pipeline)[0] == picture(first.pipeline)[0]
    assert second.checkpoint(tmp_path / "c.json")["id"] == 2


def test_only_a_pipeline_that_has_not_run_is_restored(tmp_path):
    df = events(100)
    res, keep = build(df)  # noqa: F841 - downstream nodes are weakly held
    res.step()
    res.checkpoint(tmp_path / "c.json")
    done, keep2 = build(df)  # noqa: F841
    done.collect()
    before = picture(done.pipeline)
    with pytest.raises(sl.PipelineStateError, match="is finished; restore\\(\\) loads into a pipeline that has not run"):
        sl.restore(tmp_path / "c.json", done)
    assert picture(done.pipeline) == before
    done.pipeline.reset()
    sl.restore(tmp_path / "c.json", done)
    assert done.pipeline.checkpoint_id == 1


def test_streams_of_two_pipelines_are_refused(tmp_path):
    df = events(100)
    a, ka = build(df)  # noqa: F841
    b, kb = build(df)  # noqa: F841
    a.checkpoint(tmp_path / "c.json")
    with pytest.raises(ValueError, match="belongs to another pipeline"):
        sl.restore(tmp_path / "c.json", a, b)


def test_a_restore_of_another_pipeline_touches_nothing(tmp_path):
    df = events(200)
    res, keep = build(df)  # noqa: F841 - downstream nodes are weakly held
    res.step()
    res.checkpoint(tmp_path / "c.json")
    other = sl.from_frame(df, time="ts", unit="ms", batch_size=50).watermark("100ms").window(
        sl.Tumble("1s"), by="k").agg(n=("v", "count"))
    other.step()
    before = picture(other.pipeline)
    with pytest.raises(ValueError, match="different pipeline"):
        sl.restore(tmp_path / "c.json", other)
    assert picture(other.pipeline) == before


def test_the_periodic_checkpointer_uses_the_quiet_hooks(tmp_path):
    df = events(300)
    res, keep = build(df)  # noqa: F841 - downstream nodes are weakly held
    pipe = res.pipeline
    ck = res.checkpoint(tmp_path / "c.json", every="1ms")
    assert isinstance(ck, Checkpointer) and ck.next_id == 1
    res.sink(lambda _df: __import__("time").sleep(0.002))
    again = res.checkpoint(tmp_path / "d.json", every="1ms")  # replaces the first one
    res.collect()
    assert ck.written == 0 and again.written >= 2
    assert read_checkpoint(tmp_path / "d.json")["id"] == pipe.checkpoint_id == again.next_id - 1
    again.stop()
    pipe.reset()
    res.collect()
    assert again.written == pipe.checkpoint_id  # stopped: no more checkpoints


def test_a_finished_run_on_the_loop_gets_a_last_checkpoint(tmp_path):
    df = events(300)
    res, keep = build(df)  # noqa: F841 - downstream nodes are weakly held

    async def go():
        ck = res.checkpoint(tmp_path / "c.json", every="10s")
        res.start()
        await asyncio.wait_for(ck.wait(), 20)
        return ck

    ck = asyncio.run(go())
    assert res.pipeline.state == "finished" and ck.written == 1
    assert read_checkpoint(tmp_path / "c.json")["operators"][0]["state"]["position"] == len(df)
