# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Both create .venv if absent and install what they need; `make test` (and
# `make dse`) also install Debian's iverilog, OpenSTA and the OSU 0.18 um cell library when missing and apt
# is usable (synthesis runs on the PyPI pyosys package, installed into .venv).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test test-slow bench bench-flow dse calibrate sysdeps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[torch,test]'
	touch $@

# Debian package : a file it installs (present = installed).
SYSDEPS := iverilog:/usr/bin/iverilog opensta:/usr/bin/sta qflow-tech-osu018:/usr/share/qflow/tech/osu018/osu018_stdcells.lib

sysdeps:
	@for dep in $(SYSDEPS); do pkg=$${dep%%:*}; file=$${dep#*:}; test -e $$file && continue; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq --no-install-recommends $$pkg || (apt-get update -qq && \
	      apt-get install -y -qq --no-install-recommends $$pkg)) >/dev/null 2>&1 \
	      || echo "note: could not install $$pkg; the tests that need it will be skipped"; \
	  else echo "note: $$pkg is missing (apt-get install $$pkg); the tests that need it will be skipped"; fi; done

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

# The cost flow on real libraries: time per step, every family at two clocks, glitches (about 40 min on 2 cores).
bench-flow: $(STAMP) sysdeps
	$(PY) benchmarks/bench_flow.py
	$(PY) benchmarks/bench_glitches.py

clean:
	rm -rf build
