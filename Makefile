# file-telemetry — the two front-door commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed
TEST_SERVICES ?= postgres redis neo4j kafka s3proxy
PYTEST_ARGS ?= -v
STARTED := $(shell date +%s)

.PHONY: run test lint install services-start services-stop unit demo bench bench-run bench-quick clean

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

## make test: install everything, lint, start real PostgreSQL/Redis/Neo4j/Kafka/S3Proxy on loopback, run the whole suite, stop them
test: lint
	scripts/install-system-deps.sh
	scripts/install-browser.sh
	@status=0; \
	scripts/services.sh start $(TEST_SERVICES) || status=$$?; \
	suite=$$(date +%s); \
	if [ $$status -eq 0 ]; then $(VENV)/bin/python -m pytest $(PYTEST_ARGS) || status=$$?; fi; \
	suite=$$(( $$(date +%s) - suite )); \
	scripts/services.sh stop $(TEST_SERVICES); \
	total=$$(( $$(date +%s) - $(STARTED) )); \
	echo "make test: $$( [ $$status -eq 0 ] && echo passed || echo FAILED ) in $$((total / 60)) min $$((total % 60)) s" \
	     "(the suite $$((suite / 60)) min $$((suite % 60)) s; the rest installs, lints and starts services)"; \
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

## make bench: every bench at full size (docs: README "Benchmarks"), all-in-one and services mode; starts the
## test services like make test. Each prints its figures beside a raw reference measured in the same run.
bench: $(STAMP)
	scripts/install-system-deps.sh
	@status=0; \
	scripts/services.sh start postgres redis neo4j kafka || status=$$?; \
	if [ $$status -eq 0 ]; then source .services/env && $(MAKE) --no-print-directory bench-run || status=$$?; fi; \
	scripts/services.sh stop postgres redis neo4j kafka; \
	exit $$status

bench-run:
	$(VENV)/bin/python bench/graph_merge.py --events 100000 --neo4j
	$(VENV)/bin/python bench/graph_merge.py --events 100000 --mix seed
	$(VENV)/bin/python bench/rest_ingest.py --events 200000
	$(VENV)/bin/python bench/rest_ingest.py --events 200000 --mix flow
	$(VENV)/bin/python bench/rest_ingest.py --seconds 300
	$(VENV)/bin/python bench/rest_ingest.py --events 100000 --services
	$(VENV)/bin/python bench/stream_ingest.py --events 100000
	$(VENV)/bin/python bench/lineage.py --nodes 1000000 --neo4j
	$(VENV)/bin/python bench/upload.py
	$(VENV)/bin/python bench/dashboard_render.py
	$(VENV)/bin/python bench/flow.py
	$(VENV)/bin/python bench/signin.py
	$(VENV)/bin/python bench/stages.py --events 200000 --repeat 3 --neo4j
	$(VENV)/bin/python bench/rollup.py --events 1000000 --new 10000
	$(VENV)/bin/python bench/rollup.py --events 1000000 --new 10000 --postgres
	$(VENV)/bin/python bench/export.py --events 1000000
	$(VENV)/bin/python bench/crash_loop.py --kills 60

## make bench-quick: each bench small (under a minute each), all-in-one only, no services needed
bench-quick: $(STAMP)
	$(VENV)/bin/python bench/graph_merge.py --events 10000
	$(VENV)/bin/python bench/rest_ingest.py --events 20000
	$(VENV)/bin/python bench/rest_ingest.py --seconds 20
	$(VENV)/bin/python bench/stream_ingest.py --events 10000
	$(VENV)/bin/python bench/lineage.py --nodes 50000 --samples 100
	$(VENV)/bin/python bench/upload.py --mib 64 --runs 1
	$(VENV)/bin/python bench/dashboard_render.py --runs 1
	$(VENV)/bin/python bench/flow.py --requests 10
	$(VENV)/bin/python bench/signin.py --attempts 8 --concurrency 2,8
	$(VENV)/bin/python bench/stages.py --events 10000 --repeat 3
	$(VENV)/bin/python bench/rollup.py --events 50000 --new 5000
	$(VENV)/bin/python bench/export.py --events 50000
	$(VENV)/bin/python bench/crash_loop.py --kills 4 --variants rest,drain

clean:
	rm -rf .ftel-data .pytest_cache test-artifacts
