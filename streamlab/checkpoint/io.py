"""Checkpoint files on disk: written atomically, read strictly (UTF-8, JSON, no duplicate keys).

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "c.json")
>>> write_atomic(path, '{"a":1}')
>>> read_json(path)
{'a': 1}
>>> with open(path, "w") as f:
...     _ = f.write('{"a":1,"a":2}')
>>> try:
...     read_json(path)
... except ValueError as exc:
...     print(str(exc).split(": ", 1)[1])
the key 'a' appears twice in one object
"""

from __future__ import annotations

import json
import os


def write_atomic(path, text: str) -> None:
    """Write ``text`` to ``path``: a temporary file, fsync, ``os.replace``, fsync of the directory."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"the key {k!r:.60} appears twice in one object")
        out[k] = v
    return out


def _no_constant(name):
    raise ValueError(f"{name} is not JSON (non-finite numbers are tagged)")


def read_json(path):
    """The JSON value in ``path``; ValueError if the file is not UTF-8 JSON (truncated, damaged ...)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                          parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"{os.fspath(path)!r} is not a valid checkpoint file: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{os.fspath(path)!r} is not a valid checkpoint file: {exc}") from None
