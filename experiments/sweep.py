"""Choose each unit's training settings on validation data alone; measure seed noise.

    .venv/bin/python -m experiments.sweep validate [--workers 2]
    .venv/bin/python -m experiments.sweep test [--workers 2]
    .venv/bin/python -m experiments.sweep summary

The protocol, written and committed before any of its runs:

Data. 5 000 of the 60 000 training images are held out (a fixed random split,
`validation_split`, seed 1508); every candidate trains on the other 55 000 and is scored
on those 5 000. The test images are not read while choosing.

Fixed, each from a source outside this project's results: 10 epochs (the assignment),
150 hidden units (the assignment), batch 64 (PyTorch's MNIST example), cross-entropy
(the assignment), AdamW with a one-cycle schedule, warm-up then cosine decay (Loshchilov
& Hutter 2019; Smith & Topin 2019), gradient-norm clipping at 1 (Pascanu et al. 2013).

Factors and levels, crossed: every combination is a candidate.
- init, the recurrent weights W_hh: PyTorch's default uniform; orthogonal (Saxe et al.
  2014); for the vanilla RNN also the identity (Le, Jaitly & Hinton 2015).
- gate_bias, GRU and LSTM: PyTorch's (uniform like every bias); 1 on the remember gate
  (the LSTM's forget gate, the GRU's update gate z; Gers et al. 2000, Jozefowicz et al.
  2015).
- lr, the peak rate: Adam's default 1e-3 (Kingma & Ba 2015) and twice it, since the
  one-cycle schedule spends most steps below its peak; the vanilla RNN, about a third of
  the cost per run, also half of it.
- weight_decay: 0 (Adam) and 0.1 (decoupled weight decay, as in published AdamW
  practice).
That is 3 x 3 x 2 = 18 RNN candidates and 2 x 2 x 2 x 2 = 16 for each gated unit.

Two stages (successive halving), since the full cross with three seeds does not fit
the budget: every candidate with seed 0, then the three best of each unit by that run's
final validation accuracy (on a tie, the earlier in CANDIDATES) with seeds 1 and 2 too.

Rule: per unit, the finalist with the highest mean final validation accuracy over
seeds 0-2 is chosen. Where its seed range overlaps the runner-up's the two tie; the
higher mean decides, and the notebook says it is a tie.

Then `test` trains each winner on all 60 000 images with seeds 1 and 2 and records the
test accuracy: with the notebook's own run (seed 0) they are the seed ranges that the
notebook's comparisons are held against. No candidate is added once a run has started.

Budget on a 2-core CPU, 2 workers of one thread each: about 75 min for the first stage,
30 for the second, 10 for `test`.

Every run is one call of the notebook's own `sweep_run` (its models and `train()`), and
writes results/sweep/<phase>/<run>.json when it finishes, with what produced it (commit,
torch version, threads, device, CPU model); finished runs are skipped, so the sweep can
be stopped and resumed in chunks. Each phase ends by writing results/sweep.json (also
`summary`) and the notebook's `sweep-data` cell, so that the notebook alone shows them.
"""

import argparse
import itertools
import json
import multiprocessing
import os
import platform
import subprocess
import time
from pathlib import Path

import nbformat
import torch

from tools.mnist import mnist_folder
from tools.notebook_defs import NOTEBOOK, notebook_module
from tools.source import formatted, write_atomically

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "results" / "sweep"
SUMMARY = ROOT / "results" / "sweep.json"
PROTOCOL_KEYS = ("batch_size", "hidden_units", "max_grad_norm")
SEEDS = (0, 1, 2)
SCREEN_SEED = 0  # the first stage's one seed
FINALISTS = 3  # per unit, run with every seed
TEST_SEEDS = (1, 2)  # seed 0 is the notebook's own run
VALIDATION_SIZE, HOLDOUT_SEED, EPOCHS = 5_000, 1508, 10
FACTORS = {
    "rnn": {
        "init": ["default", "orthogonal", "identity"],
        "lr": [5e-4, 1e-3, 2e-3],
        "weight_decay": [0.0, 0.1],
    },
    **{
        unit: {
            "init": ["default", "orthogonal"],
            "gate_bias": [None, 1.0],
            "lr": [1e-3, 2e-3],
            "weight_decay": [0.0, 0.1],
        }
        for unit in ("gru", "lstm")
    },
}
CANDIDATES = {
    unit: [
        dict(zip(levels, values, strict=True))
        for values in itertools.product(*levels.values())
    ]
    for unit, levels in FACTORS.items()
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


def cpu_model():
    """The processor as the kernel reports it (name, family, model, stepping), else
    what Python knows; with the number of cores."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            fields.setdefault(name.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    numbers = [
        f"{key} {fields[key]}"
        for key in ("cpu family", "model", "stepping")
        if fields.get(key)
    ]
    return f"{name} ({', '.join([*numbers, f'{os.cpu_count()} cores'])})"


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
    folder = mnist_folder(data_root, download=False, cache=ROOT / "data")
    train, test = nb.load_mnist(folder, download=False)
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
    build = nb.MODELS[model]  # the notebook's registry of its models
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
        "cpu": cpu_model(),
        "commit": COMMIT,
    }
    target = run_path(phase, model, setting, seed)
    write_atomically(target, json.dumps(record))
    return f"{target.name}: {history['test_accuracy'][-1]:.4f} in {record['seconds']} s"


def records(phase):
    folder = RUNS / phase
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def setting_key(setting):
    return json.dumps(setting, sort_keys=True)


def validation_finals(unit):
    """{setting_key: {seed: final validation accuracy}} of the unit's candidates
    (runs of settings that are not candidates do not count)."""
    candidates = {setting_key(setting) for setting in CANDIDATES[unit]}
    finals = {}
    for record in records("validate"):
        key = setting_key(record["setting"])
        if record["model"] == unit and key in candidates:
            finals.setdefault(key, {})[record["seed"]] = record["validation_accuracy"][
                -1
            ]
    return finals


def finalists(unit):
    """The first stage's FINALISTS best candidates by their seed-0 final validation
    accuracy (a tie: the earlier in CANDIDATES); [] until every candidate has run."""
    finals = validation_finals(unit)
    screened = [
        (finals.get(setting_key(setting), {}).get(SCREEN_SEED), index, setting)
        for index, setting in enumerate(CANDIDATES[unit])
    ]
    if any(score is None for score, _, _ in screened):
        return []
    ranked = sorted(screened, key=lambda entry: (-entry[0], entry[1]))
    return [setting for _, _, setting in ranked[:FINALISTS]]


def chosen_settings():
    """Per unit, the finalist with the highest mean final validation accuracy over
    SEEDS, once every finalist has run with every seed."""
    chosen = {}
    for unit in CANDIDATES:
        finals = validation_finals(unit)
        scored = []
        for setting in finalists(unit):
            by_seed = finals.get(setting_key(setting), {})
            if all(seed in by_seed for seed in SEEDS):
                scored.append((sum(by_seed.values()) / len(by_seed), setting))
        if scored and len(scored) == FINALISTS:
            chosen[unit] = max(scored, key=lambda entry: entry[0])[1]
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
            "screen_seed": SCREEN_SEED,
            "finalists": FINALISTS,
            "test_seeds": list(TEST_SEEDS),
            "command": "python -m experiments.sweep validate; "
            "python -m experiments.sweep test",
        },
        "factors": FACTORS,
        "candidates": CANDIDATES,
        "finalists": {unit: finalists(unit) for unit in CANDIDATES},
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
VALIDATION_NOTE = "final validation accuracy by seed (55 000 / 5 000)"
TEST_NOTE = "each winner on all 60 000 images: test accuracy by epoch, by seed"


def notebook_cell(summary):
    """The source of the notebook's `sweep-data` cell: SWEEP, one dict keyed by name,
    as `ruff format` lays it out. Validation finals are keyed by the factors' levels
    in the order of "factors"; seed 0 alone for a candidate that is no finalist."""
    protocol = {key: summary["protocol"][key] for key in PROTOCOL_KEYS}
    factors = {unit: tuple(levels) for unit, levels in summary["factors"].items()}
    finals = {}
    for record in summary["validation"]:
        key = (record["model"], setting_key(record["setting"]))
        finals.setdefault(key, {})[record["seed"]] = record["validation_accuracy"][-1]
    lines = [
        CELL_TITLE,
        "SWEEP = {",
        f'    "protocol": {protocol!r},',
        f'    "factors": {factors!r},',
        f'    "validation": {{  # {VALIDATION_NOTE}',
    ]
    for unit, candidates in summary["candidates"].items():
        lines.append(f"        {unit!r}: {{")
        for setting in candidates:
            levels = tuple(setting[name] for name in factors[unit])
            by_seed = finals.get((unit, setting_key(setting)), {})
            lines.append(
                f"            {levels!r}: {[by_seed[s] for s in sorted(by_seed)]!r},"
            )
        lines.append("        },")
    lines += ["    },", f'    "test": {{  # {TEST_NOTE}']
    for unit, setting in summary["chosen"].items():  # the seed runs of the winners
        curves = {
            record["seed"]: record["test_accuracy"]
            for record in summary["test"]
            if record["model"] == unit and record["setting"] == setting
        }
        curves = dict(sorted(curves.items()))
        lines.append(
            f"        {unit!r}: {{'setting': {setting!r}, 'curves': {curves!r}}},"
        )
    lines += ["    },", "}"]
    return formatted("\n".join(lines))


def write_notebook_cell(summary, notebook=NOTEBOOK):
    book = nbformat.read(notebook, as_version=4)
    cell = next(c for c in book.cells if "sweep-data" in c.metadata.get("tags", []))
    source = notebook_cell(summary)
    if cell.source != source:
        cell.source = source
        write_atomically(notebook, nbformat.writes(book) + "\n")
        print(f"updated the sweep-data cell of {Path(notebook).name}")


def run_all(phase, tasks, workers, data_root, revision):
    """Run the tasks not yet done, longest units first; print a line per run."""
    tasks = [task for task in tasks if not run_path(phase, *task).exists()]
    tasks.sort(key=lambda task: task[0] == "rnn")  # the vanilla RNN's runs are short
    print(f"{len(tasks)} {phase} runs to do in {workers} worker(s)", flush=True)
    if not tasks:
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, start_worker, (phase, data_root, revision)) as pool:
        for line in pool.imap_unordered(train_one, [(phase, *t) for t in tasks]):
            print(line, flush=True)


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
    run = (args.workers, args.data_root, revision)
    if args.phase == "validate":
        first_stage = [
            (unit, setting, SCREEN_SEED)
            for unit, settings in CANDIDATES.items()
            for setting in settings
        ]
        run_all("validate", first_stage, *run)
        second_stage = [
            (unit, setting, seed)
            for unit in CANDIDATES
            for setting in finalists(unit)
            for seed in SEEDS
        ]
        run_all("validate", second_stage, *run)
    elif args.phase == "test":
        chosen = chosen_settings()
        if len(chosen) < len(CANDIDATES):
            raise SystemExit(
                "run `experiments.sweep validate` to the end first: no winner yet for "
                + ", ".join(sorted(set(CANDIDATES) - set(chosen)))
            )
        tests = [
            (unit, setting, seed)
            for unit, setting in chosen.items()
            for seed in TEST_SEEDS
        ]
        run_all("test", tests, *run)
    summarise()


if __name__ == "__main__":
    main()
