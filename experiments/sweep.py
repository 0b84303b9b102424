"""Choose each unit's training settings on validation data; measure the seed noise.

    .venv/bin/python -m experiments.sweep validate [--workers 2]
    .venv/bin/python -m experiments.sweep test [--workers 2]
    .venv/bin/python -m experiments.sweep summary

`validate` holds 5 000 of the 60 000 training images out (a fixed random split), trains
every candidate setting of each unit for 10 epochs on the other 55 000 with seeds 0-2,
and records the validation accuracy per epoch. `test` trains each unit's winner (highest
mean final validation accuracy) on all 60 000 images with seeds 1 and 2 and records the
test accuracy; with the notebook's own run (seed 0) they form the seed noise band that
the notebook's comparisons are held against.

Time on a 2-core CPU (2 workers): about 95 min for `validate`, 10 min for `test`.

Every run is one call of the notebook's own `sweep_run` (its models and `train()`; the
split is its `validation_split`), and writes results/sweep/<phase>/<run>.json when it
finishes, with what produced it (commit, torch version, threads, device); finished
runs are skipped, so the sweep can be stopped and resumed in chunks. Each phase
ends by writing results/sweep.json (also `summary`) and copying its final accuracies
into the notebook's `sweep-data` cell, so that the notebook alone shows them.
"""

import argparse
import json
import multiprocessing
import os
import subprocess
import time
from pathlib import Path

import nbformat
import torch

from tools.notebook_defs import NOTEBOOK, notebook_module
from tools.source import formatted, write_atomically

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "results" / "sweep"
SUMMARY = ROOT / "results" / "sweep.json"
PROTOCOL_KEYS = ("batch_size", "hidden_units", "max_grad_norm")
SEEDS = (0, 1, 2)
TEST_SEEDS = (1, 2)  # seed 0 is the notebook's own run
VALIDATION_SIZE, HOLDOUT_SEED, EPOCHS = 5_000, 1508, 10
# A setting without "weight_decay" trains with none (AdamW with 0 is Adam).
GATED = [
    {"init": "default", "gate_bias": None, "lr": 2e-3},
    {"init": "orthogonal", "gate_bias": None, "lr": 2e-3},
    {"init": "orthogonal", "gate_bias": 1.0, "lr": 1e-3},
    {"init": "orthogonal", "gate_bias": 1.0, "lr": 2e-3},
    {"init": "orthogonal", "gate_bias": 1.0, "lr": 4e-3},
    {"init": "orthogonal", "gate_bias": 1.0, "lr": 2e-3, "weight_decay": 0.1},
]
MODEL_CLASSES = {"rnn": "myRNN", "gru": "myGatedRNN", "lstm": "myLSTM"}
CANDIDATES = {
    "rnn": [
        {"init": "default", "lr": 1e-3},
        {"init": "orthogonal", "lr": 1e-3},
        {"init": "identity", "lr": 2.5e-4},
        {"init": "identity", "lr": 5e-4},
        {"init": "identity", "lr": 7e-4},
        {"init": "identity", "lr": 1e-3},
        {"init": "identity", "lr": 2e-3},
        {"init": "identity", "lr": 5e-4, "weight_decay": 0.1},
    ],
    "gru": GATED,
    "lstm": GATED,
}

nb = None
data = None
COMMIT = None


def git(*args):
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, encoding="utf-8"
    ).stdout


def code_cells(book):
    """The notebook's cells but the sweep's data cell."""
    return [
        cell.source
        for cell in book.cells
        if "sweep-data" not in cell.metadata.get("tags", [])
    ]


def commit():
    """The commit the runs train at, "+changes" when the tracked files differ from it;
    the sweep's own outputs (results/, the notebook's sweep-data cell) do not count."""
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    changed = {line[3:] for line in status.splitlines()}
    changed = {path for path in changed if not path.startswith("results/")}
    if NOTEBOOK.name in changed:
        committed = nbformat.reads(git("show", f"HEAD:{NOTEBOOK.name}"), as_version=4)
        if code_cells(committed) == code_cells(nbformat.read(NOTEBOOK, as_version=4)):
            changed.remove(NOTEBOOK.name)
    head = git("rev-parse", "HEAD").strip() or "unknown"
    return head + ("+changes" if changed else "")


def run_path(phase, model, setting, seed):
    # results/sweep/<phase>/<model>_<key>-<value>..._seed-<seed>.json
    parts = (
        [model]
        + [f"{key}-{setting[key]}" for key in sorted(setting)]
        + [f"seed-{seed}"]
    )
    return RUNS / phase / ("_".join(parts) + ".json")


def load(phase, data_root):
    # validate: 55 000 training / 5 000 held out; test: 60 000 / the 10 000 test images
    train, test = nb.load_mnist(data_root, download=False)
    if phase == "test":
        return (train.data, train.targets), (test.data, test.targets)
    return nb.validation_split(train.data, train.targets, VALIDATION_SIZE, HOLDOUT_SEED)


def start_worker(phase, data_root, revision):
    global nb, data, COMMIT
    torch.set_num_threads(1)
    nb, COMMIT = notebook_module(), revision
    data = load(phase, data_root)


def train_one(task):
    phase, model, setting, seed = task
    started = time.perf_counter()
    build = getattr(nb, MODEL_CLASSES[model])
    history = nb.sweep_run(build, setting, seed, *data, epochs=EPOCHS)
    key = "validation_accuracy" if phase == "validate" else "test_accuracy"
    record = {
        "model": model,
        "setting": setting,
        "seed": seed,
        key: history["test_accuracy"],
        "train_loss": history["train_loss"],
        "seconds": round(time.perf_counter() - started, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": str(nb.DEVICE),
        "commit": COMMIT,
    }
    target = run_path(phase, model, setting, seed)
    write_atomically(target, json.dumps(record))
    return f"{target.name}: {history['test_accuracy'][-1]:.4f} in {record['seconds']} s"


def records(phase):
    folder = RUNS / phase
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def chosen_settings():
    # Per unit, the candidate with the highest mean final validation accuracy over
    # seeds, once every candidate has run with every seed (runs of settings no longer
    # among the candidates do not count).
    finals = {}
    for record in records("validate"):
        key = (record["model"], json.dumps(record["setting"], sort_keys=True))
        finals.setdefault(key, []).append(record["validation_accuracy"][-1])
    chosen = {}
    for model, candidates in CANDIDATES.items():
        scored = [
            (sum(values) / len(values), json.loads(setting))
            for (unit, setting), values in finals.items()
            if unit == model
            and len(values) == len(SEEDS)
            and json.loads(setting) in candidates
        ]
        if len(scored) == len(candidates):
            chosen[model] = max(scored, key=lambda pair: pair[0])[1]
    return chosen


def summarise():
    summary = {
        "protocol": {
            "train_size": 60_000 - VALIDATION_SIZE,
            "validation_size": VALIDATION_SIZE,
            "holdout_seed": HOLDOUT_SEED,
            "epochs": EPOCHS,
            "batch_size": nb.batch_size,
            "hidden_units": nb.hidden_units,
            "max_grad_norm": nb.max_grad_norm,
            "seeds": list(SEEDS),
            "test_seeds": list(TEST_SEEDS),
            "command": "python -m experiments.sweep validate; "
            "python -m experiments.sweep test",
        },
        "candidates": CANDIDATES,
        "chosen": chosen_settings(),
        "validation": records("validate"),
        "test": records("test"),
    }
    write_atomically(SUMMARY, json.dumps(summary, indent=1) + "\n")
    for model, setting in summary["chosen"].items():
        print(f"chosen for {model}: {setting}")
    write_notebook_cell(summary)
    return summary


CELL_TITLE = "# @title The sweep's results (results/sweep.json, by `make sweep`)"
VALIDATION_NOTE = "final validation accuracy, seeds 0, 1, 2 (55 000 / 5 000)"
TEST_NOTE = "the seed runs: each winner on all 60 000 images, seeds 1, 2"


def notebook_cell(summary):
    """The source of the notebook's `sweep-data` cell: SWEEP, one dict keyed by name,
    as `ruff format` lays it out."""
    protocol = {key: summary["protocol"][key] for key in PROTOCOL_KEYS}
    finals = {}
    for record in summary["validation"]:
        key = (record["model"], json.dumps(record["setting"], sort_keys=True))
        finals.setdefault(key, {})[record["seed"]] = record["validation_accuracy"][-1]
    validation = {
        model: [
            {
                "setting": setting,
                "finals": [
                    value
                    for _, value in sorted(
                        finals[(model, json.dumps(setting, sort_keys=True))].items()
                    )
                ],
            }
            for setting in candidates
        ]
        for model, candidates in summary["candidates"].items()
    }
    test = {model: [] for model in summary["candidates"]}
    for model, setting in summary["chosen"].items():  # the seed runs of the winners
        curves = {
            record["seed"]: record["test_accuracy"]
            for record in summary["test"]
            if record["model"] == model and record["setting"] == setting
        }
        reached = {
            seed: next((e for e, a in enumerate(curve, 1) if a >= 0.98), None)
            for seed, curve in sorted(curves.items())
        }
        finals_by_seed = {seed: curve[-1] for seed, curve in sorted(curves.items())}
        test[model].append(
            {"setting": setting, "finals": finals_by_seed, "epochs_to_98": reached}
        )
    lines = [
        CELL_TITLE,
        "SWEEP = {",
        f'    "protocol": {protocol!r},',
        f'    "validation": {{  # {VALIDATION_NOTE}',
        *(f"        {model!r}: {runs!r}," for model, runs in validation.items()),
        "    },",
        f'    "test": {{  # {TEST_NOTE}',
        *(f"        {model!r}: {runs!r}," for model, runs in test.items()),
        "    },",
        "}",
    ]
    return formatted("\n".join(lines))


def write_notebook_cell(summary, notebook=NOTEBOOK):
    book = nbformat.read(notebook, as_version=4)
    cell = next(c for c in book.cells if "sweep-data" in c.metadata.get("tags", []))
    source = notebook_cell(summary)
    if cell.source != source:
        cell.source = source
        write_atomically(notebook, nbformat.writes(book) + "\n")
        print(f"updated the sweep-data cell of {Path(notebook).name}")


def main():
    global nb
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("phase", choices=["validate", "test", "summary"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-root", default=os.environ.get("MNIST_ROOT", "data"))
    args = parser.parse_args()
    nb = notebook_module()
    revision = commit()
    if args.phase == "validate":
        plan = [
            (model, setting)
            for model, settings in CANDIDATES.items()
            for setting in settings
        ]
    elif args.phase == "test":
        chosen = chosen_settings()
        if len(chosen) < len(CANDIDATES):
            raise SystemExit(
                "run `experiments.sweep validate` to the end first: no winner yet for "
                + ", ".join(sorted(set(CANDIDATES) - set(chosen)))
            )
        plan = list(chosen.items())
    if args.phase != "summary":
        tasks = [
            (args.phase, model, setting, seed)
            for model, setting in plan
            for seed in (SEEDS if args.phase == "validate" else TEST_SEEDS)
            if not run_path(args.phase, model, setting, seed).exists()
        ]
        print(f"{len(tasks)} runs to do in {args.workers} worker(s)", flush=True)
        context = multiprocessing.get_context("spawn")
        with context.Pool(
            args.workers, start_worker, (args.phase, args.data_root, revision)
        ) as pool:
            for line in pool.imap_unordered(train_one, tasks):
                print(line, flush=True)
    summarise()


if __name__ == "__main__":
    main()
