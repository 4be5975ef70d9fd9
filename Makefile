# Two commands on a fresh machine with python3 and make: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=
# Two workers, one per database engine (tests/conftest.py groups the tests by engine).
PYTEST_WORKERS ?= -n 2 --dist loadgroup

.PHONY: install run test fuzz lint format openapi migrate regions clean bench simulate proof

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(INSTALLED)  ## Create .venv and install the service with its test tools

migrate: install  ## Bring the configured database to the newest schema
	$(BIN)/aixin migrate

regions: install  ## Load the bundled division codes (idempotent)
	$(BIN)/aixin regions load

run: migrate regions  ## Serve the API on http://127.0.0.1:8000 (docs at /docs)
	$(BIN)/aixin serve

test: install  ## The whole suite, on SQLite and on PostgreSQL
	$(BIN)/pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

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

simulate: install  ## A year of Dongkou county under both policies, same seed (about an hour)
	$(BIN)/python -m benchmarks.simulation --profile $${SIM_PROFILE:-dongkou} --seed $${SIM_SEED:-1} --jobs 2

proof: install  ## Load at the best rate for 5 minutes, and a database outage, on a private PostgreSQL
	$(BIN)/python -m benchmarks.proof_outage; status=$$?; \
	$(BIN)/python -m benchmarks.proof_outage --mode freeze --timeout 60 || status=1; \
	$(BIN)/python -m benchmarks.proof_load --hold $${PROOF_HOLD:-300} || status=1; \
	$(BIN)/python -m benchmarks.proof_summary; exit $$status
