"""The whole notebook, run top to bottom through the Jupyter kernel, tiny parameters."""

import math
import os
import re
import stat

import numpy as np
import pytest
from conftest import OTHER, OTHER_SETTINGS, QUICK_SETTINGS, QUICK_TEST, QUICK_TRAIN

H = 150
MODELS = {
    "rnn": 28_510,
    "rnn_scratch": 28_510,
    "gru": 82_510,
    "lstm": 109_510,
    "fnn_mean_rows": 28 * H + H + 10 * H + 10,
    "fnn_flat": 784 * H + H + 10 * H + 10,
}
FIGURES = [
    "p1_figure_2_1",
    "p1_item06_classified_test_images",
    "p1_item13_rnn_training",
    "p1_item14_readout_by_step",
    "p1_item15_scratch_vs_nn_rnn",
    "p2_item04_gru_training",
    "p2_item05_test_accuracy_rnn_vs_gru",
    "p2_item05_memory_rnn_vs_gru",
    "p3_item04_lstm_training",
    "p3_item05_test_accuracy_all",
    "p3_item05_memory_all",
    "w1_xor_rnn_unrolled",
    "w2_item3_rho_powers",
]
WIDGET = "application/vnd.jupyter.widget-view+json"
PERCENT = re.compile(r"(\d+\.\d+)[ \u00a0]%")


@pytest.fixture(scope="module")
def first_run(quick_runs):
    return quick_runs[0]


def outputs(executed, *kinds):
    return [
        out
        for cell in executed.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if not kinds or out.output_type in kinds
    ]


def test_every_code_cell_ran_without_error_or_progress_bar(first_run):
    executed, _, _ = first_run
    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code_cells)
    assert not outputs(executed, "error")
    assert not [out for out in outputs(executed) if out.get("name") == "stderr"]


def test_metrics_describe_the_run(first_run):
    _, metrics, _ = first_run
    run = metrics["run"]
    assert run["full"] is False and run["epochs"] == 1 and run["seed"] == 0
    assert run["train_size"] == QUICK_TRAIN and run["test_size"] == QUICK_TEST
    assert run["device"] in {"cpu", "cuda"} and run["student"] == "Doe_Jane"
    assert run["settings"] == QUICK_SETTINGS, "the parameters are recorded"
    assert 0 < run["seconds_total"] < 600


@pytest.mark.parametrize("key, parameters", MODELS.items())
def test_metrics_have_an_entry_per_trained_model(first_run, key, parameters):
    _, metrics, _ = first_run
    entry = metrics[key]
    assert entry["parameters"] == parameters
    per_epoch = entry["per_epoch"]
    assert set(per_epoch) == {
        "train_loss",
        "train_accuracy",
        "test_accuracy",
        "seconds_per_epoch",
        "clipped",
    }
    assert all(len(values) == 1 for values in per_epoch.values())
    assert entry["test_accuracy"] == per_epoch["test_accuracy"][-1]
    assert 0.0 <= entry["test_accuracy"] <= 1.0 and 0 <= per_epoch["clipped"][0] <= 1
    assert math.isfinite(per_epoch["train_loss"][0])
    unit = key if key in QUICK_SETTINGS else "rnn"  # the FNNs train with the RNN's
    assert entry["setting"] == QUICK_SETTINGS[unit]


def test_models_learn_the_synthetic_digits_in_one_epoch(first_run):
    _, metrics, _ = first_run
    assert metrics["rnn"]["test_accuracy"] > 0.5
    assert metrics["fnn_flat"]["test_accuracy"] > 0.5


def test_measurements_are_recorded(first_run):
    _, metrics, _ = first_run
    assert len(metrics["rnn_by_step"]["readout"]) == 28
    assert len(metrics["rnn_by_step"]["probe"]) == 28
    memory = metrics["memory"]
    assert set(memory) == {"rnn", "gru", "lstm"}
    for key, stages in memory.items():
        assert set(stages) == {"initial", "trained"}
        for entry in stages.values():
            assert len(entry["reach"]) == 28
            if key == "rnn":
                assert set(entry) == {"reach"}
            else:
                assert np.array(entry["gate_quantiles"]).shape == (3, 28)
                assert len(entry["direct_path_kept"]) == H
    low, median, high = memory["gru"]["initial"]["gate_quantiles"]
    assert np.mean(median) == pytest.approx(0.73, abs=0.03), "sigma(1) at the start"
    assert all(a <= b <= c for a, b, c in zip(low, median, high, strict=True))
    assert metrics["written_q1"] == {
        "sequences_checked": 8190,
        "last_step_mismatches": 0,
        "prefix_mismatches": 0,
    }
    assert metrics["written_q2"]["rho"] == pytest.approx(0.250469, abs=1e-6)


def test_every_figure_is_written_as_png_and_nothing_is_left_behind(first_run):
    _, _, workdir = first_run
    written = sorted(path.stem for path in (workdir / "figures").iterdir())
    assert written == sorted(FIGURES), "one file per figure, no temporary files left"
    for name in FIGURES:
        png = (workdir / "figures" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((workdir / "build").iterdir()), "the staging folder is removed"
    umask = os.umask(0)
    os.umask(umask)
    made = [*(workdir / "figures").iterdir(), workdir / "results" / "metrics.json"]
    for path in made:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, "usual permissions"


def test_two_runs_with_the_same_seed_measure_the_same(quick_runs):
    (_, first, _), (_, second, _) = quick_runs[:2]

    def without_timings(value):
        if isinstance(value, dict):
            return {
                k: without_timings(v)
                for k, v in value.items()
                if k not in {"seconds_per_epoch", "seconds_total"}
            }
        return value

    assert without_timings(first) == without_timings(second)


def test_the_assignments_calls_train_with_its_three_arguments(first_run):
    executed, _, _ = first_run
    for section in ("P1", "P2", "P3"):
        sources = [
            cell.source
            for cell in executed.cells
            if section in cell.metadata.get("tags", []) and cell.cell_type == "code"
        ]
        assert any(
            "history = train(model, nn.CrossEntropyLoss(), epochs)\n" in source
            for source in sources
        ), section


def test_answers_are_written_by_hand_and_only_tables_are_rendered(first_run):
    executed, _, _ = first_run
    rendered = [
        out.data["text/markdown"]
        for out in outputs(executed, "display_data")
        if "text/markdown" in out.data
    ]
    assert rendered, "tables are rendered from the run"
    assert all(text.startswith(("|", "**Student:**")) for text in rendered), (
        "no paragraph is generated by code"
    )
    typed = [
        cell.source
        for cell in executed.cells
        if cell.cell_type == "markdown" and PERCENT.search(cell.source)
    ]
    assert not typed, "run-dependent numbers stay in the outputs"


def test_every_claim_is_checked_right_below_its_answer(first_run):
    executed, _, _ = first_run
    cells = executed.cells
    answers = [
        index
        for index, cell in enumerate(cells)
        if cell.cell_type == "markdown"
        and cell.source.startswith(("**Answer", "**Observation", "**Comparison"))
    ]
    assert len(answers) == 4  # item 14, item 15*, Question 2 item 5, Question 3 item 5
    for index in answers:
        below = cells[index + 1]
        assert "remove-input" in below.metadata.get("tags", [])
        lines = "".join(out.get("text", "") for out in below.outputs).splitlines()
        assert len(lines) >= 3
        assert all(
            line.startswith(("✓ ", "✗ this run contradicts: ")) for line in lines
        )
        assert all(line.endswith("]") for line in lines), "each states its values"


def test_every_parameter_is_honoured(quick_runs):
    executed, metrics, workdir = quick_runs[2]
    hidden = OTHER["hidden_units"]
    assert metrics["run"]["seed"] == 1 and metrics["run"]["epochs"] == 2
    assert metrics["run"]["train_size"] == 500 and metrics["run"]["test_size"] == 150
    assert (
        metrics["rnn"]["parameters"]
        == 28 * hidden + hidden**2 + 2 * hidden + 10 * hidden + 10
    )
    for unit in ("rnn", "gru", "lstm"):
        assert metrics[unit]["setting"] == OTHER_SETTINGS[unit]
        assert len(metrics[unit]["per_epoch"]["test_accuracy"]) == 2
    assert (workdir / "out" / "figures" / "p1_figure_2_1.png").is_file()
    assert (workdir / "out" / "results" / "metrics.json").is_file()
    bars = [
        out
        for out in outputs(executed)
        if (out.get("name") == "stderr" and "\r" in out["text"])
        or WIDGET in out.get("data", {})
    ]
    assert bars, "progress=True shows progress bars"
    assert not outputs(executed, "error")
