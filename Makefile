# The two commands of the README: `make run` and `make test`. Each sets up what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
TA_STAMP := $(VENV)/.installed-tradingagents
# TradingAgents is not on the registries: its wheel comes from shared/ beside the checkout, or
# beside the repository a local clone was made from.
ORIGIN := $(shell git remote get-url origin 2>/dev/null)
TRADINGAGENTS_WHEEL ?= $(firstword $(wildcard ../shared/wheels/tradingagents-*.whl \
	$(if $(ORIGIN),$(ORIGIN)/../shared/wheels/tradingagents-*.whl)))

.PHONY: run test lint format postgres bench load lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The tests also run the TradingAgents vendor against the real package; serving does not need it.
$(TA_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,tradingagents]'
	@test -n "$(TRADINGAGENTS_WHEEL)" || { echo "tradingagents wheel not found: set TRADINGAGENTS_WHEEL"; exit 1; }
	$(BIN)/python -m pip install --quiet --no-deps $(TRADINGAGENTS_WHEEL)
	touch $@

# Mock mode unless a Discord public key is given (in the environment or CONFIG's file).
run: $(STAMP)
	$(BIN)/coach-plans serve $(if $(CONFIG),--config $(CONFIG)) \
		$(if $(or $(DISCORD_PUBLIC_KEY),$(CONFIG)),,--mock)

# The suite starts its own PostgreSQL (installed below if missing) and its own S3 API server
# (moto's, a dev dependency), each on a free port of 127.0.0.1.
test: $(TA_STAMP) postgres lint
	$(BIN)/pytest

# Style, types (mypy --strict) and the import layers (contracts in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The test suite starts its own throwaway PostgreSQL server; this installs one if missing.
postgres:
	@bash scripts/ensure-postgres.sh

# Load comes from wrk (Debian's package), installed here if missing.
bench: $(STAMP)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py

# Mixed load against two workers; fails if a request fails or an answer takes over 3 s.
load: $(STAMP)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/load.py

# The image installs from requirements.lock: runtime dependencies only, exact, with hashes.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --python-platform linux \
		--generate-hashes --quiet -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
