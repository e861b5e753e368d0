# The two commands: `make run` sets up and serves the shop; `make test` runs the suite.
PYTHON ?= python3
# Where `make run` serves: `make run PORT=8080` (or HOST=0.0.0.0 behind a firewall).
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
# Two pytest workers by default (the suite's servers are per worker); override with PYTEST_ARGS.
PYTEST_ARGS ?= -n auto

.PHONY: run test test-deps lint bench clean

$(BIN)/python:
	@scripts/check-run venv $(PYTHON)
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## make run: install, create/upgrade the SQLite database in instance/, seed, serve on $(HOST):$(PORT)
run: $(VENV)/.runtime
	@PYTHON=$(BIN)/python scripts/check-run port $(HOST) $(PORT)
	$(BIN)/flask --app webshop init-db
	GUNICORN_BIND=$(HOST):$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py

## make test: install test dependencies (Debian chromium, postgresql, nginx, redis-server, wrk, valgrind when missing) and run every test
test: $(VENV)/.dev test-deps
	scripts/run-tests $(BIN)/python $(PYTEST_ARGS)

test-deps:
	scripts/install-test-deps

lint: $(VENV)/.dev
	$(BIN)/ruff check webshop tests bench

bench: $(VENV)/.dev test-deps
	$(BIN)/python bench/visits.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
