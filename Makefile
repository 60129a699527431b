# Two commands for a newcomer: `make lab` opens the workbench, `make test` runs everything.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
ROOT_FLAG = $(shell [ "$$(id -u)" = "0" ] && echo --allow-root)

.PHONY: lab test install install-test flink-venv lint bench clean

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

test: install-test flink-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

lint: install-test
	$(VENV)/bin/ruff check .

bench: install-test
	$(PY) benchmarks/bench_windows.py

clean:
	rm -rf $(VENV) .venv-flink build dist *.egg-info
