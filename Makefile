# Loa: `make demo` runs a controller, `make test` checks everything.
# Each target sets up what it needs: the system programs (apt-get as root, else the
# command to run is printed), the virtualenv in .venv, and the project in it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config.yaml

.PHONY: help demo test lint typecheck pytest bench system-deps venv clean

help:
	@echo "make demo    the controller, its embedded broker and a simulated commune of 30 receivers"
	@echo "make test    ruff, mypy --strict and the whole test suite (real Mosquitto, PostgreSQL)"
	@echo "make bench   the benchmarks in bench/"

system-deps:
	@scripts/system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: system-deps venv
	CONFIG=$(CONFIG) scripts/demo.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

# One worker per core, at most 4 (pytest-xdist): the suite mostly waits on brokers,
# simulated playback and the browser, so on 2 cores its wall time about halves (12 to 7 min).
PYTEST_WORKERS ?= auto --maxprocesses 4

pytest: system-deps venv
	$(BIN)/pytest -n $(PYTEST_WORKERS)

test: lint typecheck pytest

# Every benchmark runs; those that miss their bound are listed at the end (exit 1).
bench: system-deps venv
	@failed=""; for b in bench/*.py; do \
		case $$b in bench/*_rig.py) continue;; esac; \
		echo "== $$b"; $(BIN)/python $$b || failed="$$failed $$b"; \
	done; \
	if [ -n "$$failed" ]; then echo "missed their bounds:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
