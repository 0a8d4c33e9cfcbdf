# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# The demo needs only the light core (embedded llama.cpp model); the tests also install the
# `dev` dependency group (the hf, studio and notebook extras, pytest, ruff, import-linter).
# Exact versions for our machines (torch/torchvision) come from constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet -c constraints.txt
# llama-cpp-python compiles from source: a portable CPU build (AVX2/FMA/F16C). A native build
# turns on AMX on recent Xeons, which segfaults where the kernel or sandbox does not grant AMX.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
CORE := $(VENV)/.installed-core
FULL := $(VENV)/.installed-full

# `make check-installed`: a wheel of this tree in a fresh venv of that Python, outside the tree (scripts/check-installed)
CHECK_PYTHON ?= 3.13

.PHONY: demo test lint install check-installed

# The distribution was called `aurelia` before `aurelia-av`: an old editable install of it in an existing
# venv would claim the same `aurelia` package and command, so it goes first (absent: pip only warns).
$(CORE): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip uninstall --quiet --yes aurelia 2>/dev/null || true
	$(PIP) -e ".[providers]"
	touch $(CORE)

$(FULL): $(CORE)
	command -v java >/dev/null || (apt-get update -qq && apt-get install -y -qq default-jre-headless)
	$(PIP) -e . --group dev
	touch $(FULL)

install: $(FULL)

demo: $(CORE)
	$(BIN)/aurelia demo

test: $(FULL)
	$(BIN)/ruff check aurelia tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

check-installed:
	CHECK_PYTHON=$(CHECK_PYTHON) scripts/check-installed

lint: $(FULL)
	$(BIN)/ruff check aurelia tests benchmarks
	$(BIN)/ruff format --check aurelia tests benchmarks
	$(BIN)/lint-imports
