"""Choose each unit's training settings on validation data; measure the seed noise.

    .venv/bin/python experiments/sweep.py validate [--workers 2]
    .venv/bin/python experiments/sweep.py test [--workers 2]
    .venv/bin/python experiments/sweep.py summary

`validate` holds 5 000 of the 60 000 training images out (a fixed random split), trains
every candidate setting of each unit for 10 epochs on the other 55 000 with seeds 0-2,
and records the validation accuracy per epoch. `test` trains each unit's winner (highest
mean final validation accuracy) on all 60 000 images with seeds 1 and 2 and records the
test accuracy; with the notebook's own run (seed 0) they form the seed noise band that
the notebook's comparisons are held against.

Time on a 2-core CPU (2 workers): about 95 min for `validate`, 15 min for `test`.

Every run goes through the notebook's own `train()` and model classes, and writes
results/sweep/<phase>/<run>.json when it finishes; finished runs are skipped, so the
sweep can be stopped and resumed in chunks. Each phase ends by writing
results/sweep.json (also `summary`). Workers run one CPU thread each.
"""

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from notebook_defs import notebook_module  # noqa: E402

RUNS = ROOT / "results" / "sweep"
SUMMARY = ROOT / "results" / "sweep.json"
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


def build(model, setting):
    if model == "rnn":
        return nb.myRNN(recurrent_init=setting["init"])
    if model == "gru":
        return nb.myGatedRNN(
            recurrent_init=setting["init"], update_gate_bias=setting["gate_bias"]
        )
    return nb.myLSTM(
        recurrent_init=setting["init"], forget_gate_bias=setting["gate_bias"]
    )


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
    root = nb.prepare_mnist(data_root, download=False, cache_root=ROOT / "data")
    train = nb.MNIST(root, train=True)
    images, labels = nb.to_sequences(train.data), train.targets
    if phase == "test":
        test = nb.MNIST(root, train=False)
        return {
            "train": (images, labels),
            "test": (nb.to_sequences(test.data), test.targets),
        }
    order = torch.randperm(
        len(images), generator=torch.Generator().manual_seed(HOLDOUT_SEED)
    )
    held_out, kept = order[:VALIDATION_SIZE], order[VALIDATION_SIZE:]
    return {
        "train": (images[kept], labels[kept]),
        "test": (images[held_out], labels[held_out]),
    }


def start_worker(phase, data_root):
    global nb, data
    torch.set_num_threads(1)
    nb = notebook_module()
    data = load(phase, data_root)


def train_one(task):
    phase, model, setting, seed = task
    nb.set_seed(seed)
    network = build(model, setting)
    started = time.perf_counter()
    history = nb.train(
        network,
        nn.CrossEntropyLoss(),
        EPOCHS,
        data,
        lr=setting["lr"],
        max_grad_norm=nb.max_grad_norm,
        seed=seed,
        batch_size=nb.batch_size,
        weight_decay=setting.get("weight_decay", 0.0),
        verbose=False,
        name=model,
    )
    key = "validation_accuracy" if phase == "validate" else "test_accuracy"
    record = {
        "model": model,
        "setting": setting,
        "seed": seed,
        key: history["test_accuracy"],
        "train_loss": history["train_loss"],
        "seconds": round(time.perf_counter() - started, 1),
        "threads": 1,
    }
    target = run_path(phase, model, setting, seed)
    nb.write_atomically(target, lambda tmp: Path(tmp).write_text(json.dumps(record)))
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
            "command": "python experiments/sweep.py validate; "
            "python experiments/sweep.py test",
        },
        "candidates": CANDIDATES,
        "chosen": chosen_settings(),
        "validation": records("validate"),
        "test": records("test"),
    }
    nb.write_atomically(
        SUMMARY, lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=1) + "\n")
    )
    for model, setting in summary["chosen"].items():
        print(f"chosen for {model}: {setting}")
    return summary


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
                "run `sweep.py validate` to the end first: no winner yet for "
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
            args.workers, start_worker, (args.phase, args.data_root)
        ) as pool:
            for line in pool.imap_unordered(train_one, tasks):
                print(line, flush=True)
    summarise()


if __name__ == "__main__":
    main()
