"""The notebook's own definitions, importable: executes the cells tagged `defs` (imports, parameters,
functions, classes; no data loading, no training) into a fresh namespace. Used by tests/ and bench/."""

from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parent.parent / "Lastname_Firstname_Assgn4.ipynb"


def notebook_definitions(notebook=NOTEBOOK):
    namespace = {"__name__": "assignment4_notebook"}
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        if cell.cell_type == "code" and "defs" in cell.metadata.get("tags", []):
            exec(compile(cell.source, f"<notebook cell {index}>", "exec"), namespace)
    return namespace
