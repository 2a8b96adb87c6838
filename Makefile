# Two commands: `make run` (set up, demo workspace, scheduler + dashboard) and `make test` (set up, all tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOME_DIR ?= workspace

.PHONY: run test setup test-deps lint clean

$(BIN)/observatory: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

setup: $(BIN)/observatory

run: setup
	$(BIN)/observatory --home $(HOME_DIR) demo

test-deps: setup
	./.ci/test-deps

lint: setup
	$(BIN)/ruff check observatory collectors anomaly dashboards tests benchmarks

test: setup test-deps lint
	$(BIN)/python -m pytest -n 2 --dist loadfile

clean:
	rm -rf $(VENV) $(HOME_DIR) node_modules .pytest_cache
