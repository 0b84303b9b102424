"""The notebook as a student uses it: alone in a folder (Colab), and stopped mid-run."""

import os
import queue
import shutil
import subprocess
import sys

import nbformat
import pytest
from conftest import NOTEBOOK, ROOT, write_synthetic_mnist
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient


def test_the_notebook_alone_runs_with_its_defaults(tmp_path, monkeypatch):
    # Only the .ipynb, MNIST where torchvision's download leaves it (data/MNIST/raw)
    # and no project files, no papermill, no environment variables.
    monkeypatch.delenv("MNIST_ROOT", raising=False)
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    write_synthetic_mnist(tmp_path / "data", train=300, test=100)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    errors = [
        out
        for cell in notebook.cells
        for out in cell.get("outputs", [])
        if out.output_type == "error"
    ]
    assert not errors
    assert (tmp_path / "results" / "metrics.json").is_file()
    assert (tmp_path / "figures" / "p1_figure_2_1.png").is_file()
    tables = [
        out["data"]["text/markdown"]
        for cell in notebook.cells
        for out in cell.get("outputs", [])
        if "**chosen**" in out.get("data", {}).get("text/markdown", "")
    ]
    assert len(tables) == 3, "the validation tables travel with the notebook"
    for section in ("P2", "P3"):
        checks = [
            out["text"]
            for cell in notebook.cells
            if {section, "remove-input"} <= set(cell.metadata.get("tags", []))
            for out in cell.get("outputs", [])
            if "beyond the seed spread" in out.get("text", "")
        ]
        assert checks, f"{section} item 5 checks its ranking against this run"


def execute(client, code, timeout=120):
    """Run code in the kernel; return (reply status, printed text)."""
    printed = []
    reply = client.execute_interactive(
        code,
        timeout=timeout,
        output_hook=lambda message: printed.append(message["content"].get("text", "")),
    )
    return reply["content"]["status"], "".join(printed)


def test_stop_keeps_the_finished_epochs_and_aborts_the_queued_cells():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    definitions = "\n\n".join(
        cell.source
        for cell in notebook.cells
        if cell.cell_type == "code"
        and {"defs", "parameters"} & set(cell.metadata.get("tags", []))
    )
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        assert execute(client, definitions)[0] == "ok"
        assert (
            execute(
                client,
                (
                    "torch.manual_seed(0)\n"
                    "x, y = torch.randn(96, 28, 28), torch.arange(96) % 10\n"
                    "loaders = (make_loader(x, y, 16, True), "
                    "make_loader(x, y, 16, False))\n"
                    "model = myRNN()"
                ),
            )[0]
            == "ok"
        )
        training = client.execute(
            "train(model, nn.CrossEntropyLoss(), 100_000, loaders, progress=False, "
            "name='long')"
        )
        queued = client.execute("after_the_stop = True")
        while True:  # wait for a finished epoch, then press Stop
            message = client.get_iopub_msg(timeout=60)
            if "long  1/" in message["content"].get("text", ""):
                break
        manager.interrupt_kernel()
        replies = {}
        while len(replies) < 2:
            try:
                reply = client.get_shell_msg(timeout=60)
            except queue.Empty:
                pytest.fail("the kernel did not answer after the stop")
            replies[reply["parent_header"]["msg_id"]] = reply["content"]
        assert replies[training]["status"] == "error"
        assert replies[training]["ename"] == "KeyboardInterrupt"
        assert replies[queued]["status"] != "ok", "the queued cell is not run"
        status, printed = execute(
            client,
            (
                "print(len(model.history['test_accuracy']) >= 1, "
                "'after_the_stop' in globals())"
            ),
        )
        assert status == "ok" and printed.strip() == "True False"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_make_run_then_make_test_on_a_fresh_copy(tmp_path):
    # `make run`'s two steps, with quick parameters, in a copy of the tracked files;
    # then the tests that hold the committed files together pass in that copy.
    copy = tmp_path / "clone"
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in tracked:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    data = write_synthetic_mnist(tmp_path / "mnist", train=300, test=100)
    environment = {**os.environ, "MNIST_ROOT": str(data)}
    committed = (copy / "results" / "metrics.json").read_bytes()
    for step in (
        [
            "tools.run",
            "-p",
            "epochs",
            "1",
            "-p",
            "batch_size",
            "32",
            "-p",
            "download",
            "False",
            "--student",
            "O'Brien-Smith, Zoë",
        ],
        ["tools.crowdmark", "submission"],
    ):
        subprocess.run(
            [sys.executable, "-m", *step],
            cwd=copy,
            env=environment,
            check=True,
            capture_output=True,
        )
    assert (copy / "submission" / "OBrien-Smith_Zoe_Assgn4.ipynb").is_file()
    assert (copy / "results" / "metrics.json").read_bytes() == committed, (
        "a quick run leaves the complete run's results"
    )
    checks = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_submission.py::test_committed_submission_was_built_from_the_"
            "committed_notebook",
        ],
        cwd=copy,
        capture_output=True,
        text=True,
    )
    assert checks.returncode == 0, checks.stdout[-2000:]
