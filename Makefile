# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# The demo needs only the light core (embedded llama.cpp model); the tests also install the
# `hf` extra (torch, torchvision, transformers) for the Hugging Face target-model tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORE := $(VENV)/.installed-core
FULL := $(VENV)/.installed-full

.PHONY: demo test lint install

$(CORE): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[providers]"
	touch $(CORE)

$(FULL): $(CORE)
	$(BIN)/python -m pip install --quiet -e ".[dev,providers,hf]"
	touch $(FULL)

install: $(FULL)

demo: $(CORE)
	$(BIN)/aurelia demo

test: $(FULL)
	$(BIN)/ruff check aurelia tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(FULL)
	$(BIN)/ruff check aurelia tests benchmarks
	$(BIN)/ruff format --check aurelia tests benchmarks
