"""``core.frames.frame`` builds the same DataFrame as ``pd.DataFrame(cols, copy=False)``."""

from __future__ import annotations

import decimal

import numpy as np
import pandas as pd
import pytest

from streamlab.core import frames
from streamlab.core.frames import frame
from streamlab.core.timecol import ms_to_values

N = 4
COLUMNS = {
    "int64": np.arange(N, dtype="int64"),
    "int32": np.arange(N, dtype="int32"),
    "uint8": np.arange(N, dtype="uint8"),
    "float": np.array([0.5, np.nan, -0.0, np.inf]),
    "bool": np.array([True, False, True, False]),
    "str (Arrow)": pd.array(["a", None, "c", "é"], dtype="str"),
    "category": pd.Categorical(["x", "y", None, "x"]),
    "Int64 (masked)": pd.array([1, None, 3, 4], dtype="Int64"),
    "UTC datetimes": ms_to_values(np.array([0, 1500, -1, 2**40]), None),
    "naive datetime64 numpy": np.array([0, 1, 2, 3], dtype="datetime64[ms]"),
    "timedelta64 numpy": np.array([0, 1, 2, 3], dtype="timedelta64[s]"),
    "object strings": np.array(["a", "b", None, "d"], dtype=object),
    "object mixed": np.array(["a", 1, None, 2.5], dtype=object),
    "object ints": np.array([1, 2, 3, 4], dtype=object),
    "object decimals": np.array([decimal.Decimal(i) for i in range(N)], dtype=object),
    "NumpyExtensionArray of objects": pd.array(np.array(["p", "q", "r", "s"], dtype=object), dtype=object),
    "NumpyExtensionArray of ints": pd.arrays.NumpyExtensionArray(np.arange(N)),
    "list": [1, 2, 3, 4],
    "2-D-unsafe strided view": np.arange(2 * N)[::2],
}


@pytest.mark.parametrize("name", list(COLUMNS))
def test_every_column_kind_gives_what_the_dataframe_constructor_gives(name):
    cols = {"k": pd.array(["a", "b", "c", "d"], dtype="str"), name: COLUMNS[name], "n": np.arange(N)}
    expected = pd.DataFrame(cols, copy=False)
    got = frame(cols)
    pd.testing.assert_frame_equal(got, expected, check_index_type=True, check_column_type=True)
    assert got.dtypes.tolist() == expected.dtypes.tolist()


def test_all_kinds_at_once_and_operations_on_the_result():
    cols = dict(COLUMNS)
    expected = pd.DataFrame(cols, copy=False)
    got = frame(cols)
    pd.testing.assert_frame_equal(got, expected)
    both = pd.concat([got, frame(cols)], ignore_index=True)  # one block per column concatenates too
    pd.testing.assert_frame_equal(both, pd.concat([expected, expected], ignore_index=True))
    got.loc[0, "int64"] = 99  # a frame built from blocks is an ordinary, writable frame
    assert got["int64"].tolist()[0] == 99


def test_zero_rows_and_no_columns():
    cols = {"k": pd.array([], dtype="str"), "n": np.zeros(0, dtype="int64")}
    pd.testing.assert_frame_equal(frame(cols), pd.DataFrame(cols, copy=False))
    pd.testing.assert_frame_equal(frame({}), pd.DataFrame({}))


def test_columns_of_different_lengths_fail_naming_the_column():
    with pytest.raises(ValueError, match="'b' has 3 rows, the others 2"):
        frame({"a": np.arange(2), "b": np.arange(3)})


def test_more_columns_than_the_cached_placements():
    cols = {f"c{i}": np.arange(3) + i for i in range(len(frames._PLACES) + 5)}
    pd.testing.assert_frame_equal(frame(cols), pd.DataFrame(cols, copy=False))


def test_utc_bounds_are_the_datetimes_pandas_gives():
    ms = np.array([0, 1500, -86_400_000, 2**40], dtype="int64")
    got = ms_to_values(ms, None)
    expected = pd.DatetimeIndex(pd.to_datetime(ms, unit="ms", utc=True)).as_unit("ms").array
    pd.testing.assert_extension_array_equal(got, expected)
    assert str(got.dtype) == "datetime64[ms, UTC]"
