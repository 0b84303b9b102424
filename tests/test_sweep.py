"""The validation sweep: it trains through the notebook's own train(), and the
notebook's parameters are its winners."""

import copy
import json

import nbformat
import pytest
import torch
from conftest import ROOT

from experiments import sweep


@pytest.fixture()
def tiny_sweep(nb, tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "nb", nb)
    monkeypatch.setattr(sweep, "RUNS", tmp_path / "sweep")
    monkeypatch.setattr(sweep, "EPOCHS", 2)
    monkeypatch.setattr(sweep, "COMMIT", "abc123")
    torch.manual_seed(0)
    labels = torch.arange(64) % 10
    images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8)
    monkeypatch.setattr(
        sweep, "data", nb.validation_split(images, labels, size=16, split_seed=3)
    )
    return tmp_path / "sweep"


def test_a_run_trains_through_the_notebooks_sweep_run_and_is_recorded(
    tiny_sweep, nb, monkeypatch
):
    calls = []
    monkeypatch.setattr(
        nb,
        "train",
        lambda model, loss_fn, epochs, **kw: (
            calls.append((model, epochs, kw))
            or {"test_accuracy": [0.5, 0.625], "train_loss": [2.0, 1.5]}
        ),
    )
    setting = {"init": "orthogonal", "gate_bias": 1.0, "lr": 2e-3}
    sweep.train_one(("validate", "gru", setting, 2))
    model, epochs, options = calls[0]
    assert isinstance(model, nb.myGatedRNN) and model.setting == setting
    assert options["shuffle_seed"] == 2 and epochs == 2, "sweep_run's own call"
    record = json.loads(next(tiny_sweep.glob("validate/gru_*seed-2.json")).read_text())
    assert (
        record["validation_accuracy"] == [0.5, 0.625] and record["setting"] == setting
    )
    assert record["commit"] == "abc123" and record["threads"] >= 1
    assert record["torch"] == torch.__version__
    assert record["device"] in {"cpu", "cuda"}


def test_a_real_tiny_run_builds_the_setting_it_names(tiny_sweep):
    line = sweep.train_one(("test", "rnn", {"init": "identity", "lr": 1e-3}, 1))
    record = json.loads(next(tiny_sweep.glob("test/rnn_*seed-1.json")).read_text())
    assert len(record["test_accuracy"]) == 2 and line.startswith("rnn_init-identity")


def test_the_winner_is_the_best_mean_over_complete_seeds(tiny_sweep, monkeypatch):
    monkeypatch.setattr(
        sweep, "CANDIDATES", {"rnn": [{"init": "a", "lr": 1}, {"init": "b", "lr": 1}]}
    )
    for init, finals in [("a", [0.90, 0.99, 0.90]), ("b", [0.95, 0.95, 0.95])]:
        for seed, final in enumerate(finals):
            path = tiny_sweep / "validate" / f"{init}{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                json.dumps(
                    {
                        "model": "rnn",
                        "seed": seed,
                        "setting": {"init": init, "lr": 1},
                        "validation_accuracy": [final],
                    }
                )
            )
    assert sweep.chosen_settings() == {"rnn": {"init": "b", "lr": 1}}
    for seed in range(3):  # an old run of a setting that is no longer a candidate
        path = tiny_sweep / "validate" / f"old{seed}.json"
        path.write_text(
            json.dumps(
                {
                    "model": "rnn",
                    "seed": seed,
                    "setting": {"init": "old", "lr": 1},
                    "validation_accuracy": [1.0],
                }
            )
        )
    assert sweep.chosen_settings() == {"rnn": {"init": "b", "lr": 1}}
    (tiny_sweep / "validate" / "b2.json").unlink()
    assert sweep.chosen_settings() == {}, "no winner before every seed has run"


def test_the_notebook_uses_the_committed_sweeps_winners(nb):
    summary = json.loads((ROOT / "results" / "sweep.json").read_text())
    assert nb.settings == summary["chosen"]
    assert all(
        nb.winner(nb.SWEEP, unit) == setting for unit, setting in nb.settings.items()
    )
    for model, candidates in summary["candidates"].items():
        for setting in candidates:
            seeds = sorted(
                entry["seed"]
                for entry in summary["validation"]
                if entry["model"] == model and entry["setting"] == setting
            )
            assert seeds == [0, 1, 2], (model, setting)
        tested = sorted(
            entry["seed"]
            for entry in summary["test"]
            if entry["model"] == model and entry["setting"] == nb.settings[model]
        )
        assert tested == [1, 2]


def test_the_notebooks_copy_of_the_sweep_is_results_sweep_json(nb):
    summary = json.loads((ROOT / "results" / "sweep.json").read_text())
    cell = next(
        cell
        for cell in nbformat.read(ROOT / "Lastname_Firstname_Assgn4.ipynb", 4).cells
        if "sweep-data" in cell.metadata.get("tags", [])
    )
    assert cell.source == sweep.notebook_cell(summary), "run `make sweep`"
    finals = {}
    for entry in summary["validation"]:
        key = (entry["model"], json.dumps(entry["setting"], sort_keys=True))
        finals.setdefault(key, {})[entry["seed"]] = entry["validation_accuracy"][-1]
    shown = {
        (unit, json.dumps(run["setting"], sort_keys=True)): run["finals"]
        for unit, runs in nb.SWEEP["validation"].items()
        for run in runs
    }
    assert shown == {key: [s[k] for k in sorted(s)] for key, s in finals.items()}
    for entry in summary["test"]:
        if entry["setting"] == summary["chosen"][entry["model"]]:
            run = next(
                r
                for r in nb.SWEEP["test"][entry["model"]]
                if r["setting"] == entry["setting"]
            )
            curve = entry["test_accuracy"]
            assert run["finals"][entry["seed"]] == curve[-1]
            assert run["epochs_to_98"][entry["seed"]] == nb.epochs_to_98(curve)
    assert nb.SWEEP["protocol"] == {
        key: summary["protocol"][key]
        for key in ("batch_size", "hidden_units", "max_grad_norm")
    }


def test_the_notebook_cell_is_written_in_place(nb, tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "nb", nb)
    summary = json.loads((ROOT / "results" / "sweep.json").read_text())
    copy = tmp_path / "notebook.ipynb"
    book = nbformat.read(ROOT / "Lastname_Firstname_Assgn4.ipynb", 4)
    cell = next(c for c in book.cells if "sweep-data" in c.metadata.get("tags", []))
    cell.source = "SWEEP = {}"
    nbformat.write(book, copy)
    sweep.write_notebook_cell(summary, copy)
    written = nbformat.read(copy, 4)
    assert sweep.notebook_cell(summary) in [c.source for c in written.cells]
    assert len(written.cells) == len(book.cells)


@pytest.mark.parametrize(
    "status, notebook_code_changed, marked",
    [
        ("", False, False),
        (" M results/sweep.json\n", False, False),
        (" M Lastname_Firstname_Assgn4.ipynb\n", False, False),  # its SWEEP cell only
        (" M Lastname_Firstname_Assgn4.ipynb\n", True, True),
        (" M tools/run.py\n M results/sweep.json\n", False, True),
    ],
)
def test_a_run_records_a_changed_work_tree_but_not_the_sweeps_own_output(
    monkeypatch, status, notebook_code_changed, marked
):
    committed = nbformat.read(ROOT / "Lastname_Firstname_Assgn4.ipynb", 4)
    current = copy.deepcopy(committed)
    data = next(c for c in current.cells if "sweep-data" in c.metadata.get("tags", []))
    data.source += "\n# new results"
    if notebook_code_changed:
        current.cells[-1].source += "\n# edited"
    answers = {
        "status": status,
        "show": nbformat.writes(committed),
        "rev-parse": "abc123\n",
    }
    monkeypatch.setattr(sweep, "git", lambda command, *args: answers[command])
    monkeypatch.setattr(nbformat, "read", lambda *args, **kwargs: current)
    assert sweep.commit() == "abc123" + ("+changes" if marked else "")
