# The README's two commands: `make demo` and `make test`.  Both run `make setup` first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
RSARCHIVE := $(VENV)/bin/rsarchive
PYTEST_ARGS ?=

.PHONY: setup demo test bench services-up services-down lint clean

setup:
	@./scripts/setup.sh

demo: setup
	@./scripts/demo.sh

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench $(BENCH)

services-up: setup
	$(RSARCHIVE) services up

services-down: setup
	$(RSARCHIVE) services down

clean:
	-$(RSARCHIVE) services down
	rm -rf $(VENV) var
