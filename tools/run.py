"""Execute the notebook top to bottom; only a complete run replaces the tracked one.

    python -m tools.run [--quick] [--student NAME] [-p NAME VALUE ...]

Each given parameter is written into the notebook's parameter cells before the run (a
name that is not assigned there is refused), so the executed notebook shows exactly
what it ran with. The notebook runs in one Jupyter kernel (nbclient) in the project
folder, epoch lines printed as they come, progress bars off (TQDM_DISABLE), and is
saved as build/<run|quick>-<time>-<pid>.ipynb, a name no other run shares. It replaces
Lastname_Firstname_Assgn4.ipynb only when the run is complete (the metrics.json its
record cell wrote says so: all images, 10 epochs) and not `--quick`; any other run
stays in build/. `--quick` is 1 epoch on 2 000 / 1 000 images.
"""

import argparse
import ast
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from tools.notebook_defs import NOTEBOOK, run_is_complete
from tools.source import formatted, write_atomically

QUICK = {"epochs": 1, "train_subset": 2000, "test_subset": 1000}


def source_of(name, value):
    """`name = value` as source, for a Python literal value."""
    try:
        literal = ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError):
        literal = False
    if not literal:
        raise SystemExit(f"-p {name}: {value!r} is not a Python literal")
    return f"{name} = {value!r}"


def assignments(cell):
    """{name: its assignment node} of a cell's top-level `name = value` lines."""
    return {
        node.targets[0].id: node
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }


def set_parameters(book, parameters):
    """Rewrite each parameter's assignment in the cells tagged `parameters` (found by
    the syntax tree, so a multi-line value is replaced whole), keeping its comment."""
    cells = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    if "student" in parameters and not (
        isinstance(parameters["student"], str) and parameters["student"].strip()
    ):
        raise SystemExit(f"student must be a name, not {parameters['student']!r}")
    for name, value in parameters.items():
        cell = next((c for c in cells if name in assignments(c)), None)
        if cell is None:
            known = [n for c in cells for n in assignments(c)]
            raise SystemExit(
                f"-p {name}: the notebook has no such parameter; it has {known}"
            )
        node = assignments(cell)[name]
        lines = cell.source.split("\n")
        comment = lines[node.end_lineno - 1][node.end_col_offset :]
        lines[node.lineno - 1 : node.end_lineno] = [source_of(name, value) + comment]
        cell.source = "\n".join(lines)
    for cell in cells:  # laid out as ruff format does, a long value over lines
        cell.source = formatted(cell.source)
    return book


class EchoingClient(NotebookClient):
    """nbclient's client, printing what the notebook prints (the epoch lines)."""

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            print(msg["content"]["text"], end="", flush=True)
        return super().output(outs, msg, display_id, cell_index)


def save(book, path):
    try:
        write_atomically(path, nbformat.writes(book) + "\n")
    except OSError as error:
        raise SystemExit(f"cannot write {path}: {error.strerror}") from None


def execute(parameters, quick=False, notebook=NOTEBOOK, workdir=None):
    """Run the notebook; return the executed notebook's path (build/... or, for a
    complete run, the tracked notebook)."""
    notebook = Path(notebook)
    workdir = Path(workdir or notebook.parent)
    given = {**(QUICK if quick else {}), **parameters}
    book = set_parameters(nbformat.read(notebook, as_version=4), given)
    build = workdir / "build"
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    output = build / f"{'quick' if quick else 'run'}-{stamp}.ipynb"
    try:
        build.mkdir(exist_ok=True)
    except OSError as error:
        raise SystemExit(f"cannot write in {build}/: {error.strerror}") from None
    client = EchoingClient(
        book,
        timeout=None,
        kernel_name="python3",
        record_timing=False,
        coalesce_streams=True,
        resources={"metadata": {"path": str(workdir)}},
    )
    environment = os.environ.copy()
    os.environ["TQDM_DISABLE"] = "1"  # the kernel inherits it: no bars in print
    try:
        client.execute()
    except (CellExecutionError, DeadKernelError) as error:
        save(book, output)
        failed = next(
            (
                i
                for i, c in enumerate(book.cells)
                if any(o.output_type == "error" for o in c.get("outputs", []))
            ),
            None,
        )
        reason = getattr(error, "ename", type(error).__name__)
        reason += f": {getattr(error, 'evalue', error)}"
        raise SystemExit(
            f"the run stopped in cell {failed}: {reason}\nits notebook: {output}"
        ) from None
    finally:
        os.environ.clear()
        os.environ.update(environment)
    save(book, output)
    if not quick and run_is_complete(book, workdir) and notebook.parent == workdir:
        os.replace(output, notebook)
        return notebook
    return output


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
    parameters = {}
    for name, value in args.p:
        try:
            parameters[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parameters[name] = value  # a plain string
    if args.student:
        parameters["student"] = args.student
    path = execute(parameters, args.quick)
    kept = "replaced the tracked notebook" if path == NOTEBOOK else "kept in build/"
    print(f"{path} ({kept})", file=sys.stderr)


if __name__ == "__main__":
    main()
