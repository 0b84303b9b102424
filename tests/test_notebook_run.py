"""The whole notebook, run top to bottom through the Jupyter kernel, tiny parameters."""

import math
import re

import numpy as np
import pytest
from conftest import OTHER, OTHER_SETTINGS, QUICK_TEST, QUICK_TRAIN, quick_sweep

H = 150
MODELS = {
    "rnn": 28_510,
    "rnn_scratch": 28_510,
    "gru": 82_510,
    "lstm": 109_510,
    "fnn_last_row": 28 * H + H + 10 * H + 10,
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


def test_every_code_cell_ran_without_error_or_progress_bar(first_run):
    executed, _, _ = first_run
    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code_cells)
    outputs = [out for cell in code_cells for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert not [out for out in outputs if out.get("name") == "stderr"]


def test_metrics_describe_the_run(first_run):
    _, metrics, _ = first_run
    run = metrics["run"]
    assert run["full"] is False and run["epochs"] == 1 and run["seed"] == 0
    assert run["train_size"] == QUICK_TRAIN and run["test_size"] == QUICK_TEST
    assert run["device"] in {"cpu", "cuda"} and run["student"] == "Doe_Jane"
    assert 0 < run["seconds_total"] < 600


@pytest.mark.parametrize("key, parameters", MODELS.items())
def test_metrics_have_an_entry_per_trained_model(first_run, key, parameters):
    _, metrics, _ = first_run
    entry = metrics[key]
    assert entry["parameters"] == parameters and entry["epochs_completed"] == 1
    per_epoch = entry["per_epoch"]
    assert set(per_epoch) == {
        "train_loss",
        "train_accuracy",
        "test_accuracy",
        "seconds_per_epoch",
    }
    assert all(len(values) == 1 for values in per_epoch.values())
    assert entry["test_accuracy"] == per_epoch["test_accuracy"][-1]
    assert 0.0 <= entry["test_accuracy"] <= 1.0
    assert math.isfinite(per_epoch["train_loss"][0])
    assert entry["settings"]["lr"] == 5e-3


def test_models_learn_the_synthetic_digits_in_one_epoch(first_run):
    _, metrics, _ = first_run
    assert (
        metrics["rnn"]["test_accuracy"] > 0.5
        and metrics["fnn_flat"]["test_accuracy"] > 0.5
    )
    assert metrics["fnn_last_row"]["test_accuracy"] < 0.3, "the last row holds no class"


def test_measured_checks_are_recorded(first_run):
    _, metrics, _ = first_run
    assert metrics["rnn_scratch_equivalence_max_abs_diff"] <= 1e-10
    assert len(metrics["rnn_readout_accuracy_by_step"]) == 28
    assert len(metrics["rnn_probe_accuracy_by_step"]) == 28
    memory = metrics["memory"]
    assert set(memory["reach"]) == {
        f"{key} {stage}"
        for key in ("rnn", "gru", "lstm")
        for stage in ("initial", "trained")
    }
    assert set(memory["gate"]) == {
        f"{key} {stage}" for key in ("gru", "lstm") for stage in ("initial", "trained")
    }
    assert all(
        len(values) == 28 for kind in memory.values() for values in kind.values()
    )
    assert np.mean(memory["gate"]["gru initial"]) == pytest.approx(0.73, abs=0.03), (
        "update gate bias 1: sigma(1) = 0.73 at the start"
    )
    assert metrics["written_q1"] == {
        "sequences_checked": 8190,
        "last_step_mismatches": 0,
        "prefix_mismatches": 0,
    }
    assert metrics["written_q2"]["rho"] == pytest.approx(0.250469, abs=1e-6)


def test_every_figure_is_written_as_png(first_run):
    _, _, workdir = first_run
    written = sorted(path.stem for path in (workdir / "figures").iterdir())
    assert written == sorted(FIGURES), "one file per figure, no temporary files left"
    for name in FIGURES:
        png = (workdir / "figures" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


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


def rendered_answers(executed):
    return "\n".join(
        out.data["text/markdown"]
        for cell in executed.cells
        if "remove-input" in cell.metadata.get("tags", [])
        for out in cell.outputs
        if "text/markdown" in out.get("data", {})
    )


def numbers_of(metrics, sweep):
    """Every percentage this run may quote: its metrics and its sweep's seed results."""
    values = []

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, float) and 0 <= value <= 1:
            values.extend([value, 1 - value])

    walk(metrics)
    for entry in sweep["validation"] + sweep["test"]:
        walk(entry)
    by_setting = {}
    for entry in sweep["validation"]:
        key = (entry["model"], str(entry["setting"]))
        by_setting.setdefault(key, []).append(entry["validation_accuracy"][-1])
    values += [float(np.mean(finals)) for finals in by_setting.values()]
    return {f"{100 * value:.{digits}f}" for value in values for digits in (1, 2)}


@pytest.mark.parametrize("index", [0, 2])
def test_every_quoted_percentage_is_this_runs_measurement(quick_runs, index):
    executed, metrics, _ = quick_runs[index]
    text = rendered_answers(executed)
    quoted = PERCENT.findall(text)
    assert len(quoted) > 30
    sweep = quick_sweep(OTHER_SETTINGS, -0.2) if index == 2 else quick_sweep()
    allowed = numbers_of(metrics, sweep)
    assert not [number for number in quoted if number not in allowed]


def test_answers_change_with_the_run(quick_runs):
    texts = [rendered_answers(executed) for executed, _, _ in quick_runs]
    assert texts[0] != texts[2], "another seed, other sentences"
    verdicts = re.findall(r"is (ahead|behind|within)", texts[0])
    assert verdicts, "comparisons state a verdict against the seed band"
    assert "Weight decay is a setting, not the unit" in texts[0], "a setting named"


def test_markdown_cells_quote_no_run_dependent_percentage(first_run):
    executed, _, _ = first_run
    typed = [
        cell.source
        for cell in executed.cells
        if cell.cell_type == "markdown" and PERCENT.search(cell.source)
    ]
    assert not typed, "run-dependent numbers must be rendered from the run"


def test_every_parameter_is_honoured(quick_runs):
    executed, metrics, workdir = quick_runs[2]
    hidden = OTHER["hidden_units"]
    assert metrics["run"]["seed"] == 1 and metrics["run"]["epochs"] == 2
    assert metrics["run"]["train_size"] == 500 and metrics["run"]["test_size"] == 150
    assert (
        metrics["rnn"]["parameters"]
        == 28 * hidden + hidden**2 + 2 * hidden + 10 * hidden + 10
    )
    assert metrics["rnn"]["settings"] == OTHER_SETTINGS["rnn"]
    assert metrics["gru"]["settings"] == OTHER_SETTINGS["gru"]
    assert metrics["lstm"]["settings"] == OTHER_SETTINGS["lstm"]
    assert all(metrics[key]["epochs_completed"] == 2 for key in ("rnn", "gru", "lstm"))
    assert (workdir / "out" / "figures" / "p1_figure_2_1.png").is_file()
    bars = [
        out
        for cell in executed.cells
        for out in cell.get("outputs", [])
        if (out.get("name") == "stderr" and "\r" in out["text"])
        or WIDGET in out.get("data", {})
    ]
    assert bars, "progress=True shows progress bars"
    assert not [
        out
        for cell in executed.cells
        for out in cell.get("outputs", [])
        if out.output_type == "error"
    ]
