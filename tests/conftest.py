"""Shared fixtures: the notebook's own definitions, a synthetic MNIST, and quick notebook runs.

The tests never copy the notebook's code: `nb` is the namespace of the notebook's cells tagged `defs`
(imports, parameters, functions and classes; no data loading, no training).
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
from notebook_defs import NOTEBOOK, notebook_definitions

ROOT = NOTEBOOK.parent
QUICK_TRAIN, QUICK_TEST = 600, 200


@pytest.fixture(scope="session")
def nb():
    return notebook_definitions()


def synthetic_digits(count, seed):
    """Learnable MNIST-like images: digit k is a bright bar over rows 2k+3..2k+5, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count).astype(np.uint8)
    images = (rng.random((count, 28, 28)) < 0.05).astype(np.uint8) * rng.integers(0, 255, (count, 28, 28))
    for image, label in zip(images, labels, strict=True):
        image[2 * label + 3 : 2 * label + 6, 4 + rng.integers(0, 4) : 22 + rng.integers(0, 4)] = 255
    return images.astype(np.uint8), labels


def write_idx(path, array, compress=False):
    """Write an IDX file as MNIST's: big-endian magic 0x0800|ndim, the dimensions, then uint8 data."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


def write_synthetic_mnist(root, train=QUICK_TRAIN, test=QUICK_TEST, compress=False):
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    for prefix, count, seed in [("train", train, 1), ("t10k", test, 2)]:
        images, labels = synthetic_digits(count, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
    return Path(root)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"))


def run_notebook_quickly(workdir, data_root, **overrides):
    """Execute the whole notebook through papermill with tiny parameters; return the executed notebook."""
    parameters = {"epochs": 1, "batch_size": 32, "learning_rate": 5e-3, "gated_learning_rate": 5e-3,
                  "data_root": str(data_root), "download": False, **overrides}
    output = Path(workdir) / "executed.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(output), parameters=parameters, cwd=str(workdir),
                               kernel_name="python3", progress_bar=False)
    return nbformat.read(output, as_version=4)


@pytest.fixture(scope="session")
def quick_runs(tmp_path_factory, synthetic_root):
    """Two quick runs with the same seed, in separate folders: (executed notebook, metrics, folder) each."""
    runs = []
    for name in ("first", "second"):
        workdir = tmp_path_factory.mktemp(f"run-{name}")
        executed = run_notebook_quickly(workdir, synthetic_root)
        metrics = json.loads((workdir / "results" / "metrics.json").read_text())
        runs.append((executed, metrics, workdir))
    return runs


def pdf_text(path):
    """The PDF's text with its layout (poppler's pdftotext)."""
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def pdf_pages(path):
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def pdf_image_count(path):
    """Embedded raster images (soft masks not counted), from poppler's pdfimages -list."""
    listing = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in listing.splitlines()[2:] if " image " in line)
