"""The validation sweep: it trains through the notebook's own train(), and the
notebook's parameters are its winners."""

import ast
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
    sequences = torch.randn(64, 28, 28)
    monkeypatch.setattr(
        sweep,
        "data",
        (
            nb.make_loader(sequences, labels, 16, shuffle=True),
            nb.make_loader(sequences[:16], labels[:16], 16, shuffle=False),
        ),
    )
    return tmp_path / "sweep"


def test_a_run_trains_through_the_notebooks_train_and_is_recorded(
    tiny_sweep, nb, monkeypatch
):
    calls = []
    monkeypatch.setattr(
        nb,
        "train",
        lambda model, loss_fn, epochs, loaders, **kw: (
            calls.append((model, kw))
            or {"test_accuracy": [0.5, 0.625], "train_loss": [2.0, 1.5]}
        ),
    )
    setting = {"init": "orthogonal", "gate_bias": 1.0, "lr": 2e-3}
    sweep.train_one(("validate", "gru", setting, 2))
    model, options = calls[0]
    assert isinstance(model, nb.myGatedRNN) and model.setting == setting
    assert options["seed"] == 2, "train() takes lr and decay from model.setting"
    record = json.loads(next(tiny_sweep.glob("validate/gru_*seed-2.json")).read_text())
    assert (
        record["validation_accuracy"] == [0.5, 0.625] and record["setting"] == setting
    )
    assert record["commit"] == "abc123" and record["threads"] >= 1
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
    assert all(nb.winner(unit) == setting for unit, setting in nb.settings.items())
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
    validation = {}
    for entry in summary["validation"]:
        key = (entry["model"], json.dumps(entry["setting"], sort_keys=True))
        validation.setdefault(key, {})[entry["seed"]] = entry["validation_accuracy"][-1]
    rows = {
        (row[0], json.dumps(nb.as_setting(*row[:5]), sort_keys=True)): row[5]
        for row in nb.SWEEP_VALIDATION
    }
    assert rows == {
        key: [seeds[s] for s in sorted(seeds)] for key, seeds in validation.items()
    }
    for row in nb.SWEEP_TEST:
        for seed, accuracy in row[5].items():
            assert any(
                entry["test_accuracy"][-1] == accuracy
                and entry["seed"] == seed
                and entry["setting"] == nb.as_setting(*row[:5])
                for entry in summary["test"]
            )
    assert ast.literal_eval(repr(nb.SWEEP_PROTOCOL)) == {
        key: summary["protocol"][key]
        for key in ("epochs", "batch_size", "hidden_units", "max_grad_norm")
    }


def test_the_notebook_cell_is_written_in_place(nb, tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "nb", nb)
    summary = json.loads((ROOT / "results" / "sweep.json").read_text())
    copy = tmp_path / "notebook.ipynb"
    book = nbformat.read(ROOT / "Lastname_Firstname_Assgn4.ipynb", 4)
    cell = next(c for c in book.cells if "sweep-data" in c.metadata.get("tags", []))
    cell.source = "SWEEP_VALIDATION = []"
    nbformat.write(book, copy)
    sweep.write_notebook_cell(summary, copy)
    written = nbformat.read(copy, 4)
    assert sweep.notebook_cell(summary) in [c.source for c in written.cells]
    assert len(written.cells) == len(book.cells)
