"""Enrichment with a static table: ``stream.merge(df, on=..., how="left")``, pandas ``merge``
semantics, vectorised per batch. Each output row keeps its input row's event time and watermark.

>>> import streamlab as sl, pandas as pd
>>> clicks = sl.from_frame(pd.DataFrame({"ts": [1, 2], "user": ["u1", "u9"]}), time="ts", unit="s")
>>> users = pd.DataFrame({"user": ["u1"], "country": ["NP"]})
>>> clicks.merge(users, on="user", how="left").collect()
   ts user country
0   1   u1      NP
1   2   u9     NaN
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.node import Node
from ..core.watermarks import Marks, attach
from ..transforms import find_columns
from .common import check_key_dtypes, check_keys, known_dtype

_POS = "__streamlab_row__"


class Merge(Node):
    """A stream merged with a static DataFrame (see the module docstring)."""

    kind = "merge"

    def __init__(self, upstream, table, *, keys: tuple[list[str], list[str]], how="left", suffixes=("_x", "_y")):
        if isinstance(table, dict):
            table = pd.DataFrame(table)
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"merge() takes a pandas DataFrame (or a dict of columns), got {type(table).__name__}")
        if how not in ("inner", "left"):
            raise ValueError(f"merge(how={how!r}) with a static table is 'inner' or 'left': the stream is "
                             "unbounded, so table rows with no match could never be emitted")
        self.left_on, self.right_on = keys
        check_keys(find_columns(upstream), self.left_on, "left")
        check_keys(list(table.columns), self.right_on, "right")
        check_key_dtypes([known_dtype(upstream, k) for k in self.left_on],
                         [table[k].dtype for k in self.right_on], self.left_on, self.right_on)
        super().__init__(upstream)
        self.table, self.how, self.suffixes = table.reset_index(drop=True), how, tuple(suffixes)
        cols = find_columns(upstream)
        self.columns = None if cols is None else list(self._merge(pd.DataFrame(columns=cols)).columns)

    def label(self) -> str:
        return f"{self.how} merge with a table ({len(self.table)} rows) on {', '.join(self.left_on)}"

    def _merge(self, df: pd.DataFrame) -> pd.DataFrame:
        if self.left_on == self.right_on:
            return df.merge(self.table, on=self.left_on, how=self.how, suffixes=self.suffixes)
        return df.merge(self.table, left_on=self.left_on, right_on=self.right_on, how=self.how,
                        suffixes=self.suffixes)

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None):
        missing = [k for k in self.left_on if k not in df.columns]
        if missing:
            self.send_errors(df, f"missing key column {missing[0]!r}")
            return None
        frame = df.reset_index(drop=True)
        frame.attrs.clear()
        frame[_POS] = np.arange(len(frame))
        out = self._merge(frame)
        pos = out.pop(_POS).to_numpy()
        return attach(out, None if marks is None else marks.take(pos, out.index))

    def empty_output(self) -> pd.DataFrame:
        return self._merge(pd.DataFrame(columns=self.columns_in()))

    def columns_in(self) -> list[str]:
        return self.input_columns() or list(self.left_on)
