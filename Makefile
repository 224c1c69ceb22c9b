# The two commands of the README: `make run` and `make test`. Everything else is for development.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.DEFAULT_GOAL := help
.PHONY: help run test test-fast chaos contract lint format bench lock migrate sbom clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) scripts/bootstrap-venv $(VENV)

$(RUNTIME_STAMP): $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

run: $(RUNTIME_STAMP) ## serve the API on http://localhost:8000 (SQLite in ./data)
	$(BIN)/todo-api serve

migrate: $(RUNTIME_STAMP) ## apply database migrations and exit
	$(BIN)/todo-api migrate

test: $(DEV_STAMP) ## run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(DEV_STAMP) ## the suite without the container, browser and slow tests
	$(BIN)/python -m pytest -m "not container and not browser and not slow" $(PYTEST_ARGS)

chaos: $(DEV_STAMP) ## the reliability suite: kill -9, full disk, deleted file, lock waits, hostile clients, schemathesis, soak
	$(BIN)/python -m pytest -m chaos $(PYTEST_ARGS)

contract: $(DEV_STAMP) ## Schemathesis over the OpenAPI document, deeper than in `make test`
	TODO_CONTRACT_MAX_EXAMPLES=$(or $(CONTRACT_EXAMPLES),200) $(BIN)/python -m pytest -p no:cacheprovider tests/test_schemathesis.py

lint: $(DEV_STAMP) ## ruff, formatting, mypy --strict and the import layers (docs/architecture.md)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

format: $(DEV_STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(DEV_STAMP) ## throughput against the framework floor (needs wrk)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lock: $(DEV_STAMP) ## re-pin dependencies from pyproject.toml
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.txt pyproject.toml
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --extra dev -o requirements-dev.txt pyproject.toml

# The SBOM describes what the image ships: requirements.txt and todo-api itself, in a venv
# without pip and setuptools (the Dockerfile removes them too).
SBOM ?= build/sbom.cdx.json
SBOM_VENV := build/sbom-venv
CYCLONEDX := .tools/venv/bin/cyclonedx-py

$(SBOM_VENV)/.installed: requirements.txt pyproject.toml
	rm -rf $(SBOM_VENV)
	$(PYTHON) scripts/bootstrap-venv $(SBOM_VENV)
	$(SBOM_VENV)/bin/python -m pip install --quiet -r requirements.txt
	$(SBOM_VENV)/bin/python -m pip install --quiet --no-deps .
	$(SBOM_VENV)/bin/python -m pip uninstall --quiet --yes pip setuptools
	@touch $@

$(CYCLONEDX):
	bash scripts/install-deploy-tools checkers

sbom: $(SBOM_VENV)/.installed $(CYCLONEDX) ## CycloneDX SBOM of the image's Python packages (build/sbom.cdx.json)
	@mkdir -p $(dir $(SBOM))
	$(CYCLONEDX) environment --pyproject pyproject.toml --output-reproducible --of JSON -o $(SBOM) $(SBOM_VENV)/bin/python
	@echo "wrote $(SBOM)"

clean: ## remove the virtualenv and caches (keeps ./data)
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
