# Quick start: `make demo` then `make test`. Both (re)create .venv idempotently.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# The CPU wheel of torch; a plain `torch` requirement would pull a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: venv demo test test-all bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[all,faiss,ray,test]" "$(TORCH)"
	$(PIP) install -q --no-deps "scenedetect-headless>=0.7"
	@touch $(STAMP)

demo: venv
	$(VENV)/bin/kadr demo -o demo-out

# pytest exit 5 (no tests collected) is an error here, like any failure.
test: venv
	$(PY) -m pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "error: no tests were collected"; exit 1; fi; exit $$rc

# Every benchmark (each writes benchmarks/results/<area>.md); needs ../shared/data/video.
bench: venv
	@set -e; for b in benchmarks/[a-z]*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(VENV) demo-out .pytest_cache build *.egg-info
