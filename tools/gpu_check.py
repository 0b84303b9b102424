"""Run the quick notebook on CUDA and on the CPU, and compare (for a GPU machine).

    MNIST_ROOT=/folder/with/MNIST/raw .venv/bin/python -m tools.gpu_check

Both runs: 6 000 training / 2 000 test images, 3 epochs, seed 0, into
build/gpu-check/, each through tools.run on a copy of the notebook. A run that stops
(a failed cell, named, or a dead kernel) is reported and the other side still runs.
Checks: neither run wrote to stderr or printed a ✗ line; the CUDA run used CUDA; every
loss is finite; the untrained models' measurements (gradient reach per row, gate
quantiles per step), which start from the same weights on both devices, agree within
a relative 1e-3; every model's final test accuracy is within 2 points of the CPU run's
(cuDNN's kernels round differently, so equality is not expected). Prints the median
seconds per epoch of both runs without the first (warm-up) epoch. Exits 1 on a failed
check.
"""

import json
import math
import os
import statistics
import sys

import nbformat
import torch

from tools.notebook_defs import NOTEBOOK
from tools.run import execute

MODELS = ["rnn", "rnn_scratch", "gru", "lstm", "fnn_mean_rows", "fnn_flat"]
QUICK = {"train_subset": 6_000, "test_subset": 2_000, "epochs": 3, "progress": False}


def quick_run(name, hide_gpu):
    """One side's quick run in build/gpu-check/<name>/: (metrics, problems)."""
    folder = NOTEBOOK.parent / "build" / "gpu-check" / name
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / NOTEBOOK.name
    copy.write_bytes(NOTEBOOK.read_bytes())
    environment = dict(os.environ)
    if hide_gpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the kernel inherits it
    data_root = os.path.abspath(os.environ.get("MNIST_ROOT", "data"))
    try:
        executed = execute({**QUICK, "data_root": data_root}, notebook=copy)
    except SystemExit as stopped:  # a failed cell (named) or a dead kernel
        return None, [f"{name}: {stopped}"]
    finally:
        os.environ.clear()
        os.environ.update(environment)
    book = nbformat.read(executed, as_version=4)
    problems = [
        f"{name}: cell {index} wrote to stderr: {out['text'].strip()[:200]}"
        for index, cell in enumerate(book.cells)
        for out in cell.get("outputs", [])
        if out.get("name") == "stderr"
    ] + [
        f"{name}: cell {index}: {line}"
        for index, cell in enumerate(book.cells)
        for out in cell.get("outputs", [])
        for line in out.get("text", "").splitlines()
        if line.startswith("✗")
    ]
    return json.loads((folder / "results" / "metrics.json").read_text()), problems


def initial_measurements(metrics):
    # every number measured on the untrained models, by name
    values = {}
    for key, stages in metrics["memory"].items():
        for name, numbers in stages["initial"].items():
            flat = [
                v for row in numbers for v in (row if isinstance(row, list) else [row])
            ]
            values[f"{key} {name}"] = flat
    return values


def seconds_after_warm_up(entry):
    return statistics.median(entry["per_epoch"]["seconds_per_epoch"][1:])


def main():
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run this on a GPU machine")
    (gpu, gpu_problems), (cpu, cpu_problems) = (
        quick_run("cuda", hide_gpu=False),
        quick_run("cpu", hide_gpu=True),
    )
    problems = gpu_problems + cpu_problems
    print(f"{torch.cuda.get_device_name()}; torch {torch.__version__}")
    if gpu is None or cpu is None:
        print("\n".join(problems))
        sys.exit(1)
    if gpu["run"]["device"] != "cuda" or cpu["run"]["device"] != "cpu":
        problems.append(f"devices: {gpu['run']['device']} / {cpu['run']['device']}")
    for name, numbers in initial_measurements(gpu).items():
        reference = initial_measurements(cpu)[name]
        gap = max(
            abs(a - b) / max(abs(b), 1e-12)
            for a, b in zip(numbers, reference, strict=True)
        )
        print(f"untrained {name}: largest relative |CUDA - CPU| {gap:.1e}")
        if gap > 1e-3:
            problems.append(f"untrained {name} differs by {gap:.1e} (relative)")
    print("| model | CUDA acc. | CPU acc. | CUDA s/epoch | CPU s/epoch |")
    print("|---|---|---|---|---|")
    for key in MODELS:
        g, c = gpu[key], cpu[key]
        if not all(math.isfinite(v) for v in g["per_epoch"]["train_loss"]):
            problems.append(f"{key}: a non-finite loss on CUDA")
        g_acc, c_acc = (m["per_epoch"]["test_accuracy"][-1] for m in (g, c))
        if abs(g_acc - c_acc) > 0.02:
            problems.append(
                f"{key}: {g_acc:.4f} on CUDA against {c_acc:.4f} on the CPU"
            )
        print(
            f"| {key} | {g_acc:.2%} | {c_acc:.2%} | "
            f"{seconds_after_warm_up(g):.2f} | {seconds_after_warm_up(c):.2f} |"
        )
    print("\n".join(problems) or "all checks passed")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
