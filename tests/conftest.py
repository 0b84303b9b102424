"""Shared fixtures: the notebook's definitions, a synthetic MNIST, quick notebook runs.

The tests never copy the notebook's code: `nb` is a module made of the notebook's cells
tagged `defs` and `parameters` (no data loading, no training).
"""

import gzip
import json
import struct
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import papermill
import pytest

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


EXPORT = {"export_pdfs": True}
# The third quick run: a non-default value for every parameter (progress bars on).
OTHER_SETTINGS = {
    "rnn": {"init": "default", "lr": 4e-3, "weight_decay": 0.05},
    "gru": {"init": "default", "gate_bias": None, "lr": 4e-3, "weight_decay": 0.02},
    "lstm": {"init": "identity", "gate_bias": 2.0, "lr": 4e-3, "weight_decay": 0.01},
}
OTHER = {
    "seed": 1,
    "epochs": 2,
    "batch_size": 16,
    "hidden_units": 64,
    "settings": OTHER_SETTINGS,
    "max_grad_norm": 5.0,
    "train_subset": 500,
    "test_subset": 150,
    "progress": True,
    "results_dir": "out/results",
    "figures_dir": "out/figures",
}


def run_notebook_quickly(workdir, data_root, **overrides):
    """Execute the whole notebook through papermill with tiny parameters."""
    workdir = Path(workdir)
    parameters = {**QUICK, "data_root": str(data_root), **overrides}
    results = workdir / parameters.get("results_dir", "results")
    output = workdir / "executed.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(output),
        parameters=parameters,
        cwd=str(workdir),
        kernel_name="python3",
        progress_bar=False,
    )
    return nbformat.read(output, as_version=4), json.loads(
        (results / "metrics.json").read_text()
    )


@pytest.fixture(scope="session")
def quick_runs(tmp_path_factory, synthetic_root):
    """Quick runs in separate folders: seed 0 twice (the first also exports its
    question PDFs from inside, as in Colab), then OTHER (every parameter changed).
    Each is (executed notebook, metrics, folder)."""
    runs = []
    for name, overrides in [("first", EXPORT), ("second", {}), ("other", OTHER)]:
        workdir = tmp_path_factory.mktemp(f"run-{name}")
        if overrides is EXPORT:  # the hand-in cell exports the run's own saved file
            overrides = {**EXPORT, "notebook_path": str(workdir / "executed.ipynb")}
        executed, metrics = run_notebook_quickly(
            workdir, synthetic_root, student="Doe_Jane", **overrides
        )
        runs.append((executed, metrics, workdir))
    return runs


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
