# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Both create .venv if absent and install what they need; `make test` (and
# `make dse`) also install Debian's iverilog and yosys when missing and apt is usable.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test test-slow bench dse calibrate sysdeps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[torch,test]'
	touch $@

sysdeps:
	@for tool in iverilog yosys; do command -v $$tool >/dev/null && continue; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq $$tool || (apt-get update -qq && apt-get install -y -qq $$tool)) >/dev/null 2>&1 \
	      || echo "note: could not install $$tool; the tests that need it will be skipped"; \
	  else echo "note: $$tool is missing (apt-get install $$tool); the tests that need it will be skipped"; fi; done

demo: $(STAMP)
	$(PY) -m hw.demo

test: $(STAMP) sysdeps
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-slow: $(STAMP) sysdeps
	$(PY) -m pytest -n 2 --run-slow $(PYTEST_ARGS)

dse: $(STAMP) sysdeps
	$(PY) -m hw.dse

calibrate: $(STAMP) sysdeps
	$(PY) -m hw.models.calibrate

bench: $(STAMP) sysdeps
	$(PY) benchmarks/bench_regression.py

clean:
	rm -rf build
