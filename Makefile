# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# Real NYU samples for the demo's zero-shot report, when present (the dev/CI workspace has them).
REAL ?= $(wildcard ../shared/data/nyu-test)

.PHONY: demo test lint install browser bench clean

# torch is installed first, pinned, so that resolving the package never pulls a CUDA build.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

# The app's browser test drives Debian's chromium (Playwright's own browser download is not
# used). Installed here where we are root and it is missing; elsewhere the test skips and says so.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found: the app's browser test will skip (sudo apt-get install chromium)"; fi; }

demo: install
	$(BIN)/msdepth quickstart --out demo-out $(if $(REAL),--real $(REAL))

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: install browser lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .ruff_cache
