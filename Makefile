# Two commands for a newcomer: `make lab` opens the workbench, `make test` runs everything.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
ROOT_FLAG = $(shell [ "$$(id -u)" = "0" ] && echo --allow-root)

.PHONY: lab test test-fast install install-test flink-venv lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: $(VENV)/bin/python
	$(PIP) install -q -e ".[notebook]"

install-test: $(VENV)/bin/python
	$(PIP) install -q -e ".[test]"

flink-venv:
	bash scripts/setup-flink.sh

lab: install
	$(VENV)/bin/jupyter lab notebooks/01-quickstart.ipynb $(ROOT_FLAG)

# ruff, mypy, the TypeScript specs (jest), then the whole pytest suite: engine, magics, widgets,
# notebooks, real chromium, a real Kafka-compatible broker and Apache Flink.
test: install-test flink-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	cd labextension && (test -d node_modules || npm ci --no-audit --no-fund) && npx jest --ci
	$(VENV)/bin/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

# The same without Flink and the browser, for a quick local loop.
test-fast: install-test
	STREAMLAB_SKIP_FLINK=1 $(VENV)/bin/pytest -m "not flink" --ignore=tests/ui

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: install-test
	$(PY) benchmarks/bench_windows.py

clean:
	rm -rf $(VENV) .venv-flink build dist *.egg-info
