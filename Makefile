# Kuzet: `make demo` runs the platform on this machine, `make test` runs every check CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICES := $(sort $(patsubst %/pyproject.toml,%,$(wildcard services/*/pyproject.toml)))
BUF := .tools/buf/node_modules/.bin/buf
PYTEST_ARGS ?=

.PHONY: dev setup test demo up lint format proto proto-check proto-lint chart-check bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Every service editable in one virtual environment, with the test tools.
dev: $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -r requirements-dev.txt -e protos/python \
		$(foreach s,$(SERVICES),-e "$(s)[test]") -e e2e

# System components the tests and the demo run for real (RTSP server, Chromium, Helm, Triton,
# a Kubernetes API server): each script is idempotent and caches slow builds outside the repo.
setup: dev
	@for script in scripts/setup/*.sh; do echo "== $$script"; bash "$$script" || exit 1; done

$(BUF):
	npm install --silent --no-audit --no-fund --prefix .tools/buf @bufbuild/buf@1.75.0

proto: dev
	$(BIN)/python scripts/protogen.py

proto-check: dev
	$(BIN)/python scripts/protogen.py --check

proto-lint: $(BUF)
	cd protos && ../$(BUF) lint

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHON=$(BIN)/python bash scripts/mypy.sh
	$(BIN)/lint-imports --no-cache

format: dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

chart-check: setup
	bash scripts/chart-check.sh

test: setup proto-check proto-lint lint chart-check
	KUZET_TEST_STRICT=1 $(BIN)/pytest $(PYTEST_ARGS)

up: setup
	$(BIN)/kuzet up

demo: setup
	$(BIN)/kuzet demo

bench-quick: dev
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python "$$b" --quick || exit 1; done

clean:
	rm -rf .kuzet .pytest_cache .mypy_cache .ruff_cache test-artifacts
