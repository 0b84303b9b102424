"""The whole notebook, run top to bottom through the Jupyter kernel with tiny parameters."""

import math

import pytest
from conftest import QUICK_TEST, QUICK_TRAIN

MODELS = {"rnn": 28_510, "rnn_scratch": 28_510, "gru": 82_510, "lstm": 109_510,
          "fnn_last_row": 28 * 150 + 150 + 1_510, "fnn_mean_rows": 28 * 150 + 150 + 1_510,
          "fnn_flat": 784 * 150 + 150 + 1_510}
FIGURES = ["p1_item01_mnist_samples", "p1_item06_classified_test_images", "p1_item13_rnn_training",
           "p1_item14_readout_by_step", "p2_item04_gru_training", "p2_item05_test_accuracy_rnn_vs_gru",
           "p2_item05_gradient_reach_rnn_vs_gru", "p3_item04_lstm_training", "p3_item05_test_accuracy_all",
           "p3_item05_gradient_reach_all", "w1_xor_rnn_unrolled", "w2_item3_rho_powers"]


@pytest.fixture(scope="module")
def first_run(quick_runs):
    return quick_runs[0]


def test_every_code_cell_ran_without_error(first_run):
    executed, _, _ = first_run
    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code_cells)
    assert not [out for cell in code_cells for out in cell.outputs if out.output_type == "error"]


def test_metrics_describe_the_run(first_run):
    _, metrics, _ = first_run
    run = metrics["run"]
    assert run["full"] is False and run["epochs"] == 1 and run["seed"] == 0
    assert run["train_size"] == QUICK_TRAIN and run["test_size"] == QUICK_TEST
    assert run["device"] in {"cpu", "cuda"} and run["torch_version"].startswith("2.14.1")
    assert 0 < run["seconds_total"] < 600


@pytest.mark.parametrize("key, parameters", MODELS.items())
def test_metrics_have_an_entry_per_trained_model(first_run, key, parameters):
    _, metrics, _ = first_run
    entry = metrics[key]
    assert entry["parameters"] == parameters and entry["epochs_completed"] == 1
    per_epoch = entry["per_epoch"]
    assert set(per_epoch) == {"train_loss", "train_accuracy", "test_accuracy", "seconds_per_epoch"}
    assert all(len(values) == 1 for values in per_epoch.values())
    assert entry["test_accuracy"] == per_epoch["test_accuracy"][-1] == entry["best_test_accuracy"]
    assert 0.0 <= entry["test_accuracy"] <= 1.0 and math.isfinite(per_epoch["train_loss"][0])


def test_models_learn_the_synthetic_digits_in_one_epoch(first_run):
    _, metrics, _ = first_run
    assert metrics["rnn"]["test_accuracy"] > 0.5 and metrics["fnn_flat"]["test_accuracy"] > 0.5
    assert metrics["fnn_last_row"]["test_accuracy"] < 0.3, "the last row carries no class here"


def test_measured_checks_are_recorded(first_run):
    _, metrics, _ = first_run
    assert metrics["rnn_scratch_equivalence_max_abs_diff"] <= 1e-10
    assert len(metrics["rnn_readout_accuracy_by_step"]) == len(metrics["rnn_probe_accuracy_by_step"]) == 28
    reach = metrics["input_gradient_norm_by_row"]
    assert set(reach["trained"]) == {"rnn", "gru", "lstm"}
    assert set(reach["initial"]) == {"rnn", "gru", "lstm", "rnn_pytorch_default_init"}
    assert all(len(norms) == 28 for stage in reach.values() for norms in stage.values())
    default, identity = reach["initial"]["rnn_pytorch_default_init"], reach["initial"]["rnn"]
    assert default[-1] / default[0] > 100 * identity[-1] / identity[0], "the default init vanishes far faster"
    assert metrics["written_q1"] == {"sequences_checked": 8190, "last_step_mismatches": 0, "prefix_mismatches": 0}
    assert metrics["written_q2"]["rho"] == pytest.approx(0.250469, abs=1e-6)


def test_every_figure_is_written_as_png(first_run):
    _, _, workdir = first_run
    written = sorted(path.stem for path in (workdir / "figures").iterdir())
    assert written == sorted(FIGURES), "one file per figure, no temporary files left"
    for name in FIGURES:
        assert (workdir / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_two_runs_with_the_same_seed_measure_the_same(quick_runs):
    (_, first, _), (_, second, _) = quick_runs

    def without_timings(value):
        if isinstance(value, dict):
            return {k: without_timings(v) for k, v in value.items() if k not in {"seconds_per_epoch", "seconds_total"}}
        return value

    assert without_timings(first) == without_timings(second)
