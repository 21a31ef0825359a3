# One command to set everything up and run the demo, one to set everything up and run the tests.
#   make demo   -> nnvsml compare on the bundled data
#   make test   -> the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

# torch first, pinned: the CPU build is served for exactly this version, and letting another
# package pull torch in would fetch several GB of CUDA wheels.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: setup
	$(BIN)/nnvsml compare

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run_compare.py

clean:
	rm -rf $(VENV) nnvsml-runs .pytest_cache
