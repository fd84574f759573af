# One entry point for the kit: `make demo`, `make test`, `make bench`, `make lint`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# nbgrader runs the `alembic` command when it creates a gradebook, so the venv's bin comes first.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test bench lint release audit clean bytecode

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The kit's own modules compiled ahead: an editable install is compiled by no one, and where
# PYTHONDONTWRITEBYTECODE is set every command, judge and warm parent would compile them again at
# each start (0.1 to 0.2 s of CPU a process). Up to date, this takes a tenth of a second.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q grader

# ASSIGNMENT=ID names one assignment of source/ for `demo` and `release`; unset, the demo takes the
# first in sorted order (and says so) and `release` releases each in turn. DEMO_ARGS: e.g. --students 30.
ASSIGNMENT ?=
ASSIGNMENTS = $(or $(ASSIGNMENT),$(sort $(notdir $(patsubst %/,%,$(dir $(wildcard source/*/*.ipynb))))))

demo: bytecode
	$(BIN)/grader demo $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(DEMO_ARGS)

test: bytecode
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

bench: bytecode
	$(BIN)/python bench/bench_autograde.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check grader tests bench

release: bytecode
	set -e; for assignment in $(ASSIGNMENTS); do $(BIN)/grader release $$assignment; done

clean:
	rm -rf submitted autograded/* feedback gradebook.db grades.csv exports reports demo-output bench-output
