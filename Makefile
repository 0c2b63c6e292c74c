# The two commands of the README: `make run` and `make test`. Both build or reuse .venv
# from uv.lock and install the system packages they need when missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-all lint demo-assets bench venv system-deps browser-deps

run: venv
	$(PY) launch.py

test: venv browser-deps
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-all: PYTEST_ARGS = -m ""
test-all: test

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

demo-assets: venv
	$(VENV)/bin/lcm-writer demo-assets

bench: venv
	$(VENV)/bin/lcm-writer bench

venv: system-deps
	@command -v uv >/dev/null || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	@uv sync --frozen --extra dev --quiet

# fairseq2n loads libsndfile at import time; wamerican is the word list of the writer eval
# (/usr/share/dict/american-english, `lcm-writer eval --writer-words`).
system-deps:
	@dpkg -s libsndfile1 wamerican >/dev/null 2>&1 || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libsndfile1 wamerican >/dev/null)

# Debian's Chromium drives the browser tests (Playwright's own download is not used).
browser-deps:
	@command -v chromium >/dev/null || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium fonts-dejavu-core >/dev/null)
