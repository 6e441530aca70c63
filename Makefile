# OMNI2 — the newcomer path is `make run` and `make test`; nothing else to set up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test install migrate demo bench lint format clean

# The embedded demo asks for DEBUG (OMNI2's default is off): plain HTTP on 127.0.0.1, and
# load_demo's well-known admin. An OMNI2_DEBUG in the environment wins.
run demo: export OMNI2_DEBUG ?= true

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

run: demo
	$(PY) manage.py serve

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# Formatting, lint rules and the layers contract (pyproject.toml); fails on any finding.
# `make format` rewrites the tree the way `make lint` wants it.
lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	@for b in bench/[!_]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf var/ .pytest_cache .hypothesis
