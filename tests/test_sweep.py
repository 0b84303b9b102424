"""The validation sweep: it trains through the notebook's own train(), and the
notebook's parameters are its winners."""

import json
import sys

import pytest
import torch
from conftest import ROOT

sys.path.insert(0, str(ROOT / "experiments"))
import sweep  # noqa: E402


@pytest.fixture()
def tiny_sweep(nb, tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "nb", nb)
    monkeypatch.setattr(sweep, "RUNS", tmp_path / "sweep")
    monkeypatch.setattr(sweep, "EPOCHS", 2)
    torch.manual_seed(0)
    labels = torch.arange(64) % 10
    sequences = torch.randn(64, 28, 28)
    monkeypatch.setattr(
        sweep,
        "data",
        {"train": (sequences, labels), "test": (sequences[:16], labels[:16])},
    )
    return tmp_path / "sweep"


def test_a_run_trains_through_the_notebooks_train_and_is_recorded(
    tiny_sweep, nb, monkeypatch
):
    calls = []
    monkeypatch.setattr(
        nb,
        "train",
        lambda *args, **kw: (
            calls.append(kw)
            or {"test_accuracy": [0.5, 0.625], "train_loss": [2.0, 1.5]}
        ),
    )
    setting = {"init": "orthogonal", "gate_bias": 1.0, "lr": 2e-3}
    sweep.train_one(("validate", "gru", setting, 2))
    assert calls[0]["lr"] == 2e-3 and calls[0]["seed"] == 2
    assert calls[0]["weight_decay"] == 0.0, "a setting without weight decay has none"
    sweep.train_one(
        ("validate", "rnn", {"init": "identity", "lr": 1e-3, "weight_decay": 0.1}, 0)
    )
    assert calls[1]["weight_decay"] == 0.1
    record = json.loads(next(tiny_sweep.glob("validate/gru_*seed-2.json")).read_text())
    assert (
        record["validation_accuracy"] == [0.5, 0.625] and record["setting"] == setting
    )


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
    chosen = summary["chosen"]
    with_decay = {model: {"weight_decay": 0.0, **chosen[model]} for model in chosen}
    assert with_decay["rnn"] == {
        "init": nb.rnn_init,
        "lr": nb.rnn_learning_rate,
        "weight_decay": nb.rnn_weight_decay,
    }
    assert with_decay["gru"] == {
        "init": nb.gru_init,
        "gate_bias": nb.gru_update_gate_bias,
        "lr": nb.gru_learning_rate,
        "weight_decay": nb.gru_weight_decay,
    }
    assert with_decay["lstm"] == {
        "init": nb.lstm_init,
        "gate_bias": nb.lstm_forget_gate_bias,
        "lr": nb.lstm_learning_rate,
        "weight_decay": nb.lstm_weight_decay,
    }
    assert all(nb.unit_setting(model) == chosen[model] for model in chosen)
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
            if entry["model"] == model and entry["setting"] == chosen[model]
        )
        assert tested == [1, 2]
