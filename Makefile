# One command to set everything up and run the demo, one to set everything up and run the tests.
#   make demo   -> nnvsml compare on the bundled data
#   make test   -> the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test bench clean postgres browser

setup: $(VENV)/.installed

# torch first, pinned: the CPU build is served for exactly this version, and letting another
# package pull torch in would fetch several GB of CUDA wheels.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# umap-learn's nearest-neighbour library compiles its numba functions into an on-disk
	# cache on first import (about 10 s): paid here, once, not inside a candidate's clock.
	$(BIN)/python -c "import umap"
	touch $@

demo: setup
	$(BIN)/nnvsml compare

test: setup postgres browser
	$(BIN)/python -m pytest -q

# The shared-storage test starts a real PostgreSQL server. Installed from Debian's package when
# missing and this is root on Debian (as in CI); elsewhere that one test is skipped, saying why.
postgres:
	@if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
	    && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing PostgreSQL (Debian package) for the shared-storage test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql \
	    >/dev/null) || echo "PostgreSQL could not be installed: its test will be skipped"; \
	fi

# The report test renders report.html in headless Chromium. Installed from Debian's package when
# missing and this is root on Debian (as in CI); elsewhere that test is skipped, saying why.
browser:
	@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
	    && ! command -v google-chrome >/dev/null 2>&1 \
	    && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Chromium (Debian package) for the report's screenshot test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	    >/dev/null) || echo "Chromium could not be installed: the screenshot test will be skipped"; \
	fi

bench: setup
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run_compare.py

clean:
	rm -rf $(VENV) nnvsml-runs .pytest_cache
