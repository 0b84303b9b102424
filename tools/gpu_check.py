"""Run the quick notebook on CUDA and on the CPU, and compare (for a GPU machine).

    MNIST_ROOT=/folder/with/MNIST/raw .venv/bin/python -m tools.gpu_check

Both runs: 6 000 training / 2 000 test images, 3 epochs, seed 0, into
build/gpu-check/. A run that stops is reported with its cell and error, and the other
side still runs. Checks: the CUDA run used CUDA; every loss is finite; the untrained
models' measurements (gradient reach per row, gate quantiles per step), which start
from the same weights on both devices, agree within 1e-4; every model's final test
accuracy is within 2 points of the CPU run's (cuDNN's kernels round differently, so
equality is not expected). Prints the median seconds per epoch of both runs without
the first (warm-up) epoch. Exits 1 on a failed check.
"""

import json
import math
import os
import statistics
import sys

import papermill
import torch

from tools.notebook_defs import NOTEBOOK

MODELS = ["rnn", "rnn_scratch", "gru", "lstm", "fnn_mean_rows", "fnn_flat"]
QUICK = {"train_subset": 6_000, "test_subset": 2_000, "epochs": 3, "progress": False}


def quick_run(name, hide_gpu):
    folder = NOTEBOOK.parent / "build" / "gpu-check" / name
    folder.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ)
    if hide_gpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the kernel inherits it
    data_root = os.path.abspath(os.environ.get("MNIST_ROOT", "data"))
    try:
        papermill.execute_notebook(
            str(NOTEBOOK),
            str(folder / "executed.ipynb"),
            parameters={**QUICK, "data_root": data_root},
            cwd=str(folder),
            progress_bar=False,
        )
    except papermill.PapermillExecutionError as error:
        return (
            None,
            f"{name}: cell {error.cell_index} stopped: {error.ename}: {error.evalue}",
        )
    finally:
        os.environ.clear()
        os.environ.update(environment)
    return json.loads((folder / "results" / "metrics.json").read_text()), None


def initial_measurements(metrics):
    # every number measured on the untrained models, by name
    values = {}
    for key, stages in metrics["memory"].items():
        for name, numbers in stages["initial"].items():
            if name != "direct_path_kept":
                flat = [
                    v
                    for row in numbers
                    for v in (row if isinstance(row, list) else [row])
                ]
                values[f"{key} {name}"] = flat
    return values


def seconds_after_warm_up(entry):
    return statistics.median(entry["per_epoch"]["seconds_per_epoch"][1:])


def main():
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run this on a GPU machine")
    (gpu, gpu_error), (cpu, cpu_error) = (
        quick_run("cuda", hide_gpu=False),
        quick_run("cpu", hide_gpu=True),
    )
    problems = [error for error in (gpu_error, cpu_error) if error]
    print(f"{torch.cuda.get_device_name()}; torch {torch.__version__}")
    if gpu is None or cpu is None:
        print("\n".join(problems))
        sys.exit(1)
    if gpu["run"]["device"] != "cuda" or cpu["run"]["device"] != "cpu":
        problems.append(f"devices: {gpu['run']['device']} / {cpu['run']['device']}")
    for name, numbers in initial_measurements(gpu).items():
        reference = initial_measurements(cpu)[name]
        gap = max(abs(a - b) for a, b in zip(numbers, reference, strict=True))
        print(f"untrained {name}: largest |CUDA - CPU| {gap:.1e}")
        if gap > 1e-4:
            problems.append(f"untrained {name} differs by {gap:.1e} between devices")
    print("| model | CUDA acc. | CPU acc. | CUDA s/epoch | CPU s/epoch |")
    print("|---|---|---|---|---|")
    for key in MODELS:
        g, c = gpu[key], cpu[key]
        if not all(math.isfinite(v) for v in g["per_epoch"]["train_loss"]):
            problems.append(f"{key}: a non-finite loss on CUDA")
        if abs(g["test_accuracy"] - c["test_accuracy"]) > 0.02:
            problems.append(
                f"{key}: {g['test_accuracy']:.4f} on CUDA against "
                f"{c['test_accuracy']:.4f} on the CPU"
            )
        print(
            f"| {key} | {g['test_accuracy']:.2%} | {c['test_accuracy']:.2%} | "
            f"{seconds_after_warm_up(g):.2f} | {seconds_after_warm_up(c):.2f} |"
        )
    print("\n".join(problems) or "all checks passed")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
