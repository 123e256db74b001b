# Each target builds what it needs: a venv in .venv, reinstalled only when
# pyproject.toml changes (the stamp files below).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.stamp-run
STAMP_TEST := $(VENV)/.stamp-test

.PHONY: run test bench lint format clean

run: $(STAMP_RUN)
	$(BIN)/postroom demo

test: $(STAMP_TEST)
	$(BIN)/ruff check core tui tests bench sample_data
	$(BIN)/ruff format --check core tui tests bench sample_data
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP_TEST)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check core tui tests bench sample_data

format: $(STAMP_TEST)
	$(BIN)/ruff format core tui tests bench
	$(BIN)/ruff check --fix core tui tests bench

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
