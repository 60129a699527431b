"""Upsert messages for a changelog (rows with an ``op`` column), as Flink's ``upsert-kafka`` writes
them: ``+I``/``+U`` rows are the key's new value, ``-D`` a tombstone (value None), ``-U`` nothing.

>>> import pandas as pd
>>> log = pd.DataFrame({"op": ["+I", "-U", "+U", "-D"], "page": ["a", "a", "a", "a"], "n": [1, 1, 2, 2]})
>>> upsert_messages(log, "page", lambda rows: [str(n).encode() for n in rows["n"]])
[(b'a', b'1'), (b'a', b'2'), (b'a', None)]
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd

from ..ranking.changelog import DELETE, OP, UPDATE_BEFORE


def encode_keys(df: pd.DataFrame, key) -> list[bytes]:
    """Message keys: the column's text, or a JSON object of several key columns."""
    if isinstance(key, str):
        return [str(k).encode() for k in df[key].tolist()]
    return [json.dumps(dict(zip(key, row)), default=str).encode() for row in df[list(key)].itertuples(index=False)]


def upsert_messages(df: pd.DataFrame, key, encode: Callable[[pd.DataFrame], list]) -> list[tuple[bytes, bytes | None]]:
    """(key, value) per changelog row that changes the table (values by ``encode(rows)``); a ``-D``
    gives a tombstone."""
    rows = df[df[OP] != UPDATE_BEFORE]
    body = rows.drop(columns=[OP])
    values: list[bytes | None] = list(encode(body))
    deleted = (rows[OP] == DELETE).to_numpy()
    values = [None if d else v for v, d in zip(values, deleted)]
    return list(zip(encode_keys(body, key), values))
