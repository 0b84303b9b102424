"""Run the quick notebook on CUDA and on the CPU, and compare (for a GPU machine).

    MNIST_ROOT=/folder/with/MNIST/raw .venv/bin/python tools/gpu_check.py

Both runs: 6 000 training / 2 000 test images, 2 epochs, seed 0, into build/gpu-check/.
Checks: the CUDA run used CUDA; every loss is finite; every model's final test accuracy
is within 2 points of the CPU run's (cuDNN's kernels round differently, so equality is
not expected). Prints seconds per epoch of both runs. Exits 1 on a failed check.
"""

import json
import math
import os
import sys
from pathlib import Path

import papermill
import torch

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "Lastname_Firstname_Assgn4.ipynb"
MODELS = [
    "rnn",
    "rnn_scratch",
    "gru",
    "lstm",
    "fnn_last_row",
    "fnn_mean_rows",
    "fnn_flat",
]
QUICK = {"train_subset": 6_000, "test_subset": 2_000, "epochs": 2, "progress": False}


def quick_run(name, hide_gpu):
    folder = ROOT / "build" / "gpu-check" / name
    folder.mkdir(parents=True, exist_ok=True)
    if hide_gpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the kernel inherits it
    else:
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    data_root = os.path.abspath(os.environ.get("MNIST_ROOT", "data"))
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(folder / "executed.ipynb"),
        parameters={**QUICK, "data_root": data_root},
        cwd=str(folder),
        progress_bar=False,
    )
    return json.loads((folder / "results" / "metrics.json").read_text())


def main():
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run this on a GPU machine")
    gpu, cpu = quick_run("cuda", hide_gpu=False), quick_run("cpu", hide_gpu=True)
    problems = []
    if gpu["run"]["device"] != "cuda" or cpu["run"]["device"] != "cpu":
        problems.append(f"devices: {gpu['run']['device']} / {cpu['run']['device']}")
    print(f"{torch.cuda.get_device_name()}; torch {torch.__version__}")
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
        seconds = [
            sum(r["per_epoch"]["seconds_per_epoch"])
            / len(r["per_epoch"]["seconds_per_epoch"])
            for r in (g, c)
        ]
        print(
            f"| {key} | {g['test_accuracy']:.2%} | {c['test_accuracy']:.2%} | "
            f"{seconds[0]:.2f} | {seconds[1]:.2f} |"
        )
    print("\n".join(problems) or "all checks passed")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
