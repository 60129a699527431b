#!/usr/bin/env bash
# Create .venv-flink (repo root) with Apache Flink's Python API for the differential tests.
# Idempotent: does nothing when `import pyflink` already works. Exits non-zero on failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STREAMLAB_FLINK_VENV:-$ROOT/.venv-flink}"
PY="$VENV/bin/python"
PYTHON="${PYTHON:-python3}"
FLINK_SPEC="${FLINK_SPEC:-apache-flink==2.3.0}"

if [ -x "$PY" ] && "$PY" -c "import pyflink" >/dev/null 2>&1; then
  echo "setup-flink: $VENV already has pyflink"
  exit 0
fi

if ! command -v java >/dev/null 2>&1; then
  echo "setup-flink: java not found (Flink needs Java 11 or 17)" >&2
  exit 1
fi

if [ ! -x "$PY" ]; then
  echo "setup-flink: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

echo "setup-flink: installing $FLINK_SPEC (about 840 MB, about a minute)"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q "$FLINK_SPEC"

if ! "$PY" -c "import pyflink" >/dev/null 2>&1; then
  echo "setup-flink: pyflink still does not import after the install" >&2
  exit 1
fi
"$PY" -m pip show apache-flink | sed -n 's/^Version: /setup-flink: apache-flink /p'
