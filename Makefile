# The two commands a fresh clone needs: `make demo` and `make test`.
# Everything is installed from the package registry into .venv, nothing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's metadata changes; pip >= 25.1 understands dependency groups.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e ".[testing,cli,sql,postgres]" --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m crmcore.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/pytest

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(VENV)/site

# The demo is the main job: it runs with the checks, so that it cannot rot.
test: lint typecheck pytest docs demo

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_storage.py --small
	$(BIN)/python benchmarks/bench_import_time.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache
