# paymesh developer commands. Quick start: `make dev` and `make test` (README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system-deps venv proto proto-check lint test test-fast dev bench clean k8s

setup: system-deps venv

system-deps:
	@bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

proto: venv
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/buf lint
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) scripts/protogen.py
	$(PY) -m paymesh.gateway.openapi > gateway/envoy/openapi.json

proto-check: venv
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/buf lint
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) scripts/protogen.py --check

# Regenerate k8s/*.yaml from the service registry (tests/deploy checks they are current).
k8s: venv
	$(PY) -m paymesh.deploy.k8s --dir k8s

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: setup proto-check lint
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m pytest

test-fast: venv
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m pytest -x -q

dev: setup
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/paymesh dev

bench: setup
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/paymesh bench --json .paymesh/bench.json \
		$(if $(CHANNEL),--channel $(CHANNEL)) $(if $(WORKERS),--workers $(WORKERS))

clean:
	rm -rf $(VENV) .paymesh .mypy_cache .ruff_cache .pytest_cache build *.egg-info
