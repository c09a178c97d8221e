# Each target creates .venv and installs the pinned dependencies when needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/lifa run $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check lifa_jax tests benchmarks experiments
	$(BIN)/ruff format --check lifa_jax tests benchmarks experiments

format: $(STAMP)
	$(BIN)/ruff format lifa_jax tests benchmarks experiments
	$(BIN)/ruff check --fix lifa_jax tests benchmarks experiments

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_inference.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
