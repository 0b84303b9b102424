# make run: set up .venv and execute the notebook in full, in place (figures/, results/ written).
# make test: set up .venv and run the test suite.
# Offline: MNIST_ROOT=/folder/holding/MNIST/raw make run
# make written: the written answers as PDFs (pandoc + XeLaTeX), into PDF_DIR.
# make submission: submission/ for Crowdmark (STUDENT=Lastname_Firstname sets the name).
# make bench: time one epoch per model (bench/bench.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NOTEBOOK := Lastname_Firstname_Assgn4.ipynb
STAMP := $(VENV)/.installed
PDF_DIR ?= written

.PHONY: run test written submission bench

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

# Executed into build/ first: an interrupted run leaves the committed notebook untouched.
run: $(STAMP)
	mkdir -p build
	$(BIN)/papermill --no-progress-bar $(NOTEBOOK) build/$(NOTEBOOK)
	mv build/$(NOTEBOOK) $(NOTEBOOK)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q tests

written:
	$(PYTHON) tools/crowdmark.py written --out $(PDF_DIR)

# The Crowdmark upload from the executed notebook: STUDENT=Lastname_Firstname make submission
submission: $(STAMP)
	$(BIN)/python tools/crowdmark.py submission

# One training epoch per model: notebook pipeline vs. the plain per-item loop vs. the FLOP floor.
bench: $(STAMP)
	PYTHONPATH=tools $(BIN)/python bench/bench.py
