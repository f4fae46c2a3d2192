# Quick start: `make demo` then `make test`. Both (re)create .venv idempotently.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# The CPU wheel of torch; a plain `torch` requirement would pull a multi-GB CUDA build.
TORCH := torch==2.13.0

# The versions `make test` last passed with (see `make lock`). pip's -c only constrains the
# packages it lists: a dependency added since the last lock resolves freely. If the lock and
# pyproject.toml can no longer be satisfied together, the install warns and falls back to a
# free resolution; run `make lock` to refresh the file then. `make venv LOCK=` ignores it.
LOCK ?= constraints.txt
CONSTRAIN := $(if $(wildcard $(LOCK)),-c $(LOCK))
LOCK_VENV := .venv-lock

.PHONY: venv install demo test test-all bench clean lock soak

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile $(wildcard $(LOCK))
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(MAKE) --no-print-directory install VENV=$(VENV) CONSTRAIN="$(CONSTRAIN)"
	@touch $(STAMP)

# Installs kadr and its test stack into $(VENV) (used by venv and lock).
install:
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q $(CONSTRAIN) -e ".[all,faiss,ray,test]" "$(TORCH)" || { \
	  test -n "$(CONSTRAIN)" || exit 1; \
	  echo "warning: $(LOCK) conflicts with pyproject.toml; installing without it (run make lock)" >&2; \
	  $(PIP) install -q -e ".[all,faiss,ray,test]" "$(TORCH)"; }
	$(PIP) install -q $(CONSTRAIN) --no-deps "scenedetect-headless>=0.7"

# Refresh the lock: resolve the newest versions into a fresh $(LOCK_VENV), run the whole test
# suite with them, and only if it passes rewrite $(LOCK) (local labels such as +cpu dropped).
# Review the diff and commit it; the next `make venv` reinstalls from it.
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(MAKE) --no-print-directory install VENV=$(LOCK_VENV) CONSTRAIN=
	$(LOCK_VENV)/bin/python -m pytest -q tests
	{ echo "# Versions the kadr test suite passed with; written by \`make lock\` ($$(date -u +%F), $$($(LOCK_VENV)/bin/python -V))."; \
	  echo "# Used as pip constraints by \`make venv\`; packages not listed resolve freely."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable | grep -v '^kadr==' | sed -E 's/\+[A-Za-z0-9.]+$$//'; \
	} > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf $(LOCK_VENV)
	@echo "$(LOCK) rewritten; review with git diff $(LOCK) and commit it"

demo: venv
	$(VENV)/bin/kadr demo -o demo-out

# pytest exit 5 (no tests collected) is an error here, like any failure.
test: venv
	$(PY) -m pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "error: no tests were collected"; exit 1; fi; exit $$rc

# Every benchmark (each writes benchmarks/results/<area>.md); needs ../shared/data/video.
bench: venv
	@set -e; for b in benchmarks/[a-z]*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(VENV) $(LOCK_VENV) demo-out .pytest_cache build *.egg-info

# Hour-long generated streams through `kadr watch -` and `kadr shots -` (RSS growth, events
# while streaming); minutes each, so a CI step of its own with a time budget, not in `make test`.
SOAK_BUDGET ?= 600
soak: venv
	KADR_SOAK=1 timeout $(SOAK_BUDGET) $(PY) -m pytest -q -m soak tests/test_soak.py
