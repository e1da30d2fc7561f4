# Quick start: `make demo` serves a fake AWS organization on :10042; `make test` runs lint, types and every test.
# Both create .venv when missing and install what they need, Debian packages included.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBIAN_PACKAGES := prometheus prometheus-alertmanager chromium curl kubernetes-client
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint install debian-packages clean bench bench-scrape prometheusrule

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-demo: pyproject.toml fakeaws/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e . -e ./fakeaws
	touch $@

$(VENV)/.installed-test: pyproject.toml fakeaws/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]' -e ./fakeaws
	touch $@

# checkov pins boto3==1.35.49, older than the exporter needs: it lives in a venv of its own.
CHECKOV_VERSION := 3.3.30
$(VENV)/checkov/.installed: | $(BIN)/python
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install -q 'checkov==$(CHECKOV_VERSION)'
	touch $@

install: $(VENV)/.installed-demo

# Real Prometheus, promtool, Alertmanager, Chromium and curl (a TLS client) for the tests; installed only when missing.
debian-packages:
	@missing=""; \
	[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || missing="$$missing prometheus"; \
	[ -x /usr/bin/prometheus-alertmanager ] || missing="$$missing prometheus-alertmanager"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/curl ] || missing="$$missing curl"; \
	[ -x /usr/bin/kubectl ] || missing="$$missing kubernetes-client"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

demo: $(VENV)/.installed-demo
	$(BIN)/aws-root-exporter --demo

# Lint (ruff), format check (ruff format --check) and types (mypy on exporter/), as configured
# in pyproject.toml; `make test` runs them before the tests.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint $(VENV)/checkov/.installed debian-packages
	$(BIN)/python -m pytest

# /metrics latency at 5,000 accounts while a collection runs (docs/performance.md, "Scrape latency").
bench-scrape: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_scrape_live.py

# The figures of issue 10's Targets table, one table (about 15 minutes; not part of `make test`).
# BENCH_ARGS="--quick" for a smoke run, "--repeats 1" for fewer repeats.
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/targets.py $(BENCH_ARGS)

# deploy/kubernetes/prometheusrule.yaml from prometheus/alerts.yml.
prometheusrule: $(VENV)/.installed-test
	$(BIN)/python deploy/kubernetes/make_prometheusrule.py

clean:
	rm -rf $(VENV) *.egg-info
