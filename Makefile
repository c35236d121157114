# One way in for people and CI. Every target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast browser check format bench clean

$(STAMP): pyproject.toml
	@echo "Installing Suanli and its dependencies into $(VENV) (first run only: NumPy, SciPy,"
	@echo "OR-Tools, FastAPI...; a few minutes on a fresh machine, then the target runs)."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/suanli demo

# Everything: browser tests (after `make browser`), PostgreSQL tests (with
# SUANLI_TEST_DATABASE_URL), races and volumes.
test: $(STAMP)
	$(BIN)/python -m pytest -q

# The inner loop: the core and the CLI, no browser, no PostgreSQL, nothing slow (~50 s of CPU).
FAST_TESTS := tests/catalog tests/geo tests/perf tests/placement tests/sim tests/cli \
	tests/probe tests/bench tests/test_client.py tests/test_layers.py tests/test_readme.py
test-fast: $(STAMP)
	env -u SUANLI_TEST_DATABASE_URL $(BIN)/python -m pytest -q -m "not browser and not slow" \
		$(FAST_TESTS)

# Headless Chromium and ChromeDriver for the browser tests (Debian, as root); run once.
browser:
	scripts/install-browser.sh

check: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(VENV) build dist src/*.egg-info
