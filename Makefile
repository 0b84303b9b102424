# make run: set up .venv and execute the notebook in full, in place (figures/, results/ written).
# make test: set up .venv and run the test suite.
# Offline: MNIST_ROOT=/folder/holding/MNIST/raw make run
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NOTEBOOK := Lastname_Firstname_Assgn4.ipynb
STAMP := $(VENV)/.installed

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
