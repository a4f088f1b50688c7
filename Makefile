# Two commands for a fresh machine: `make train` and `make test`. No network beyond the package registry.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= configs/frame-minilm.yaml
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install train test lint bench clean

install: $(STAMP)

# torch goes first, pinned to the CPU wheel on this machine's disk; an unpinned torch pulls a 5 GB CUDA build.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

train: $(STAMP)
	$(BIN)/framing train $(CONFIG) $(ARGS)

# Lint first: a lint error fails `make test` (and CI) before any test runs.
lint: $(STAMP)
	$(BIN)/ruff check train tests bench

test: lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/train_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info
