# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Both create .venv if absent and install what they need; `make test` also
# installs Debian's iverilog when it is missing and apt is usable.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test test-slow bench sysdeps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[torch,test]'
	touch $@

sysdeps:
	@command -v iverilog >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && apt-get install -y -qq iverilog) >/dev/null 2>&1 \
	      || echo "note: could not install iverilog; the Icarus tests will be skipped"; \
	  else echo "note: iverilog is missing (apt-get install iverilog); the Icarus tests will be skipped"; fi; }

demo: $(STAMP)
	$(PY) -m hw.demo

test: $(STAMP) sysdeps
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-slow: $(STAMP) sysdeps
	$(PY) -m pytest -n 2 --run-slow $(PYTEST_ARGS)

bench: $(STAMP) sysdeps
	$(PY) benchmarks/bench_regression.py

clean:
	rm -rf build
