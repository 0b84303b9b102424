"""Execute the notebook top to bottom; only a complete run replaces the tracked one.

    python -m tools.run [--quick] [--student NAME] [-p NAME VALUE ...]

Each given parameter is written into the notebook's parameter cells before the run (a
name that is not assigned there is refused), so the executed notebook shows exactly
what it ran with. The notebook runs in one Jupyter kernel (nbclient) in the project
folder, epoch lines printed as they come, progress bars off (TQDM_DISABLE), and is
saved as build/<run|quick>-<time>-<pid>.ipynb, a name no other run shares. It replaces
Lastname_Firstname_Assgn4.ipynb only when the run is complete (the record its record
cell holds says so: all images, 10 epochs) and not `--quick`; any other run
stays in build/. `--quick` is 1 epoch on 2 000 / 1 000 images.

Where $MNIST_ROOT names a folder whose MNIST/raw/ holds the original files (offline,
perhaps read-only), they are checked and extracted into data/ beside the notebook
first (tools.mnist), the folder the notebook reads by default.
"""

import argparse
import ast
import asyncio
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from tools.mnist import MnistDataError, mnist_folder
from tools.notebook_defs import NOTEBOOK, export_module, run_is_complete
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
    """Rewrite each parameter's assignment in the parameter cells (found by
    the syntax tree, so a multi-line value is replaced whole), keeping its comment."""
    export = export_module(book)
    tags = set(export.PARAMETER_TAGS)
    cells = [c for c in book.cells if tags & set(c.metadata.get("tags", []))]
    for cell in cells:
        try:
            ast.parse(cell.source)
        except SyntaxError as error:
            kind = "/".join(cell.metadata["tags"])
            raise SystemExit(
                f"the notebook's {kind} cell has a syntax error in its line "
                f"{error.lineno}: {(error.text or '').strip()!r} ({error.msg})"
            ) from None
    if "student" in parameters:
        try:
            export.author_name(parameters["student"])
        except export.HandInError as problem:
            raise SystemExit(str(problem)) from None
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


def prepared_data(mnist_root, workdir):
    """data/ beside the notebook (its default data_root), holding $MNIST_ROOT's
    files: no path of this machine goes into the notebook."""
    data = workdir / "data"
    try:
        folder = Path(mnist_folder(mnist_root, download=False, cache=data))
    except MnistDataError as error:
        raise SystemExit(str(error)) from None
    if folder.resolve() != data.resolve():  # extracted where they are: copied
        shutil.copytree(folder / "MNIST", data / "MNIST", dirs_exist_ok=True)
    return "data"


def item_of(book, index):
    """The heading above cell `index` (its first line)."""
    if index is None:
        return "no cell recorded an error"
    for cell in reversed(book.cells[: index + 1]):
        if cell.cell_type == "markdown" and cell.source.startswith("#"):
            return cell.source.split("\n")[0].lstrip("# ").split(" — ")[0]
    return "before any heading"


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
    if "data_root" not in given and os.environ.get("MNIST_ROOT"):
        given["data_root"] = prepared_data(os.environ["MNIST_ROOT"], workdir)
    book = set_parameters(nbformat.read(notebook, as_version=4), given)
    build = workdir / "build"
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    output = build / f"{'quick' if quick else 'run'}-{stamp}.ipynb"
    try:
        build.mkdir(exist_ok=True)
    except OSError as error:
        raise SystemExit(f"cannot write in {build}/: {error.strerror}") from None
    # Ctrl-C (SIGINT to the process group) stops the notebook, not this tool: the
    # kernel is interrupted (nbclient's own handler would shut it down mid-cell),
    # and the cells finished so far are saved.
    interrupted = []

    def interrupt_kernel():
        interrupted.append(True)
        asyncio.ensure_future(client.km.interrupt_kernel())

    def on_start(**_):
        asyncio.get_event_loop().add_signal_handler(signal.SIGINT, interrupt_kernel)

    client = EchoingClient(
        book,
        timeout=None,
        kernel_name="python3",
        record_timing=False,
        coalesce_streams=True,
        resources={"metadata": {"path": str(workdir)}},
        on_notebook_start=on_start,
        # the kernel's warning about TCP on this machine's loopback is not ours
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    environment = os.environ.copy()
    os.environ["TQDM_DISABLE"] = "1"  # the kernel inherits it: no bars in print
    try:
        client.execute()
    except (CellExecutionError, DeadKernelError) as error:
        stopped = (
            bool(interrupted) or getattr(error, "ename", "") == "KeyboardInterrupt"
        )
        if stopped:
            output = output.with_name(f"{output.stem}-stopped.ipynb")
        save(book, output)
        failed = next(
            (
                i
                for i, c in enumerate(book.cells)
                if any(o.output_type == "error" for o in c.get("outputs", []))
            ),
            None,
        )
        where = f"cell {failed} ({item_of(book, failed)})"
        if stopped:
            raise SystemExit(
                f"stopped by Ctrl-C in {where}; tracked files unchanged; "
                f"the finished cells: {output}"
            ) from None
        reason = getattr(error, "ename", type(error).__name__)
        reason += f": {getattr(error, 'evalue', error)}"
        raise SystemExit(
            f"the run stopped in {where}: {reason}\nits notebook: {output}"
        ) from None
    finally:
        os.environ.clear()
        os.environ.update(environment)
    if interrupted:  # Ctrl-C between two cells: a stopped run all the same
        output = output.with_name(f"{output.stem}-stopped.ipynb")
        save(book, output)
        raise SystemExit(
            f"stopped by Ctrl-C between cells; tracked files unchanged; "
            f"the finished cells: {output}"
        )
    save(book, output)
    if not quick and run_is_complete(book) and notebook.parent == workdir:
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
