"""The notebook's own definitions as a module, for tests/, bench/, experiments/ and
tools/, and the run a notebook records.

`notebook_module` executes the cells with one of the given tags (by default `defs` and
`parameters`: parameters, imports, functions, classes; no data loading, no training)
into a fresh module, so callers write `nb.myRNN`, `nb.train`. The data cells do not
run, so item 1's loaders, which `train()` takes as its default, are None there: a
caller passes its own `loaders=`.
"""

import json
import sys
import types
from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parent.parent / "Lastname_Firstname_Assgn4.ipynb"
DEFINITIONS = ("defs", "parameters")


def notebook_module(
    notebook=NOTEBOOK, name="assignment4", tags=DEFINITIONS, overrides=None
):
    """The cells tagged with any of `tags`, of a notebook file or node, as a module.
    `overrides` ({name: value}) are set again after each cell, so that a definition
    taking one as its default gets the override (a test's stand-in device)."""
    if isinstance(notebook, str | Path):
        notebook = nbformat.read(notebook, as_version=4)
    module = types.ModuleType(name, "definitions of the assignment's notebook")
    module.train_loader = module.test_loader = None
    sys.modules[name] = module  # inspect and pickling find the definitions' source
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and set(tags) & set(cell.metadata.get("tags", [])):
            exec(
                compile(cell.source, f"<notebook cell {index}>", "exec"),
                module.__dict__,
            )
            vars(module).update(overrides or {})
    return module


def run_record(book, folder):
    """The metrics the run of this executed notebook wrote (metrics.json in its
    results_dir, under `folder`), or None where that file holds another run's
    record: the notebook's record cell names the run it wrote."""
    export = notebook_module(book, name="assignment4_export", tags=("export",))
    try:
        results_dir = export.parameter_values(book).get("results_dir", "results")
        path = Path(folder, results_dir, "metrics.json")
        metrics = json.loads(path.read_text())
        export.refuse_other_runs(book, path, metrics["run"]["id"], {})
    except (export.HandInError, OSError, ValueError, KeyError):
        return None  # no record, or another run's
    return metrics


def run_is_complete(book, folder):
    """True if the notebook's run wrote a record of a complete run (all images, 10
    epochs) into its results_dir under `folder`."""
    metrics = run_record(book, folder)
    return metrics is not None and metrics["run"]["complete"] is True
