# Two commands on a fresh machine with python3 and make: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=
# Two workers, one per database engine (tests/conftest.py schedules the tests by engine).
PYTEST_WORKERS ?= -n 2 --dist loadscope
# The locks, with hashes: requirements.lock is what the service (and the image) runs on,
# requirements-dev.lock the same with the test tools. `make lock` writes both from pyproject.toml.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
LOCK_ARGS ?=
COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: install run test test-deep durations fuzz lint format openapi migrate regions clean bench simulate proof lock

# Python keeps the bytecode it compiles (__pycache__): a machine that turns that off
# (PYTHONDONTWRITEBYTECODE) has every process the suite starts (servers, workers, the console
# script) compile every module it imports anew: most of the CPU of its start-up.
unexport PYTHONDONTWRITEBYTECODE

# --no-compile: the modules a run imports are compiled as they are first imported, not every
# file of every package up front (a fresh install in 13 s instead of 34).
$(INSTALLED): pyproject.toml $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

install: $(INSTALLED)  ## Create .venv and install the service with its test tools, from the lock

lock:  ## Resolve the locks again from pyproject.toml (LOCK_ARGS=--upgrade: the newest releases)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c 'import platform, sys; assert sys.version_info[:2] == (3, 11) \
	  and sys.platform == "linux" and platform.machine() == "x86_64", "lock on CPython 3.11, linux x86_64"'
	$(BIN)/python -m pip install --quiet pip-tools
	$(COMPILE) --output-file $(LOCK) pyproject.toml
	$(COMPILE) --extra dev --constraint $(LOCK) --output-file $(DEV_LOCK) pyproject.toml

migrate: install  ## Bring the configured database to the newest schema
	$(BIN)/aixin migrate

regions: install  ## Load the bundled division codes (idempotent)
	$(BIN)/aixin regions load

run: migrate regions  ## Serve the API on http://127.0.0.1:8000 (docs at /docs)
	$(BIN)/aixin serve

# tests/console/test_browser.py (make test) and tests/core/test_docs.py (make test-deep) drive
# Debian's chromium (with a font for the Chinese text); where it is missing it is installed, as
# root with apt-get, so CI runs those tests too.
BROWSER_PACKAGES := chromium fonts-wqy-microhei

.PHONY: browser
browser:  ## Debian's chromium for the browser tests, installed when missing
	@if [ ! -x /usr/bin/chromium ] || [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
	  if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES); \
	  else \
	    echo "install $(BROWSER_PACKAGES) for the browser tests (without chromium it skips; under CI=true it fails)"; \
	  fi; \
	fi

test: install browser  ## The suite, on SQLite and on PostgreSQL (without the deep proofs)
	$(BIN)/pytest $(PYTEST_WORKERS) -m "not deep" $(PYTEST_ARGS)

test-deep: install browser  ## The deep proofs tests/conftest.py lists in DEEP (CI runs them too)
	$(BIN)/pytest $(PYTEST_WORKERS) -m deep $(PYTEST_ARGS)

durations: install browser  ## Record each scope's seconds (tests/durations.json): make test takes the longest first
	$(BIN)/pytest $(PYTEST_WORKERS) --record-durations $(PYTEST_ARGS)

fuzz: install  ## Fuzzing from the OpenAPI document, deeper than make test (AIXIN_FUZZ_EXAMPLES)
	AIXIN_FUZZ_EXAMPLES=$${AIXIN_FUZZ_EXAMPLES:-50} $(BIN)/pytest $(PYTEST_WORKERS) tests/fuzz $(PYTEST_ARGS)

lint: install  ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

openapi: install  ## Write openapi/openapi.json from the code
	$(BIN)/aixin openapi --output openapi/openapi.json

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

bench: install  ## Benchmarks (not tests): results printed and written to benchmarks/results/
	$(BIN)/python -m benchmarks.browse --needs $${BENCH_NEEDS:-100000}
	$(BIN)/python -m benchmarks.matching
	$(BIN)/python -m benchmarks.matching_service
	$(BIN)/python -m benchmarks.console_import --rows $${BENCH_IMPORT_ROWS:-5000}
	$(BIN)/python -m benchmarks.tutoring
	$(BIN)/python -m benchmarks.knapsack
	$(MAKE) bench-hot-path

.PHONY: bench-hot-path
bench-hot-path: install  ## Aixin beside a minimal FastAPI service under wrk (HOT_PATH_ARGS=--quick)
	$(BIN)/python -m benchmarks.hot_path $(HOT_PATH_ARGS)

simulate: install  ## A year of Dongkou county under the four policies, same seed
	$(BIN)/python -m benchmarks.simulation --profile $${SIM_PROFILE:-dongkou} --seed $${SIM_SEED:-1} --jobs 2

proof: install  ## Load at the best rate for 5 minutes, and a database outage, on a private PostgreSQL
	$(BIN)/python -m benchmarks.proof_outage; status=$$?; \
	$(BIN)/python -m benchmarks.proof_outage --mode freeze --timeout 60 || status=1; \
	$(BIN)/python -m benchmarks.proof_load --hold $${PROOF_HOLD:-300} || status=1; \
	$(BIN)/python -m benchmarks.proof_summary; exit $$status
