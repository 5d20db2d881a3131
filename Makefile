# The README's commands. Every target creates .venv and installs the pinned stack when needed.
PY := .venv/bin/python
STAMP := .venv/.installed
MEMBERS := $(notdir $(wildcard packages/*))

# the tests and demos read real data from the shared folder beside the checkout, unless RECUR_DATA
# already names a data root
ifndef RECUR_DATA
ifneq ($(wildcard ../shared/data/.),)
export RECUR_DATA := $(abspath ../shared/data)
endif
endif

.PHONY: venv demo test test-slow lint bench repro clean

venv: $(STAMP)

$(STAMP): requirements.txt packages/*/pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

demo: $(STAMP)
	.venv/bin/recur demo

# make test: every member's tests; make test MEMBER=graph (or make test-graph): one member's
test: $(STAMP)
ifdef MEMBER
	@test -d packages/$(MEMBER)/tests || { echo "make test: no member '$(MEMBER)'; members: $(MEMBERS)" >&2; exit 2; }
endif
	$(PY) -m pytest $(if $(MEMBER),packages/$(MEMBER)/tests)

test-%: $(STAMP)
	@$(MAKE) --no-print-directory test MEMBER=$*

test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(if $(MEMBER),packages/$(MEMBER)/tests)

lint: $(STAMP)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench: $(STAMP)
	$(PY) tools/bench/layers.py

clean:
	rm -rf .venv runs
