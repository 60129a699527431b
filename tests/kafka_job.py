"""A Kafka pipeline run as its own process, for the crash test in tests/test_checkpoint.py.

It reads a topic to its end through a Hop window on the running asyncio loop, checkpoints every
``--every`` seconds, and appends every emitted window row and late row to ``--out`` as JSON
lines tagged with the run and with the id of the checkpoint the row belongs to (the next one to
be written). A row is committed once a checkpoint with that id or a later one exists. With
``--restore`` it first loads the checkpoint. ``--throttle`` slows each input batch down, so
that the test can kill the process mid-stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import streamlab as sl  # noqa: E402


def build(topic: str, bootstrap: str, group: str, batch_size: int):
    """The pipeline under test (the crash test builds the same one over ``from_frame``)."""
    src = sl.from_kafka(topic, bootstrap=bootstrap, time="ts", unit="ms", group=group,
                        stop_at_end=True, batch_size=batch_size)
    return src, windows(src)


def windows(src):
    return (src.watermark("400ms").window(sl.Hop("1s", "250ms"), by="k")
            .agg(n=("v", "count"), s=("v", "sum"), hi=("v", "max")))


async def main(args) -> None:
    src, res = build(args.topic, args.bootstrap, args.group, args.batch_size)
    if args.restore:
        sl.restore(args.checkpoint, res)
    pipe = res.pipeline
    ck = res.checkpoint(args.checkpoint, every=args.every)
    out = open(args.out, "a", encoding="utf-8")

    def writer(kind):
        def write(df):
            epoch = ck.next_id
            lines = [json.dumps({"run": args.run, "epoch": epoch, "kind": kind, "row": row})
                     for row in json.loads(df.to_json(orient="records"))]
            if lines:
                out.write("\n".join(lines) + "\n")
                out.flush()
        return write

    res.sink(writer("window"))
    res.late.sink(writer("late"))
    src.sink(lambda df: time.sleep(args.throttle) if len(df) else None)
    res.start()
    while pipe.state in ("running", "paused"):
        await asyncio.sleep(0.01)
    await ck.wait()  # the last checkpoint, written when the input ends
    src.close()  # commits the last checkpoint's offsets, on a worker thread (the loop is running)
    await src.closed()
    out.write(json.dumps({"run": args.run, "done": pipe.state}) + "\n")
    out.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--restore", action="store_true")
    ap.add_argument("--every", type=float, default=0.2)
    ap.add_argument("--throttle", type=float, default=0.0)
    ap.add_argument("--batch-size", type=int, default=100)
    asyncio.run(main(ap.parse_args()))
