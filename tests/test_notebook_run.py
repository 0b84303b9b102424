"""The whole notebook, run top to bottom in a Jupyter kernel on tiny data: once through
`tools.run` with every parameter changed, once alone in a folder with its defaults."""

import math
import os
import re
import stat

import numpy as np
import pytest
from conftest import (
    COMPLETE_METRICS,
    NOTEBOOK,
    OTHER,
    OTHER_SETTINGS,
    is_check_cell,
)

from tools.notebook_defs import run_is_complete, run_record

FIGURES = [
    "p1_item06_classified_test_images",
    "p1_item13_rnn_training",
    "p1_item14_readout_by_step",
    "p2_item04_gru_training",
    "p2_item05_memory_rnn_vs_gru",
    "p3_item04_lstm_training",
    "p3_item05_memory_all",
    "w2_item3_rho_powers",
]
PER_EPOCH = {
    "train_loss",
    "train_accuracy",
    "test_accuracy",
    "seconds_per_epoch",
    "clipped",
}
WIDGET = "application/vnd.jupyter.widget-view+json"


def outputs(executed, *kinds):
    return [
        out
        for cell in executed.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if not kinds or out.output_type in kinds
    ]


def parameters_of(metrics, hidden):
    return {
        "rnn": 28 * hidden + hidden**2 + 2 * hidden + 10 * hidden + 10,
        "gru": 3 * (28 * hidden + hidden**2 + 2 * hidden) + 10 * hidden + 10,
        "lstm": 4 * (28 * hidden + hidden**2 + 2 * hidden) + 10 * hidden + 10,
        "fnn_mean_rows": 28 * hidden + hidden + 10 * hidden + 10,
        "fnn_flat": 784 * hidden + hidden + 10 * hidden + 10,
    }


@pytest.mark.parametrize("which", ["tool_run", "upload_run"])
def test_every_cell_ran_in_order_without_error_stderr_or_bar(request, which):
    executed = request.getfixturevalue(which)[0]
    counts = [c.execution_count for c in executed.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), "1, 2, 3, ... without gaps"
    assert not outputs(executed, "error")
    stderr = [out for out in outputs(executed) if out.get("name") == "stderr"]
    if which == "tool_run":  # progress = True, but tools.run turns the bars off
        assert not stderr and not [
            o for o in outputs(executed) if WIDGET in o.get("data", {})
        ]


def test_every_parameter_is_honoured_and_shown(tool_run):
    executed, metrics, workdir, _ = tool_run
    run = metrics["run"]
    assert run["complete"] is False and run["seed"] == 1 and run["epochs"] == 2
    assert (run["train_size"], run["test_size"]) == (500, 150)
    assert run["student"] == "Nguyen_Thi_Minh" and run["settings"] == OTHER_SETTINGS
    assert run["batch_size"] == 16 and run["max_grad_norm"] == 5.0
    for key, count in parameters_of(metrics, OTHER["hidden_units"]).items():
        assert metrics[key]["parameters"] == count, key
        assert set(metrics[key]["per_epoch"]) == PER_EPOCH
        assert all(len(v) == 2 for v in metrics[key]["per_epoch"].values())
    for unit in ("rnn", "gru", "lstm"):
        assert metrics[unit]["setting"] == OTHER_SETTINGS[unit]
    assert metrics["fnn_flat"]["setting"] is None, "a plain nn.Sequential"
    source = "\n".join(
        c.source for c in executed.cells if "parameters" in c.metadata.get("tags", [])
    )
    namespace = {}
    exec(source, namespace)  # what the executed notebook shows is what ran
    for name, value in OTHER.items():
        assert namespace[name] == value, name


def test_metrics_hold_every_measurement(tool_run):
    _, metrics, _, _ = tool_run
    assert len(metrics["rnn_by_step"]["readout"]) == 28
    assert len(metrics["rnn_by_step"]["probe"]) == 28
    memory = metrics["memory"]
    assert set(memory) == {"vanilla RNN", "GRU", "LSTM"}
    for label, stages in memory.items():
        assert set(stages) == {"initial", "trained"}
        for entry in stages.values():
            assert len(entry["reach"]) == 28
            assert set(entry) == (
                {"reach"} if label == "vanilla RNN" else {"reach", "gate_quantiles"}
            )
    low, median, high = memory["GRU"]["initial"]["gate_quantiles"]
    assert all(a <= b <= c for a, b, c in zip(low, median, high, strict=True))
    passes = metrics["seconds_per_pass"]
    assert {key: set(times) for key, times in passes.items()} == {
        "item15": {"nn.RNN", "ElmanRNN"},
        "P2": {"vanilla RNN", "GRU"},
        "P3": {"vanilla RNN", "GRU", "LSTM"},
    }
    assert all(s > 0 for times in passes.values() for s in times.values())
    assert 0 < metrics["run"]["seconds_total"] < 600


def test_the_gate_bias_starts_the_update_gate_near_sigma_of_one(upload_run):
    _, metrics, _, _ = upload_run
    median = metrics["memory"]["GRU"]["initial"]["gate_quantiles"][1]
    assert np.mean(median) == pytest.approx(1 / (1 + math.exp(-1)), abs=0.03)


def test_figures_are_written_whole_with_the_usual_permissions(upload_run):
    _, _, workdir, _ = upload_run
    written = sorted(path.name for path in (workdir / "figures").iterdir())
    assert written == sorted(f"{name}.png" for name in FIGURES), "no temporary files"
    umask = os.umask(0)
    os.umask(umask)
    for path in [
        *(workdir / "figures").iterdir(),
        workdir / "results" / "metrics.json",
    ]:
        assert path.read_bytes()[:1] in (b"\x89", b"{")
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_a_small_run_keeps_a_complete_runs_results_and_the_notebook(tool_run):
    _, metrics, workdir, output = tool_run
    kept = workdir / "out" / "results" / "metrics.json"
    assert kept.read_text() == COMPLETE_METRICS
    assert not list((workdir / "out" / "figures").iterdir()), "no figure replaced"
    staged = next((workdir / "build").glob("run-*/"))
    assert sorted(p.name for p in staged.iterdir()) == sorted(
        ["metrics.json", *(f"{name}.png" for name in FIGURES)]
    )
    assert output.parent == workdir / "build" and output.name.startswith("run-")
    assert (workdir / NOTEBOOK.name).read_bytes() == NOTEBOOK.read_bytes(), (
        "an incomplete run never replaces the notebook"
    )


def test_the_notebook_alone_shows_the_sweep_and_says_what_it_did_not_test(upload_run):
    executed, metrics, _, _ = upload_run
    tables = [
        out["data"]["text/markdown"]
        for out in outputs(executed, "display_data")
        if "**chosen**" in out.get("data", {}).get("text/markdown", "")
    ]
    assert len(tables) == 3, "the validation tables travel with the notebook"
    lines = [
        line
        for cell in executed.cells
        if is_check_cell(cell)
        for out in cell.outputs
        for line in out.get("text", "").splitlines()
    ]
    claims = [line for line in lines if not line.startswith("    [")]
    assert claims and all(line.startswith("– not tested: ") for line in claims)
    assert metrics["run"]["complete"] is False


def test_every_check_cell_runs_again_after_run_all(upload_run):
    _, _, _, errors = upload_run
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]


def test_the_assignments_calls_train_with_its_three_arguments(tool_run):
    executed, _, _, _ = tool_run
    sources = "\n".join(c.source for c in executed.cells if c.cell_type == "code")
    assert sources.count("history = train(model, nn.CrossEntropyLoss(), epochs)\n") == 3
    for build in ("myRNN()", "myGatedRNN()", "myLSTM()"):
        assert f"model = {build}\n" in sources


def test_answers_are_written_by_hand_and_only_tables_are_rendered(tool_run):
    executed, _, _, _ = tool_run
    rendered = [
        out.data["text/markdown"]
        for out in outputs(executed, "display_data")
        if "text/markdown" in out.data
    ]
    assert rendered and all(text.startswith("|") for text in rendered)
    typed = [
        c.source
        for c in executed.cells
        if c.cell_type == "markdown" and re.search(r"\d+\.\d+ ?%", c.source)
    ]
    assert not typed, "run-dependent numbers stay in the outputs"


def test_a_runs_record_is_found_by_the_run_id_it_prints(upload_run, tool_run):
    executed, metrics, workdir, _ = upload_run
    assert run_record(executed, workdir) == metrics
    assert not run_is_complete(executed, workdir), "a run on tiny data"
    executed, _, workdir, _ = tool_run  # out/results/ holds another run's record
    assert run_record(executed, workdir) is None
    assert not run_is_complete(executed, workdir)
