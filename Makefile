# Quick start: `make demo` serves a fake AWS organization on :10042; `make test` runs lint, types and every test.
# Both create .venv when missing and install what they need, Debian packages included.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBIAN_PACKAGES := prometheus prometheus-alertmanager chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint install debian-packages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-demo: pyproject.toml fakeaws/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e . -e ./fakeaws
	touch $@

$(VENV)/.installed-test: pyproject.toml fakeaws/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]' -e ./fakeaws
	touch $@

install: $(VENV)/.installed-demo

# Real Prometheus, promtool, Alertmanager and Chromium for the tests; installed only when missing.
debian-packages:
	@missing=""; \
	[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || missing="$$missing prometheus"; \
	[ -x /usr/bin/prometheus-alertmanager ] || missing="$$missing prometheus-alertmanager"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

demo: $(VENV)/.installed-demo
	$(BIN)/aws-root-exporter --demo

# Lint (ruff), format check (ruff format --check) and types (mypy on exporter/), as configured
# in pyproject.toml. The format check fails until the tree is formatted once (ruff format .),
# which waits for the open branches to be merged.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/ruff format --check .

test: lint debian-packages
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) *.egg-info
