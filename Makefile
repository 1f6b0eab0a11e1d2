# file-telemetry — the two front-door commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed
TEST_SERVICES ?= postgres redis neo4j kafka
PYTEST_ARGS ?= -v

.PHONY: run test lint install services-start services-stop unit demo bench clean

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## make run: the all-in-one server on embedded defaults (SQLite, embedded graph, embedded Redis)
run: $(STAMP)
	$(VENV)/bin/ftel serve

## make lint: types (mypy --strict) and style (ruff check, ruff format --check); part of make test
lint: $(STAMP)
	$(VENV)/bin/ruff check backend graph dashboard tests bench
	$(VENV)/bin/ruff format --check backend graph dashboard tests bench
	$(VENV)/bin/mypy

## make test: install everything, lint, start real PostgreSQL/Redis/Neo4j/Kafka on loopback, run the whole suite, stop them
test: lint
	scripts/install-system-deps.sh
	scripts/install-browser.sh
	@status=0; \
	scripts/services.sh start $(TEST_SERVICES) || status=$$?; \
	if [ $$status -eq 0 ]; then $(VENV)/bin/python -m pytest $(PYTEST_ARGS) || status=$$?; fi; \
	scripts/services.sh stop $(TEST_SERVICES); \
	exit $$status

## make unit: the tests that need no service
unit: $(STAMP)
	$(VENV)/bin/python -m pytest tests/unit

services-start:
	scripts/install-system-deps.sh
	scripts/services.sh start $(TEST_SERVICES)

services-stop:
	scripts/services.sh stop $(TEST_SERVICES)

demo: $(STAMP)
	$(VENV)/bin/ftel demo

bench: $(STAMP)
	$(VENV)/bin/python bench/graph_merge.py
	$(VENV)/bin/python bench/rest_ingest.py
	$(VENV)/bin/python bench/stream_ingest.py
	$(VENV)/bin/python bench/upload.py
	$(VENV)/bin/python bench/dashboard_render.py
	$(VENV)/bin/python bench/flow.py

clean:
	rm -rf .ftel-data .pytest_cache test-artifacts
