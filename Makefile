# make run:  set up .venv and execute the notebook in full, in place (figures/, results/).
#            Offline: MNIST_ROOT=/folder/holding/MNIST/raw make run
#            The student's name: STUDENT=Lastname_Firstname make run
# make test: set up .venv and the Debian packages, then ruff and the test suite.
# make written: the written answers as PDFs (pandoc + XeLaTeX), into PDF_DIR.
# make submission: submission/ for Crowdmark, from the executed notebook.
# make sweep: the validation sweep and the seed runs (experiments/sweep.py).
# make bench: time one epoch per model (bench/bench.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NOTEBOOK := Lastname_Firstname_Assgn4.ipynb
STAMP := $(VENV)/.installed
PDF_DIR ?= written
STUDENT ?=
RUN_PARAMETERS := -p progress False $(if $(STUDENT),-p student $(STUDENT))

.PHONY: run test system written submission sweep bench

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

system:
	bash tools/system-packages.sh

# Executed into build/ first: an interrupted run leaves the committed notebook untouched.
run: $(STAMP)
	mkdir -p build
	$(BIN)/papermill --no-progress-bar $(RUN_PARAMETERS) $(NOTEBOOK) build/$(NOTEBOOK)
	mv build/$(NOTEBOOK) $(NOTEBOOK)

test: $(STAMP) system
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q tests

written: system
	$(PYTHON) tools/crowdmark.py written --out $(PDF_DIR)

submission: $(STAMP) system
	$(BIN)/python tools/crowdmark.py submission

sweep: $(STAMP)
	$(BIN)/python experiments/sweep.py validate
	$(BIN)/python experiments/sweep.py test

bench: $(STAMP)
	PYTHONPATH=tools $(BIN)/python bench/bench.py
