# voicebus: the two commands a newcomer needs are `make run` and `make test`.
# Every target sets itself up first (Debian packages as root, .venv, Python packages, rtos/ build).

PY      := .venv/bin/python
PYTEST  ?= $(PY) -m pytest
CONFIG  ?= configs/host.yaml
VOICE   ?= piper

.PHONY: setup run test test-fast lint bench bench-bus clean help

help:
	@echo "make run      - set up, then run the voice pipeline demo ($(CONFIG); VOICE=espeak for espeak-ng)"
	@echo "make test     - set up, then lint and run the whole test suite (what CI runs)"
	@echo "make test-fast- the suite without the slow end-to-end tests"
	@echo "make lint     - ruff and mypy"
	@echo "make bench    - quick benchmarks (they check the benches work; figures not comparable)"
	@echo "make bench-bus- the full bus comparison (pyzmq, voicebus, dora-rs; 3 rounds, ~15 min)"
	@echo "make setup    - only the setup (.venv, packages, C build)"

setup:
	@bash scripts/setup.sh

run: setup
	$(PY) -m demo --config $(CONFIG) --voice $(VOICE)

test: setup lint
	$(PYTEST) -q

test-fast: setup
	$(PYTEST) -q -m "not slow"

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: setup
	$(PY) -m bench.bus --quick
	@for b in ivmr vad asr llm e2e supervisor understanding eot resample chaos soak; do \
	  if [ -f bench/$$b.py ]; then $(PY) -m bench.$$b --quick || exit 1; fi; \
	done

bench-bus: setup
	$(PY) -m bench.bus

clean:
	rm -rf .venv rtos/build bus/native/build .pytest_cache .mypy_cache .ruff_cache
