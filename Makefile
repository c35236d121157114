# One way in for people and CI. Every target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check format bench clean

$(STAMP): pyproject.toml
	@echo "Installing Suanli and its dependencies into $(VENV) (first run only: NumPy, SciPy,"
	@echo "OR-Tools, FastAPI...; a few minutes on a fresh machine, then the target runs)."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/suanli demo

test: $(STAMP)
	@scripts/ensure-browser.sh
	$(BIN)/python -m pytest -q

check: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(VENV) build dist src/*.egg-info
