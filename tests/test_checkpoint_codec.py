"""The checkpoint codec: every allowed type comes back identical, anything else is refused clearly."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.checkpoint.codec import Corrupt, Unsupported, decode, encode
from streamlab.checkpoint.format import canonical


def through_file(value):
    """What a restore reads back: encoded, written as canonical JSON, parsed, decoded."""
    return decode(json.loads(canonical(encode(value))))


def same(a, b) -> bool:
    """Equal values of the same types (NaN equals NaN; arrays by dtype, shape and items)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        return all(same(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist()))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, pd.Timestamp):
        return a == b and a.unit == b.unit and str(a.tz) == str(b.tz)
    if isinstance(a, pd.Timedelta):
        return a == b and a.unit == b.unit
    if a is pd.NaT or a is pd.NA:
        return a is b
    return a == b


# --- explicit cases ---------------------------------------------------------------------------
ROUND_TRIPS = {
    "plain": {"a": 1, "b": [True, None, "x", 2.5, -(2**70)], "c": {"d": []}},
    "non-finite floats": [math.nan, math.inf, -math.inf, 0.0, -0.0],
    "tuples": (1, (2, "x"), []),
    "non-str keys": {1: "a", (2, "b"): [1], None: 0, pd.Timestamp(0): 1, 2.5: 3},
    "a dollar key": {"$": "not a tag", "v": 1},
    "nested tag-like dict": {"x": {"$": "pickle"}},
    "timestamps": [pd.Timestamp("2024-01-01 12:00:00.123456789"), pd.Timestamp("2024-01-01", tz="UTC"),
                   pd.Timestamp("2024-03-01 10:00", tz="Europe/Paris"), pd.Timestamp("2024-01-01").as_unit("s"),
                   pd.Timestamp("2024-01-01 00:00+02:00")],
    "timedeltas": [pd.Timedelta("250ms"), pd.Timedelta(3, unit="ns"), pd.Timedelta("1D").as_unit("s")],
    "missing": [pd.NaT, pd.NA, None],
    "int arrays": [np.arange(5, dtype=dt_) for dt_ in ("int8", "int16", "int32", "int64", "uint8", "uint64")],
    "uint64 max": np.array([np.iinfo("uint64").max], dtype="uint64"),
    "float arrays": [np.array([1.5, np.nan, np.inf, -np.inf], dtype=d) for d in ("float16", "float32", "float64")],
    "bool array": np.array([[True, False], [False, True]]),
    "empty arrays": [np.zeros(0), np.zeros((0, 3), dtype="int32"), np.array([], dtype=object)],
    "0-d array": np.array(7),
    "datetime arrays": [np.array(["2024-01-01", "NaT"], dtype=f"datetime64[{u}]") for u in ("s", "ms", "us", "ns")],
    "timedelta array": np.array([1, -5, "NaT"], dtype="timedelta64[ms]"),
    "unicode array": np.array(["a", "bcd", "é"]),
    "object array": np.array(["x", None, 1, 2.5, math.nan, True, pd.Timestamp(5), pd.NaT, pd.Timedelta(1), pd.NA],
                             dtype=object),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_allowed_values_come_back_identical(name):
    value = ROUND_TRIPS[name]
    assert same(through_file(value), value)


def test_numpy_scalars_come_back_as_the_python_scalars_they_equal():
    back = through_file([np.int32(3), np.float32(1.5), np.bool_(True), np.str_("s"), np.float64("nan"),
                         np.datetime64("2024-01-01"), np.timedelta64(5, "ms"), np.datetime64("NaT")])
    assert same(back, [3, 1.5, True, "s", math.nan, pd.Timestamp(np.datetime64("2024-01-01")),
                       pd.Timedelta(np.timedelta64(5, "ms")), pd.NaT])


@pytest.mark.parametrize("value, named", [
    ({1, 2}, "set"),
    (b"bytes", "bytes"),
    (decimal.Decimal("1.5"), "decimal.Decimal"),
    (dt.datetime(2024, 1, 1), "datetime.datetime"),
    (object(), "object"),
    (lambda: 0, "function"),
    (pd.DataFrame({"a": [1]}), "DataFrame"),
    (np.array([1 + 2j]), "complex128"),
    (np.array([(1, 2)], dtype=[("a", "i4"), ("b", "i4")]), "dtype"),
    (np.array([[1, 2], None], dtype=object), "list"),
    (np.array(["x", {1}], dtype=object), "set"),
    (np.ma.masked_array([1, 2], mask=[0, 1]), "MaskedArray"),
    (np.array(["2024-01-01"], dtype="datetime64[D]"), "datetime64[D]"),
])
def test_other_types_are_refused_with_their_name_and_place(value, named):
    with pytest.raises(TypeError, match=re.escape(named)) as info:
        encode({"state": {"deep": [0, value]}})
    assert str(info.value).startswith("state.deep[1]")
    assert isinstance(info.value, Unsupported)


@pytest.mark.parametrize("encoded, says", [
    ({"$": "pickle", "v": "gASV"}, "unknown tag 'pickle'"),
    ({"$": 3}, "unknown tag 3"),
    ({"$": "tuple"}, "tag 'tuple' takes the fields v"),
    ({"$": "tuple", "v": [], "extra": 1}, "takes the fields v"),
    ({"$": "tuple", "v": "abc"}, "holds a list"),
    ({"$": "float", "v": "1e400"}, "'nan', 'inf' or '-inf'"),
    ({"$": "map", "v": [[1]]}, "not a \\[key, value\\] pair"),
    ({"$": "map", "v": [[[1], 2]]}, "cannot be a key"),
    ({"$": "map", "v": [[1, 2], [1, 3]]}, "appears twice"),
    ({"$": "ndarray", "dtype": "O", "shape": [1], "v": [1]}, "unsupported dtype"),
    ({"$": "ndarray", "dtype": "|V8", "shape": [1], "v": [1]}, "unsupported dtype"),
    ({"$": "ndarray", "dtype": "<f8", "shape": [3], "v": [1.0]}, "needs 3 values"),
    ({"$": "ndarray", "dtype": "<f8", "shape": [-1], "v": []}, "non-negative"),
    ({"$": "ndarray", "dtype": "<f8", "shape": [1], "v": ["1.0"]}, "does not fit dtype"),
    ({"$": "ndarray", "dtype": "<i8", "shape": [1], "v": [True]}, "does not fit dtype"),
    ({"$": "ndarray", "dtype": "|i1", "shape": [1], "v": [300]}, "do not fit dtype"),
    ({"$": "ndarray", "dtype": "|O", "shape": [1], "v": [[1, 2]]}, "must be a scalar"),
    ({"$": "ndarray", "dtype": "|O", "shape": [1], "v": [{"$": "tuple", "v": []}]}, "must be a scalar"),
    ({"$": "ndarray", "dtype": "|O", "shape": [1], "v": [{"$": "pickle", "v": ""}]}, "must be a scalar"),
    ({"$": "timestamp", "v": 0, "unit": "D", "tz": None}, "unit must be one of"),
    ({"$": "timestamp", "v": 0, "unit": "ns", "tz": "Not/AZone"}, "tag 'timestamp'"),
    ({"$": "timestamp", "v": 0, "unit": "ns", "tz": "../../etc/passwd"}, "time zone name"),
    ({"$": "timestamp", "v": 2**64, "unit": "ns", "tz": None}, "expected an integer"),
    ({"$": "timedelta", "v": 1.5, "unit": "ms"}, "expected an integer"),
    ({"$": "nat", "v": 1}, "takes the fields none"),
])
def test_encodings_it_never_writes_are_errors(encoded, says):
    with pytest.raises(ValueError, match=says) as info:
        decode({"state": [encoded]})
    assert isinstance(info.value, Corrupt) and str(info.value).startswith("state[0]")


# --- generated values -------------------------------------------------------------------------
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.builds(lambda n, tz: pd.Timestamp(n, tz=tz), st.integers(-(2**62), 2**62),
              st.sampled_from([None, "UTC", "Asia/Kolkata", "America/New_York"])),
    st.builds(pd.Timedelta, st.integers(-(2**62), 2**62)),
    st.just(pd.NaT), st.just(pd.NA),
)
keys = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.tuples(st.integers(), st.text(max_size=3)))
arrays = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6).map(np.array),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=6).map(lambda v: np.array(v, dtype="int64")),
    st.lists(st.booleans(), max_size=6).map(lambda v: np.array(v, dtype=bool)),
    st.lists(st.text(max_size=4), min_size=1, max_size=6).map(np.array),
    st.lists(scalars, max_size=6).map(lambda v: np.array(v + [object()], dtype=object)[:-1]),
)
values = st.recursive(
    st.one_of(scalars, arrays),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=4), inner, max_size=4),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_generated_values_come_back_identical(value):
    assert same(through_file(value), value)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["$", "v", "dtype", "shape", "unit", "tz", "x"]), inner, max_size=4),
        st.fixed_dictionaries({"$": st.sampled_from(["float", "tuple", "map", "ndarray", "timestamp", "timedelta",
                                                    "nat", "na", "pickle", "set"])},
                              optional={"v": inner, "dtype": st.sampled_from(["<f8", "|O", "<i8", "|b1", "<U3", "<M8[ms]", inner]),
                                        "shape": st.one_of(st.lists(st.integers(-1, 3), max_size=2), inner),
                                        "unit": st.sampled_from(["ms", "D", inner]), "tz": inner}),
    ),
    max_leaves=15,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_any_json_decodes_or_is_a_clear_value_error(data):
    try:
        decode(data)
    except Corrupt as exc:
        assert isinstance(exc, ValueError) and str(exc)
