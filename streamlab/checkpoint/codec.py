"""Tagged JSON for operator state: plain JSON stays as it is, a few more types become tagged objects.

Decoding never imports, calls or unpickles anything named by the data: each tag maps to one fixed
constructor, every tag's fields are checked, and an unknown tag or type is an error. A JSON object
with a ``"$"`` key is always a tag (a dict that has a ``"$"`` key of its own is stored as a map).

==================================================================  ==================================
encoded                                                             decoded
==================================================================  ==================================
``null`` ``true`` ``3`` ``2.5`` ``"s"`` ``[...]`` ``{"key": ...}``  the same
``{"$": "float", "v": "nan"}`` (or ``"inf"``, ``"-inf"``)           a float that is not finite
``{"$": "tuple", "v": [...]}``                                      a tuple
``{"$": "map", "v": [[key, value], ...]}``                          a dict with non-str keys
``{"$": "ndarray", "dtype": "<f8", "shape": [2], "v": [...]}``      a numpy array (values flat, C order)
``{"$": "timestamp", "v": 1500, "unit": "ms", "tz": null}``         a ``pd.Timestamp`` (v: UTC count)
``{"$": "timedelta", "v": 250, "unit": "ms"}``                      a ``pd.Timedelta``
``{"$": "nat"}`` / ``{"$": "na"}``                                  ``pd.NaT`` / ``pd.NA``
==================================================================  ==================================

Array dtypes: bool, signed and unsigned integers, floats (16 to 64 bits), ``datetime64`` and
``timedelta64`` in s/ms/us/ns (values are the int64 counts, NaT the smallest int64), fixed-width
unicode (``<U8``), and object arrays whose items are scalars: None, bool, int, float, str,
Timestamp, Timedelta, NaT or NA. numpy scalars are stored as the Python scalars they equal.

>>> encode({"w": (1, 2.5), 7: float("nan")})
{'$': 'map', 'v': [['w', {'$': 'tuple', 'v': [1, 2.5]}], [7, {'$': 'float', 'v': 'nan'}]]}
>>> decode(encode(np.array([[1, 2], [3, 4]], dtype="int32")))
array([[1, 2],
       [3, 4]], dtype=int32)
>>> decode(encode(pd.Timestamp("2024-05-01 12:00", tz="Europe/Paris")))
Timestamp('2024-05-01 12:00:00+0200', tz='Europe/Paris')
>>> try:
...     decode({"$": "pickle", "v": "gASVAAAA"})
... except ValueError as exc:
...     print(exc)
unknown tag 'pickle' (known: float, map, na, nat, ndarray, timedelta, timestamp, tuple)
>>> try:
...     encode({"when": {1, 2}})
... except TypeError as exc:
...     print(exc)
when: a set cannot be checkpointed
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

_ATOMS = (str, int, bool, type(None))
_UNITS = ("s", "ms", "us", "ns")
_DTYPE = re.compile(r"[<>|=](b1|[iu][1248]|f[248]|[Mm]8\[(s|ms|us|ns)\]|U[1-9][0-9]{0,5}|O)")
_TZ = re.compile(r"[A-Za-z0-9_+\-/:]{1,64}")
_INT64 = (-(2**63), 2**63 - 1)
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class _PathError(Exception):
    """An error at a place inside the value; ``path`` grows while the error unwinds."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.path: list = []  # innermost first

    def where(self, prefix: str = "") -> str:
        """The place as text: ``prefix.key[3]``."""
        return format_path(prefix, list(reversed(self.path)))

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


class Unsupported(_PathError, TypeError):
    """A value of a type checkpoints do not hold (raised while encoding)."""


class Corrupt(_PathError, ValueError):
    """Encoded data that is not what :func:`encode` writes (raised while decoding)."""


def format_path(prefix: str, parts) -> str:
    """``format_path("state", ["logic", 3, "a b"])`` is ``state.logic[3]['a b']``."""
    out = prefix
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif isinstance(p, str) and p.isidentifier():
            out += f".{p}" if out else p
        else:
            out += f"[{p!r}]"
    return out


def _type_name(o) -> str:
    t = type(o)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


# --- encoding ----------------------------------------------------------------------------
def encode(o):
    """``o`` as JSON data (see the module docstring); :class:`Unsupported` for any other type."""
    t = type(o)
    if t in _ATOMS:
        return o
    if t is float:
        return o if math.isfinite(o) else _float_tag(o)
    if t is list or t is dict or t is tuple:
        return _CONTAINERS[t](o)
    return _encode_other(o)


def _float_tag(x: float) -> dict:
    return {"$": "float", "v": "nan" if x != x else ("inf" if x > 0 else "-inf")}


def _encode_items(items) -> list:
    if all(type(v) in _ATOMS or (type(v) is float and math.isfinite(v)) for v in items):
        return list(items)
    out = []
    for i, v in enumerate(items):
        try:
            out.append(encode(v))
        except Unsupported as exc:
            exc.path.append(i)
            raise
    return out


def _encode_dict(o: dict) -> dict:
    if "$" not in o and all(type(k) is str for k in o):
        out = {}
        for k, v in o.items():
            try:
                out[k] = encode(v)
            except Unsupported as exc:
                exc.path.append(k)
                raise
        return out
    pairs = []
    for k, v in o.items():
        try:
            pairs.append([encode(k), encode(v)])
        except Unsupported as exc:
            exc.path.append(k if isinstance(k, (str, int)) else repr(k))
            raise
    return {"$": "map", "v": pairs}


_CONTAINERS: dict[type, Any] = {
    list: _encode_items,
    tuple: lambda o: {"$": "tuple", "v": _encode_items(o)},
    dict: _encode_dict,
}


def _encode_other(o):
    if isinstance(o, (bool, np.bool_)):
        return bool(o)
    if isinstance(o, (np.datetime64, np.timedelta64)):  # numpy counts timedelta64 as an integer
        return _encode_scalar(o)
    if isinstance(o, (int, np.integer)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        return encode(float(o))
    if isinstance(o, str):
        return str(o)
    if isinstance(o, list):
        return _encode_items(o)
    if isinstance(o, tuple) and not hasattr(o, "_fields"):  # a namedtuple would come back plain
        return _CONTAINERS[tuple](o)
    if isinstance(o, dict):
        return _encode_dict(o)
    if type(o) is np.ndarray:
        return _encode_array(o)
    return _encode_scalar(o)


def _encode_scalar(o):
    """A Timestamp, Timedelta, NaT, NA or numpy datetime (what an object array may hold)."""
    if o is pd.NaT:
        return {"$": "nat"}
    if o is pd.NA:
        return {"$": "na"}
    if isinstance(o, np.datetime64):
        return {"$": "nat"} if np.isnat(o) else _encode_scalar(pd.Timestamp(o))
    if isinstance(o, np.timedelta64):
        return {"$": "nat"} if np.isnat(o) else _encode_scalar(pd.Timedelta(o))
    if type(o) is pd.Timestamp:
        if o.unit not in _UNITS:  # pragma: no cover - pandas has no other units today
            raise Unsupported(f"a Timestamp in unit {o.unit!r} cannot be checkpointed")
        return {"$": "timestamp", "v": int(o.to_datetime64().astype("int64")), "unit": o.unit,
                "tz": None if o.tz is None else _tz_name(o.tz)}
    if type(o) is pd.Timedelta:
        if o.unit not in _UNITS:  # pragma: no cover
            raise Unsupported(f"a Timedelta in unit {o.unit!r} cannot be checkpointed")
        return {"$": "timedelta", "v": int(o.to_timedelta64().astype("int64")), "unit": o.unit}
    raise Unsupported(f"a {_type_name(o)} cannot be checkpointed")


def _tz_name(tz) -> str:
    name = str(tz)
    if not _TZ.fullmatch(name):
        raise Unsupported(f"the time zone {name!r} cannot be checkpointed (name it, e.g. 'Europe/Paris')")
    return name


def _encode_array(a: np.ndarray) -> dict:
    dtype = a.dtype.str
    if not _DTYPE.fullmatch(dtype):
        raise Unsupported(f"a numpy array of dtype {a.dtype} cannot be checkpointed")
    flat, kind = a.ravel(), a.dtype.kind
    if kind in "Mm":
        values = flat.view("int64").tolist()
    elif kind == "O":
        values = []
        for i, item in enumerate(flat.tolist()):
            try:
                values.append(_encode_item(item))
            except Unsupported as exc:
                exc.path.append(i)
                raise
    else:
        values = flat.tolist()
        if kind == "f" and not np.isfinite(flat).all():
            values = [v if math.isfinite(v) else _float_tag(v) for v in values]
    return {"$": "ndarray", "dtype": dtype, "shape": list(a.shape), "v": values}


def _encode_item(item):
    """One item of an object array: a scalar, never a container."""
    if isinstance(item, (list, tuple, dict, set, np.ndarray)):
        raise Unsupported(f"an object array holding a {_type_name(item)} cannot be checkpointed "
                          "(object arrays may hold only scalars)")
    return encode(item)


# --- decoding ----------------------------------------------------------------------------
def decode(o):
    """The value :func:`encode` turned into ``o``; :class:`Corrupt` for anything it never writes."""
    t = type(o)
    if t in _ATOMS:
        return o
    if t is float:
        if not math.isfinite(o):
            raise Corrupt(f"a non-finite float must be tagged, got {o!r}")
        return o
    if t is list:
        return _decode_items(o)
    if t is dict:
        if "$" in o:
            return _decode_tag(o)
        out = {}
        for k, v in o.items():
            try:
                out[k] = decode(v)
            except Corrupt as exc:
                exc.path.append(k)
                raise
        return out
    raise Corrupt(f"a {_type_name(o)} is not JSON data")


def _decode_items(items: list) -> list:
    if all(type(v) in _ATOMS for v in items):
        return list(items)
    out = []
    for i, v in enumerate(items):
        try:
            out.append(decode(v))
        except Corrupt as exc:
            exc.path.append(i)
            raise
    return out


def _fields(o: dict, tag: str, *names: str) -> list:
    extra = sorted(set(o) - {"$", *names})
    missing = [n for n in names if n not in o]
    if extra or missing:
        raise Corrupt(f"tag {tag!r} takes the fields {', '.join(names) or 'none'}, "
                      f"got {', '.join(repr(k) for k in sorted(o) if k != '$') or 'none'}")
    return [o[n] for n in names]


def _int(x, what: str, lo=None, hi=None) -> int:
    if type(x) is not int or (lo is not None and x < lo) or (hi is not None and x > hi):
        bounds = "an integer" if lo is None else f"an integer from {lo}" + ("" if hi is None else f" to {hi}")
        raise Corrupt(f"{what}: expected {bounds}, got {x!r}")
    return x


def _decode_tag(o: dict):
    tag = o["$"]
    handler = _TAGS.get(tag) if type(tag) is str else None
    if handler is None:
        raise Corrupt(f"unknown tag {tag!r} (known: {', '.join(sorted(_TAGS))})")
    return handler(o)


def _tag_float(o):
    (v,) = _fields(o, "float", "v")
    if type(v) is not str or v not in _NONFINITE:
        raise Corrupt(f"tag 'float' holds 'nan', 'inf' or '-inf', got {v!r}")
    return _NONFINITE[v]


def _tag_tuple(o):
    (v,) = _fields(o, "tuple", "v")
    if type(v) is not list:
        raise Corrupt(f"tag 'tuple' holds a list, got {_type_name(v)}")
    return tuple(_decode_items(v))


def _tag_map(o):
    (pairs,) = _fields(o, "map", "v")
    if type(pairs) is not list:
        raise Corrupt(f"tag 'map' holds a list of [key, value] pairs, got {_type_name(pairs)}")
    out = {}
    for i, pair in enumerate(pairs):
        if type(pair) is not list or len(pair) != 2:
            raise Corrupt(f"map entry #{i} is not a [key, value] pair: {pair!r:.80}")
        try:
            key = decode(pair[0])
            hash(key)
        except Corrupt as exc:
            exc.path.append(f"<key #{i}>")
            raise
        except TypeError:
            raise Corrupt(f"map entry #{i}: a {_type_name(key)} cannot be a key") from None
        if key in out:
            raise Corrupt(f"map entry #{i}: the key {key!r} appears twice")
        try:
            out[key] = decode(pair[1])
        except Corrupt as exc:
            exc.path.append(key if isinstance(key, (str, int)) else repr(key))
            raise
    return out


def _unit(u, tag: str) -> str:
    if type(u) is not str or u not in _UNITS:
        raise Corrupt(f"tag {tag!r}: unit must be one of {', '.join(_UNITS)}, got {u!r}")
    return u


def _tag_timestamp(o):
    v, unit, tz = _fields(o, "timestamp", "v", "unit", "tz")
    v, unit = _int(v, "timestamp value", *_INT64), _unit(unit, "timestamp")
    if tz is not None and (type(tz) is not str or not _TZ.fullmatch(tz)):
        raise Corrupt(f"tag 'timestamp': tz must be null or a time zone name, got {tz!r:.80}")
    try:
        ts = pd.Timestamp(np.datetime64(v, unit))  # type: ignore[call-overload]  # unit: a checked str
        return ts if tz is None else ts.tz_localize("UTC").tz_convert(tz)
    except (ValueError, OverflowError, KeyError, pd.errors.OutOfBoundsDatetime) as exc:
        raise Corrupt(f"tag 'timestamp': {exc}") from None
    except Exception as exc:  # unknown time zone names raise several types
        raise Corrupt(f"tag 'timestamp': {type(exc).__name__}: {exc}") from None


def _tag_timedelta(o):
    v, unit = _fields(o, "timedelta", "v", "unit")
    v, unit = _int(v, "timedelta value", *_INT64), _unit(unit, "timedelta")
    if v == _INT64[0]:
        raise Corrupt("tag 'timedelta': the value is NaT; NaT is tagged 'nat'")
    return pd.Timedelta(np.timedelta64(v, unit))  # type: ignore[call-overload]  # unit: a checked str


def _tag_nat(o):
    _fields(o, "nat")
    return pd.NaT


def _tag_na(o):
    _fields(o, "na")
    return pd.NA


_ITEM_TAGS = ("float", "timestamp", "timedelta", "nat", "na")


def _tag_ndarray(o):
    dtype, shape, v = _fields(o, "ndarray", "dtype", "shape", "v")
    if type(dtype) is not str or not _DTYPE.fullmatch(dtype):
        raise Corrupt(f"tag 'ndarray': unsupported dtype {dtype!r:.80}")
    if type(shape) is not list or len(shape) > 32 or any(type(n) is not int or n < 0 for n in shape):
        raise Corrupt(f"tag 'ndarray': shape must be a list of non-negative integers, got {shape!r:.80}")
    if type(v) is not list or len(v) != math.prod(shape):
        raise Corrupt(f"tag 'ndarray': shape {shape} needs {math.prod(shape)} values, "
                      f"got {len(v) if type(v) is list else _type_name(v)}")
    dt = np.dtype(dtype)
    kind = dt.kind
    if kind == "O":
        arr = np.empty(len(v), dtype=object)
        for i, item in enumerate(v):
            if type(item) is dict and item.get("$") not in _ITEM_TAGS or type(item) is list:
                raise Corrupt(f"item {i} of an object array must be a scalar, got {item!r:.80}")
            try:
                arr[i] = decode(item)
            except Corrupt as exc:
                exc.path.append(i)
                raise
        return arr.reshape(shape)
    if kind == "f":
        v = _decode_items(v)
        ok = all(type(x) is float or type(x) is int for x in v)
    elif kind == "b":
        ok = all(type(x) is bool for x in v)
    elif kind == "U":
        ok = all(type(x) is str and len(x) <= dt.itemsize // 4 for x in v)
    else:  # i, u, M, m
        ok = all(type(x) is int for x in v)
    if not ok:
        bad = next(i for i, x in enumerate(v) if not _fits(x, kind, dt))
        raise Corrupt(f"tag 'ndarray': item {bad} ({v[bad]!r:.40}) does not fit dtype {dtype}")
    try:
        arr = np.array(v, dtype="int64").view(dt) if kind in "Mm" else np.array(v, dtype=dt)
    except (OverflowError, ValueError) as exc:
        raise Corrupt(f"tag 'ndarray': values do not fit dtype {dtype}: {exc}") from None
    return arr.reshape(shape)


def _fits(x, kind: str, dt: np.dtype) -> bool:
    if kind == "f":
        return type(x) in (float, int)
    if kind == "b":
        return type(x) is bool
    if kind == "U":
        return type(x) is str and len(x) <= dt.itemsize // 4
    return type(x) is int


_TAGS = {
    "float": _tag_float,
    "tuple": _tag_tuple,
    "map": _tag_map,
    "ndarray": _tag_ndarray,
    "timestamp": _tag_timestamp,
    "timedelta": _tag_timedelta,
    "nat": _tag_nat,
    "na": _tag_na,
}
