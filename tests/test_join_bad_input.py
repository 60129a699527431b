"""Bad join input fails at build time with a message naming the fix."""

from __future__ import annotations

import pandas as pd
import pytest

import streamlab as sl

L = pd.DataFrame({"ts": [1, 2], "k": ["a", "b"], "n": [1, 2]})
R = pd.DataFrame({"ts": [1, 2], "key": ["a", "b"], "n": [1.0, 2.0]})


def src(df, wm=True):
    s = sl.from_frame(df, time="ts", unit="s")
    return s.watermark("1s") if wm else s


@pytest.mark.parametrize("make", [
    lambda a, b: a.join(b, on="k", between=("-1s", "1s")),
    lambda a, b: a.window(sl.Tumble("5s")).join(b.window(sl.Tumble("5s")), on="k"),
    lambda a, b: a.join_asof(b, on="k"),
], ids=["interval", "window", "temporal"])
def test_a_missing_key_column_names_the_columns_and_the_fix(make):
    with pytest.raises(ValueError, match=r"join key 'k' is not a column of the right input \(columns: ts, key, n\); "
                                         r"pass right_on="):
        make(src(L), src(R))


def test_left_on_right_on_fix_it():
    j = src(L).join(src(R), left_on="k", right_on="key", between=("-1s", "1s"))
    assert list(j.collect().columns) == ["ts_x", "k", "n_x", "ts_y", "key", "n_y"]


@pytest.mark.parametrize("make", [
    lambda a, b: a.join(b, left_on="n", right_on="key", between=("-1s", "1s")),
    lambda a, b: a.join_asof(b, left_on="n", right_on="key"),
    lambda a, b: a.merge(R, left_on="n", right_on="key"),
], ids=["interval", "temporal", "merge"])
def test_mismatched_key_dtypes_name_both_and_a_cast(make):
    with pytest.raises(TypeError, match=r"join key dtypes differ: left 'n' is int64, right 'key' is (str|object); "
                                        r"cast one side first, e\.g\. \.assign\(key="):
        make(src(L), src(R))


def test_int_and_float_keys_are_compatible():
    src(L).join(src(R), on="n", between=(0, 0))


@pytest.mark.parametrize("side", ["left", "right"])
def test_no_watermark_on_an_input_names_the_fix(side):
    a, b = (src(L, wm=False), src(R)) if side == "left" else (src(L), src(R, wm=False))
    with pytest.raises(ValueError, match=rf"the {side} input has no watermark: add one before the join, "
                                         rf"e\.g\. {side}\.watermark\('1s'\)"):
        a.join(b, left_on="k", right_on="key", between=("-1s", "1s"))


def test_a_join_without_a_time_bound_names_the_flink_forms():
    with pytest.raises(ValueError, match=r"needs a time bound .* between=\('-2s', '5s'\)\), or a window join"):
        src(L).join(src(R), left_on="k", right_on="key")


def test_window_join_needs_the_same_window():
    with pytest.raises(ValueError, match="same TUMBLE, HOP or CUMULATE window on both inputs"):
        src(L).window(sl.Tumble("5s")).join(src(R).window(sl.Tumble("10s")), left_on="k", right_on="key")


def test_empty_bound_and_bad_how():
    with pytest.raises(ValueError, match="is empty: lower must be <= upper"):
        src(L).join(src(R), left_on="k", right_on="key", between=("2s", "1s"))
    with pytest.raises(ValueError, match="how='cross'"):
        src(L).join(src(R), left_on="k", right_on="key", between=("-1s", "1s"), how="cross")
