# The two commands of README.md: `make repro` (install, then run the default experiment)
# and `make test` (install, then run the test suite). Both create .venv/ on first use.

PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# The CPU wheel; an unpinned torch would pull gigabytes of CUDA packages.
TORCH := torch==2.13.0
export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: install install-test repro test test-fast docs docs-serve docs-figures clean-venv

# pip compiles the installed modules to bytecode one file at a time; compileall does it on every core
# (measured: install and compile 68 s instead of 82 s). Compiled they must be: with PYTHONDONTWRITEBYTECODE
# set, as on some machines, every process would otherwise compile torch again on import. A few files that
# are not Python 3.11 (torch's tests of newer syntax) fail to compile, as they do under pip: not an error.
COMPILE := $(BIN)/python -m compileall -qq -j 0 $$($(BIN)/python -c "import sysconfig; print(sysconfig.get_path('purelib'))") || true

# The run needs the package alone; the tests add their extras (Lightning, transformers, FAISS, moto, the docs
# builder: ~1.5 minutes more), so `make repro` on a fresh machine does not wait for them.
$(VENV)/.installed: pyproject.toml
	@echo "Creating $(VENV) and installing ibpipe with the CPU torch (a few minutes, once)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile "$(TORCH)" -e .
	$(COMPILE)
	touch $@

# One resolve for the package and its extras on a fresh machine (a second pip run costs ~30 s).
$(VENV)/.installed-test: pyproject.toml
	@echo "Installing ibpipe with the CPU torch and the test and docs extras (a few minutes, once)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile "$(TORCH)" -e ".[test,docs]"
	$(COMPILE)
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The summary is the first thing to read after a run: verdicts and main numbers of every experiment.
repro: install
	dvc repro
	$(BIN)/python -m ibpipe summary

# Two workers, each taking whole files (a file's tests share its fixtures and run in order), handed out
# in collection order, which tests/conftest.py starts with the longest files.
PYTEST := $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15

# Lint and format are part of the tests. pytest exits 5 when it collects no tests: a suite that
# ran nothing proves nothing, so fail loudly.
test: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MKDOCS_BUILD) --site-dir site
	@$(PYTEST); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status

# The inner loop while editing: everything but the end-to-end runs marked slow (`make test` runs them all).
test-fast: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(PYTEST) -m "not slow"; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test-fast: pytest collected no tests" >&2; fi; \
	exit $$status

# The documentation site (mkdocs.yml, pages under docs/): built strictly, so a broken link, anchor or API
# reference fails `make test` as it fails `make docs`; both build into site/ (ignored by git).
MKDOCS_BUILD := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
docs: install-test
	$(MKDOCS_BUILD) --site-dir site

docs-serve: install-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

# The figures of the pages are the pipeline's own: copy (downscaled) what a run left in reports/ to docs/figures/.
docs-figures: install
	$(BIN)/python -m ibpipe.reference --figures reports

clean-venv:
	rm -rf $(VENV)
