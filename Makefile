# The two commands of the README: `make run` and `make test`. Each sets up what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
TA_STAMP  := $(VENV)/.installed-tradingagents
# TradingAgents is not on PyPI. A wheel wins when one is given, or lies in shared/wheels/ beside
# the checkout or beside the repository a local clone was made from (for machines that cannot
# reach GitHub); otherwise it is built from its public v0.3.0 tag on GitHub.
ORIGIN := $(shell git remote get-url origin 2>/dev/null)
TRADINGAGENTS_WHEEL ?= $(firstword $(wildcard ../shared/wheels/tradingagents-*.whl \
	$(if $(ORIGIN),$(ORIGIN)/../shared/wheels/tradingagents-*.whl)))
TRADINGAGENTS_GIT := git+https://github.com/TauricResearch/TradingAgents@v0.3.0
UV     := $(BIN)/uv pip install --quiet --python $(BIN)/python
# The checkout itself, editable: a .pth file (pyproject.toml says why); the locks pinned the rest.
EDITABLE := --no-deps -e .

.PHONY: run setup test lint format postgres bench load lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Serving needs only the runtime dependencies, installed as the image installs them.
$(RUN_STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(PIP) install --require-hashes -r requirements.lock
	$(PIP) install $(EDITABLE)
	touch $@

# The test tools and what the TradingAgents vendor imports, with the runtime dependencies at
# the versions requirements.lock ships: what is tested is what ships. uv (pinned and hashed in
# the lock, installed first by pip) installs the rest in seconds where pip takes minutes.
$(DEV_STAMP): requirements-dev.lock pyproject.toml | $(BIN)/python
	awk '/^[^ #]/ { uv = /^uv==/ } uv' requirements-dev.lock \
		| $(PIP) install --require-hashes -r /dev/stdin
	$(UV) --require-hashes -r requirements-dev.lock
	$(UV) $(EDITABLE)
	touch $@

# The tests also run the TradingAgents vendor against the real package, without its LLM clients
# (--no-deps: requirements-dev.lock has what its data modules import).
$(TA_STAMP): $(DEV_STAMP)
	$(UV) --no-deps '$(or $(TRADINGAGENTS_WHEEL),tradingagents @ $(TRADINGAGENTS_GIT))'
	touch $@

# Mock mode unless a Discord public key is given (in the environment or CONFIG's file).
run: $(RUN_STAMP)
	$(BIN)/coach-plans serve $(if $(CONFIG),--config $(CONFIG)) \
		$(if $(or $(DISCORD_PUBLIC_KEY),$(CONFIG)),,--mock)

# Everything the tests need installed (CI times it apart from the tests).
setup: $(TA_STAMP) postgres

# The suite starts its own PostgreSQL (installed below if missing) and its own S3 API server
# (moto's, a dev dependency), each on a free port of 127.0.0.1.
test: setup lint
	$(BIN)/pytest

# Style, types (mypy --strict) and the import layers (contracts in pyproject.toml).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The test suite starts its own throwaway PostgreSQL server; this installs one if missing.
postgres:
	@bash scripts/ensure-postgres.sh

# Load comes from wrk (Debian's package), installed here if missing.
bench: $(DEV_STAMP)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py

# Mixed load against two workers; fails if a request fails or an answer takes over 3 s.
load: $(DEV_STAMP)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/load.py

# requirements.lock: the runtime dependencies the image and `make run` install, exact, with
# hashes. requirements-dev.lock: those same versions plus the test tools and the vendor's imports.
LOCK := $(BIN)/uv pip compile pyproject.toml --python-version 3.11 --python-platform linux \
	--generate-hashes --quiet
lock: $(DEV_STAMP)
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev --extra tradingagents -c requirements.lock -o requirements-dev.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
