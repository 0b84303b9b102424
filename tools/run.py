"""Execute the notebook top to bottom and keep it only if the whole run succeeded.

    python -m tools.run [--quick] [-p NAME VALUE ...]

The notebook runs through papermill into build/, printing each epoch line as it comes;
papermill's injected-parameters cell is then taken out (the notebook itself records the
run's parameters in results/metrics.json), and the executed notebook replaces the
committed one. `--quick` (1 epoch, 2 000 / 1 000 images) executes into
build/quick.ipynb and changes no tracked file: the notebook keeps its results in build/
when a complete run's are in results/.
"""

import argparse
import ast
import logging
import os
import re
from pathlib import Path

import nbformat
import papermill

from tools.notebook_defs import NOTEBOOK

QUICK = {"epochs": 1, "train_subset": 2000, "test_subset": 1000}


def without_injected_cell(path, parameters):
    """Drop papermill's injected cell; the parameters it set, but for `progress` (a
    display choice that must stay on for the next reader), are written into the
    parameters cell, so that the notebook shows the values it ran with."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [
        cell
        for cell in notebook.cells
        if "injected-parameters" not in cell.metadata.get("tags", [])
    ]
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    for name, value in parameters.items():
        if name != "progress":
            cell.source = re.sub(  # one-line assignments only
                rf"^{name} = [^#\n]*?[^{{(\[\s](\s*#.*)?$",
                lambda match, value=value, name=name: (
                    f"{name} = {value!r}" + (match[1] or "")
                ),
                cell.source,
                flags=re.M,
            )
    notebook.metadata.get("papermill", {}).pop("parameters", None)
    nbformat.write(notebook, path)


def execute(parameters, quick=False, notebook=NOTEBOOK):
    build = notebook.parent / "build"
    build.mkdir(exist_ok=True)
    output = build / ("quick.ipynb" if quick else notebook.name)
    papermill.execute_notebook(
        str(notebook),
        str(output),
        parameters={"progress": False, **(QUICK if quick else {}), **parameters},
        cwd=str(notebook.parent),
        log_output=True,
        progress_bar=False,
    )
    without_injected_cell(output, parameters)
    if not quick:
        os.replace(output, notebook)
    return Path(output)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--student", help="the student's name, as on Quercus")
    parser.add_argument(
        "-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE")
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the epoch lines
    parameters = {}
    for name, value in args.p:
        try:
            parameters[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parameters[name] = value  # a plain string
    if args.student:
        parameters["student"] = args.student
    print(execute(parameters, args.quick))


if __name__ == "__main__":
    main()
