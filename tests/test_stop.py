"""Ctrl-C is a normal way to stop `tools.run`: the finished cells are kept in build/,
one line says where it stopped, and no tracked file changes."""

import os
import signal
import subprocess
import sys

import nbformat
from conftest import NOTEBOOK, ROOT


def test_ctrl_c_during_training_keeps_the_finished_cells_quietly(
    tmp_path, synthetic_root
):
    copy = tmp_path / NOTEBOOK.name
    copy.write_bytes(NOTEBOOK.read_bytes())
    before = copy.read_bytes()
    parameters = {"data_root": str(synthetic_root), "epochs": 20, "progress": False}
    script = (
        "from tools.run import execute\n"
        f"execute({parameters!r}, notebook={str(copy)!r})"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's job
    )
    printed = []
    for line in process.stdout:
        printed.append(line)
        if line.startswith("myRNN  1/20"):  # training has begun
            break
    os.killpg(process.pid, signal.SIGINT)
    rest, _ = process.communicate(timeout=300)
    printed = "".join(printed) + rest
    assert process.returncode != 0
    assert "Traceback" not in printed, printed[-3000:]
    assert "[IPKernelApp] WARNING" not in printed, "not the first thing one sees"
    last = printed.strip().splitlines()[-1]
    assert (
        last.startswith("stopped by Ctrl-C in cell ")
        and "tracked files unchanged" in last
    )
    stopped = list((tmp_path / "build").glob("run-*-stopped.ipynb"))
    assert len(stopped) == 1 and str(stopped[0]) in last
    book = nbformat.read(stopped[0], as_version=4)
    loaded = next(c for c in book.cells if "= load_mnist(" in c.source)
    assert loaded.outputs, "the cells finished before the stop keep their outputs"
    assert copy.read_bytes() == before, "the tracked notebook is unchanged"
    assert not (tmp_path / "results").exists() or not any(
        (tmp_path / "results").iterdir()
    )
