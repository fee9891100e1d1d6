# Two commands: `make demo` and `make test`. Both create .venv with the pinned stack when it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stack-installed

.PHONY: demo test lint setup clean

$(STAMP): requirements/stack.txt requirements/data.txt setup.cfg scripts/setup_env.sh
	@scripts/setup_env.sh

setup: $(STAMP)

demo: $(STAMP)
	$(PY) -m lazydit.cli demo

# Lint and format check first (pyproject.toml [tool.ruff]): seconds, and a failure names the file and line.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint
	$(PY) -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) build out runs
