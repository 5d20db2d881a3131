# The README's commands. Every target creates .venv and installs the pinned stack when needed.
PY := .venv/bin/python
STAMP := .venv/.installed

.PHONY: venv demo test test-slow lint bench repro clean

venv: $(STAMP)

$(STAMP): requirements.txt packages/*/pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

demo: $(STAMP)
	.venv/bin/recur demo

test: $(STAMP)
	$(PY) -m pytest

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

lint: $(STAMP)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench: $(STAMP)
	$(PY) tools/bench/layers.py

clean:
	rm -rf .venv runs
