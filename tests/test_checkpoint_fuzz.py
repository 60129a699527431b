"""Damaged checkpoints: flipped bits, truncation, fields of another type. Each gives a clear ValueError
or exactly the result of the intact file, never a silent difference. Seeded loops, bounded in size."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.checkpoint.format import canonical, checksum

REPLACEMENTS = [None, True, -1, 1.5, "x", [], {}, [1, "a"], {"a": 1}, {"$": "pickle", "v": ""}]


def events(n=400, seed=9):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ts": np.arange(n) * 9 + rng.integers(-200, 200, n), "k": rng.choice(list("abc"), n),
                         "v": rng.integers(0, 40, n) * 0.25, "tag": rng.choice(["x", "y"], n)})


DF = events()


def build():
    return sl.from_frame(DF, time="ts", unit="ms", batch_size=60).watermark("100ms").window(
        sl.Hop("1s", "500ms"), by="k", allowed_lateness="200ms").agg(
        n=("v", "count"), s=("v", "sum"), med=("v", "median"), first=("tag", "first"), hi=("v", "max"))


def outcome(path):
    """The rest of the run after restoring ``path``, or the ValueError it gave (any other error fails)."""
    res = build()
    late = res.late.sink_to_list()
    try:
        sl.restore(path, res)
    except ValueError as exc:
        assert str(exc)
        return exc
    out = res.collect()
    return out, [len(f) for f in late], res.snapshot()["counters"]


def same(a, b) -> bool:
    if isinstance(a, Exception) or isinstance(b, Exception):
        return False
    (fa, la, ca), (fb, lb, cb) = a, b
    return fa.equals(fb) and la == lb and ca == cb


@pytest.fixture(scope="module")
def intact(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "c.json"
    res = build()
    for _ in range(4):
        res.step()
    res.checkpoint(path)
    data = path.read_bytes()
    expected = outcome(path)
    assert not isinstance(expected, Exception) and len(expected[0])
    return data, expected


def check(tmp_path, data: bytes, expected, what: str) -> bool:
    """True if ``data`` was refused with a ValueError, False if it gave the intact result."""
    path = tmp_path / "damaged.json"
    path.write_bytes(data)
    got = outcome(path)
    if isinstance(got, ValueError):
        return True
    assert same(got, expected), f"{what}: restored without an error but the result differs"
    return False


def test_flipped_bits(tmp_path, intact):
    data, expected = intact
    rng = random.Random(1)
    refused = 0
    for _ in range(400):
        i, bit = rng.randrange(len(data)), rng.randrange(8)
        damaged = bytearray(data)
        damaged[i] ^= 1 << bit
        refused += check(tmp_path, bytes(damaged), expected, f"bit {bit} of byte {i} flipped")
    assert refused >= 380  # the few others changed nothing (e.g. the case of a hex digit in \u00e9)


def test_truncated_files(tmp_path, intact):
    data, expected = intact
    rng = random.Random(2)
    for n in sorted({0, 1, len(data) // 2, len(data) - 2, *rng.sample(range(len(data)), 150)}):
        assert check(tmp_path, data[:n], expected, f"truncated to {n} bytes"), n
    assert not check(tmp_path, data[:-1], expected, "without the final newline")


def paths(doc):
    """Every field of the envelope: the top level, fingerprint entries, operator entries and counters."""
    for k in doc:
        yield (k,)
    for i, entry in enumerate(doc["fingerprint"]):
        yield ("fingerprint", i)
        for k in entry:
            yield ("fingerprint", i, k)
    for i, op in enumerate(doc["operators"]):
        yield ("operators", i)
        for k in op:
            yield ("operators", i, k)
        for k in op["counters"]:
            yield ("operators", i, "counters", k)
        for side, counters in op["sides"].items():
            for k in counters:
                yield ("operators", i, "sides", side, k)
    yield ("operators", 0, "state", "position")


def replaced(doc, path, value):
    doc = json.loads(json.dumps(doc))
    at = doc
    for p in path[:-1]:
        at = at[p]
    at[path[-1]] = value
    return doc


def test_fields_of_another_type_even_with_a_correct_checksum(tmp_path, intact):
    data, expected = intact
    doc = json.loads(data)
    tried = 0
    for path in paths(doc):
        at = doc
        for p in path:
            at = at[p]
        for value in REPLACEMENTS:
            if type(value) is type(at):
                continue
            changed = replaced(doc, path, value)
            if path != ("checksum",):
                changed["checksum"] = checksum(changed)
            check(tmp_path, (canonical(changed) + "\n").encode(), expected, f"{path} = {value!r}")
            tried += 1
    assert tried > 300


def test_any_changed_value_without_the_checksum_redone_is_refused(tmp_path, intact):
    """Deep inside the operators' state too: the codec and the checksum catch every change."""
    data, expected = intact
    doc = json.loads(data)
    leaves = []

    def walk(x, path):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, (*path, k))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, (*path, i))
        if path:
            leaves.append(path)

    walk(doc, ())
    rng = random.Random(3)
    for path in rng.sample(leaves, min(300, len(leaves))):
        value = rng.choice(REPLACEMENTS)
        changed = replaced(doc, path, value)
        if changed == doc:
            continue
        assert check(tmp_path, (canonical(changed) + "\n").encode(), expected, f"{path} = {value!r}"), path
