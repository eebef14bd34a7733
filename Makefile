# Two commands do everything on a fresh machine: `make run` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: setup browser run test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/python -m compileall -q chatbot
	touch $(STAMP)

setup: $(STAMP)

# The widget tests drive Debian's Chromium (browsers cannot be downloaded here)
# and inject axe-core from the npm registry.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium: browser tests will be skipped (they fail under CI=true)"; }
	@test -f node_modules/axe-core/axe.min.js || { \
	  command -v npm >/dev/null 2>&1 && npm install --no-save --no-audit --no-fund --silent axe-core@4 \
	  || echo "could not install axe-core: the accessibility test will be skipped (it fails under CI=true)"; }

run: setup
	$(BIN)/chatbot serve --port $(PORT)

# Two processes, each taking whole modules (--dist loadfile: a module's servers, browser and
# fixtures stay in one process), the longest modules first (tests/conftest.py, LONGEST_FIRST;
# --no-loadscope-reorder keeps that order): much of the suite waits on servers, subprocesses
# and timeouts, so even two busy cores finish it about a third sooner. `pytest` alone is serial.
test: setup browser
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache test-artifacts
