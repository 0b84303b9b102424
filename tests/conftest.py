"""Shared fixtures: the notebook's definitions, a synthetic MNIST, quick notebook runs.

The tests never copy the notebook's code: `nb` is a module made of the notebook's cells
tagged `defs` and `parameters` (no data loading, no training). The whole notebook runs
at most three times per suite: `tool_run`, `upload_run` and the device guard's run.
"""

import copy
import gzip
import json
import os
import struct
import subprocess
from pathlib import Path
from unittest import mock

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from tools.notebook_defs import NOTEBOOK, notebook_module

ROOT = NOTEBOOK.parent
QUICK_TRAIN, QUICK_TEST = 600, 200
QUICK_SETTINGS = {
    "rnn": {"init": "identity", "lr": 5e-3},
    "gru": {"init": "orthogonal", "gate_bias": 1.0, "lr": 5e-3},
    "lstm": {"init": "orthogonal", "gate_bias": 1.0, "lr": 5e-3, "weight_decay": 0.1},
}
QUICK = {
    "epochs": 1,
    "batch_size": 32,
    "settings": QUICK_SETTINGS,
    "download": False,
    "progress": False,
}


@pytest.fixture(scope="session")
def nb():
    return notebook_module()


def synthetic_digits(count, seed):
    """Learnable MNIST-like images: digit k is a bright bar over rows 2k+3..2k+5."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count).astype(np.uint8)
    noise = rng.integers(0, 255, (count, 28, 28))
    images = (rng.random((count, 28, 28)) < 0.05).astype(np.uint8) * noise
    for image, label in zip(images, labels, strict=True):
        image[2 * label + 3 : 2 * label + 6, 4 + rng.integers(0, 4) : 22] = 255
    return images.astype(np.uint8), labels


def idx_bytes(array):
    """An IDX file as MNIST's: magic 0x0800|ndim (big-endian), dimensions, bytes."""
    header = struct.pack(">I", 0x0800 + array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_synthetic_mnist(root, train=QUICK_TRAIN, test=QUICK_TEST, compress=False):
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, count, seed in [("train", train, 1), ("t10k", test, 2)]:
        images, labels = synthetic_digits(count, seed)
        for kind, array in [("images-idx3", images), ("labels-idx1", labels)]:
            payload = idx_bytes(array)
            name = f"{prefix}-{kind}-ubyte" + (".gz" if compress else "")
            (raw / name).write_bytes(
                gzip.compress(payload, mtime=0) if compress else payload
            )
    return Path(root)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"))


# The tool's run: a non-default value for every parameter, a name with a second
# underscore (LaTeX's subscript), progress bars asked for (tools.run hides them).
OTHER_SETTINGS = {
    "rnn": {"init": "default", "lr": 4e-3, "weight_decay": 0.05},
    "gru": {"init": "default", "gate_bias": None, "lr": 4e-3, "weight_decay": 0.02},
    "lstm": {"init": "identity", "gate_bias": 2.0, "lr": 4e-3, "weight_decay": 0.01},
}
OTHER = {
    "student": "Nguyen_Thi_Minh",
    "seed": 1,
    "epochs": 2,
    "batch_size": 16,
    "hidden_units": 64,
    "settings": OTHER_SETTINGS,
    "max_grad_norm": 5.0,
    "train_subset": 500,
    "test_subset": 150,
    "download": False,
    "progress": True,
    "results_dir": "out/results",
    "figures_dir": "out/figures",
}


@pytest.fixture(scope="session")
def tool_run(tmp_path_factory, synthetic_root):
    """`python -m tools.run` with OTHER, on a copy of the notebook in its own folder:
    (executed notebook, metrics, folder, the notebook it wrote)."""
    from tools.run import execute

    workdir = tmp_path_factory.mktemp("tool-run")
    copy = workdir / NOTEBOOK.name
    copy.write_bytes(NOTEBOOK.read_bytes())
    kept = workdir / "out" / "results" / "metrics.json"  # a complete run's, in place
    kept.parent.mkdir(parents=True)
    kept.write_text(COMPLETE_METRICS)
    output = execute({**OTHER, "data_root": str(synthetic_root)}, notebook=copy)
    staged = next((workdir / "build").glob("run-*/metrics.json"))
    return (
        nbformat.read(output, as_version=4),
        json.loads(staged.read_text()),
        workdir,
        (output),
    )


COMPLETE_METRICS = (
    '{"run": {"id": "20261201-090000-7", "complete": true}, "note": "another run"}\n'
)


def is_check_cell(cell):
    return cell.cell_type == "code" and "\ncheck(" in f"\n{cell.source}"


@pytest.fixture(scope="session")
def upload_run(tmp_path_factory):
    """The notebook alone in a folder, as uploaded to Colab: its defaults, MNIST where
    torchvision's download leaves it (data/MNIST/raw), no project files and no
    MNIST_ROOT; run in one live kernel, then every check cell run a second time.
    (executed notebook, metrics, folder, errors of the second runs)."""
    workdir = tmp_path_factory.mktemp("upload")
    (workdir / NOTEBOOK.name).write_bytes(NOTEBOOK.read_bytes())
    write_synthetic_mnist(workdir / "data", train=300, test=100)
    book = nbformat.read(workdir / NOTEBOOK.name, as_version=4)
    client = NotebookClient(
        book,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    environment = {k: v for k, v in os.environ.items() if k != "MNIST_ROOT"}
    again = []
    with mock.patch.dict(os.environ, environment, clear=True), client.setup_kernel():
        for index, cell in enumerate(book.cells):
            client.execute_cell(cell, index)
        executed = copy.deepcopy(book)
        for index, cell in enumerate(book.cells):
            if is_check_cell(cell):
                rerun = nbformat.from_dict(copy.deepcopy(cell))
                client.execute_cell(rerun, index)
                again += [out for out in rerun.outputs if out.output_type == "error"]
    metrics = json.loads((workdir / "results" / "metrics.json").read_text())
    return executed, metrics, workdir, again


def pdf_text(path, *pages):
    """The PDF's text with its layout (poppler's pdftotext), optionally of pages."""
    span = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return subprocess.run(
        ["pdftotext", "-layout", *span, str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def pdf_info(path):
    """poppler's pdfinfo: one 'Key: value' line each (pages, dates, title, ...)."""
    return subprocess.run(
        ["pdfinfo", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()


def pdf_pages(path):
    return int(
        next(line.split()[1] for line in pdf_info(path) if line.startswith("Pages:"))
    )


def pdf_image_count(path):
    """Embedded raster images (soft masks not counted), from poppler's pdfimages."""
    listing = subprocess.run(
        ["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return sum(1 for line in listing.splitlines()[2:] if " image " in line)
