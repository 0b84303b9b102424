# make run: set up .venv and execute the notebook in full, in place (figures/, results/ written).
# make test: set up .venv and run the test suite.
# Offline: MNIST_ROOT=/folder/holding/MNIST/raw make run
# make written: the written answers as PDFs (pandoc + XeLaTeX), into PDF_DIR.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NOTEBOOK := Lastname_Firstname_Assgn4.ipynb
STAMP := $(VENV)/.installed
WRITTEN := Q1_xor_rnn Q2_tanh
PDF_DIR ?= written

.PHONY: run test lint written submission bench

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
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

written: $(foreach answer,$(WRITTEN),$(PDF_DIR)/$(answer).pdf)

# Run from written/ so that the figures' relative paths (../figures/...) resolve.
$(PDF_DIR)/%.pdf: written/%.md $(wildcard figures/w*.png)
	mkdir -p $(PDF_DIR)
	cd written && pandoc $*.md --pdf-engine=xelatex -o $(abspath $@)
