# make run:   set up .venv, execute the notebook in full (MNIST offline:
#             MNIST_ROOT=/folder/holding/MNIST/raw), then build submission/.
#             The student's name: make run STUDENT="Lastname_Firstname"
# make quick: 1 epoch on 2 000 / 1 000 images into build/quick-*.ipynb; changes no tracked file.
# make test:  set up .venv and the Debian packages, then ruff (lint and format, the
#             notebook included) and the test suite.
# make written: the written answers as PDFs (pandoc + XeLaTeX), into PDF_DIR.
# make submission: submission/ for Crowdmark, from the executed notebook.
# make sweep: the validation sweep and the seed runs (experiments/sweep.py).
# make bench: time one epoch per model (bench/bench.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PDF_DIR ?= written
STUDENT ?=
export STUDENT  # recipes read it as "$$STUDENT": any name, quotes and spaces included

.PHONY: run quick test system written submission sweep bench

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

system:
	bash tools/system-packages.sh

# Executed into build/ first: a stopped or failed run leaves every tracked file as it was.
run: $(STAMP) system
	$(BIN)/python -m tools.run $${STUDENT:+--student "$$STUDENT"}
	$(BIN)/python -m tools.crowdmark submission

quick: $(STAMP)
	$(BIN)/python -m tools.run --quick

test: $(STAMP) system
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q tests

written: system
	$(PYTHON) -m tools.crowdmark written --out $(PDF_DIR)

submission: $(STAMP) system
	$(BIN)/python -m tools.crowdmark submission $${STUDENT:+--student "$$STUDENT"}

sweep: $(STAMP)
	$(BIN)/python -m experiments.sweep validate
	$(BIN)/python -m experiments.sweep test

bench: $(STAMP)
	$(BIN)/python -m bench.bench
