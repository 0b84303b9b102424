"""The notebook's own definitions as a module, for tests/, bench/, experiments/ and
tools/, and the run a notebook records.

`notebook_module` executes the cells with one of the given tags (by default `defs`,
`run-options` and `parameters`: parameters, imports, functions, classes; no data
loading, no training) into a fresh module, so callers write `nb.myRNN`, `nb.train`.
The data cells do not run, so item 1's loaders, which `train()` reads when it is
called, are None there: a caller passes its own `loaders=`.
"""

import sys
import types
from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parent.parent / "Lastname_Firstname_Assgn4.ipynb"
DEFINITIONS = ("defs", "run-options", "parameters")


def notebook_module(
    notebook=NOTEBOOK, name="assignment4", tags=DEFINITIONS, overrides=None
):
    """The cells tagged with any of `tags`, of a notebook file or node, as a module.
    `overrides` ({name: value}) are set again after each cell, so that a definition
    reading one gets the override (a test's stand-in device)."""
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


def export_module(book):
    """The notebook's export cells (its "Handing in" code) alone, as a module."""
    return notebook_module(book, name="assignment4_export", tags=("export",))


def run_state(book, export=None):
    """(complete, why not): whether the executed notebook `book` holds the record of
    a complete run (all images, 10 epochs) made with the parameters its cells show.
    The record is the JSON output of its record cell, so it travels with the file."""
    export = export or export_module(book)
    record = export.run_record(book)
    if record is None:
        return False, "it holds no record of a run (it was not run to its end)"
    if record.get("complete") is not True:
        sizes = f"{record.get('train_size')} / {record.get('test_size')} images"
        return (
            False,
            f"its run was not complete ({sizes}, {record.get('epochs')} epochs)",
        )
    try:
        changed = export.changed_parameters(book, record)
    except export.HandInError as problem:
        return False, str(problem)
    if changed:
        return False, f"its parameters cells differ from its run ({', '.join(changed)})"
    return True, ""


def run_is_complete(book):
    return run_state(book)[0]
