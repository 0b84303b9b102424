"""The committed notebook as a student opens it and a grader reads it: budgets, folded
support, clean metadata, one meaning per name, claims that hold on other seeds."""

import ast
import json
import re
import types

import nbformat
import pytest
import torch
from conftest import NOTEBOOK, ROOT, is_check_cell

from tools.notebook_defs import run_is_complete
from tools.run import set_parameters

BOOK = nbformat.read(NOTEBOOK, as_version=4)
CODE = [cell for cell in BOOK.cells if cell.cell_type == "code"]
FOLDED = {"support", "handin", "record"}


def lines(cells):
    return sum(len(cell.source.splitlines()) for cell in cells)


def tagged(cell, *tags):
    return bool(set(tags) & set(cell.metadata.get("tags", [])))


def sections(book):
    """(level-1 heading, cell) for every cell."""
    heading = ""
    for cell in book.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            heading = cell.source.splitlines()[0]
        yield heading, cell


def printed_lines(book):
    return [
        line
        for cell in book.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        for line in out.get(
            "text", out.get("data", {}).get("text/markdown", "")
        ).splitlines()
    ]


GOLF = re.compile(r"\]\s*\*\s*\(|\*\s*bool\(|\*\s*\(not\b")


def test_no_conditional_is_written_as_a_multiplication():
    sources = [cell.source for cell in CODE]
    sources += [
        path.read_text()
        for folder in ("tools", "tests", "experiments", "bench")
        for path in (ROOT / folder).glob("*.py")
        if path.name != "test_notebook_shape.py"
    ]
    assert not [match for text in sources for match in GOLF.findall(text)]


def test_support_and_hand_in_code_is_folded_in_jupyter_and_colab():
    folded = [c for c in CODE if tagged(c, *FOLDED) or c.source.startswith("# @title")]
    assert len(folded) >= 7
    for cell in folded:
        assert cell.source.startswith("# @title "), cell.source[:40]
        assert cell.metadata["jupyter"]["source_hidden"] is True
        assert cell.metadata["cellView"] == "form"


def test_item_1_is_reached_within_two_screens():
    shown = 0  # a folded cell shows as its title line
    for cell in BOOK.cells:
        if cell.source.startswith("## Item 1 ") or "\n## Item 1 " in cell.source:
            break
        folded = cell.metadata.get("jupyter", {}).get("source_hidden")
        shown += 1 if folded else len(cell.source.splitlines()) + 2
    assert shown <= 60, shown


def test_every_code_cell_of_an_answer_shows_something_or_defines():
    for heading, cell in sections(BOOK):
        if heading.startswith("# Programming Question") and cell.cell_type == "code":
            assert cell.outputs or tagged(cell, "defs", "support"), cell.source[:60]


def test_no_global_name_is_both_a_definition_and_data():
    defined, assigned = set(), set()
    for cell in CODE:
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                defined.add(node.name)
            for target in getattr(node, "targets", []) + [
                getattr(node, "target", None)
            ]:
                for name in ast.walk(target) if target is not None else []:
                    if isinstance(name, ast.Name):
                        assigned.add(name.id)
    assert not defined & assigned


@pytest.mark.parametrize("path", ["Lastname_Firstname_Assgn4.ipynb", "submission"])
def test_the_deliverable_carries_no_paths_timestamps_or_gaps(path):
    if path == "submission":
        path = next((ROOT / "submission").glob("*_Assgn4.ipynb"))
    book = nbformat.read(ROOT / path, as_version=4)
    metadata = json.dumps([book.metadata, *(c.metadata for c in book.cells)])
    assert not re.search(r"/(work|tmp|home|root|content)/", metadata)
    assert "papermill" not in metadata and '"execution"' not in metadata
    counts = [c.execution_count for c in book.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))


def test_the_committed_run_is_complete_and_contradicts_none_of_its_claims():
    assert run_is_complete(BOOK), "the record its record cell holds"
    printed = printed_lines(BOOK)
    checks = [line for line in printed if line[:2] in ("✓ ", "✗ ", "– ")]
    assert len(checks) >= 20 and all(line.startswith("✓ ") for line in checks)


def test_no_printed_line_is_wider_than_the_pdfs():
    assert not [line for line in printed_lines(BOOK) if len(line) > 78]


ANSWERS = [
    "**Answer to item 14.**",
    "**Comparison with `nn.RNN`.**",
    "**Observation.**",
]


def answer_cells():
    cells = BOOK.cells
    return [
        (cells[i], cells[i + 1])
        for i, cell in enumerate(cells)
        if cell.cell_type == "markdown" and cell.source.startswith(tuple(ANSWERS))
    ]


def test_each_comparison_answer_is_short_and_checked_by_two_to_five_claims():
    answers = answer_cells()
    assert len(answers) == 4  # item 14, item 15*, Question 2 item 5, Question 3 item 5
    for answer, below in answers:
        prose = re.sub(r"\$[^$]*\$", "x", answer.source)
        words = len(re.findall(r"[A-Za-z0-9'’-]+", re.sub(r"\*\*[^*]+\*\*", "", prose)))
        assert words <= 180, (answer.source[:40], words)
        assert is_check_cell(below) and tagged(below, "remove-input")
        claims = [
            line
            for out in below.outputs
            for line in out["text"].splitlines()
            if not line.startswith("    [")
        ]
        assert 2 <= len(claims) <= 5, claims


def check_cell(question, start):
    inside = False
    for heading, cell in sections(BOOK):
        inside = heading.startswith(f"# Programming Question {question} ")
        if inside and is_check_cell(cell) and cell.source.startswith(start):
            return cell
    raise LookupError(start)


def evaluate(nb, capsys, cell, histories, seed, memory=None):
    """Run a committed check cell with other runs standing in for this one; its
    printed lines."""
    metrics = json.loads((ROOT / "results" / "metrics.json").read_text())
    sweep = json.loads(json.dumps(nb.SWEEP))  # + this run as seed 0, the others' peer
    for unit in ("rnn", "gru", "lstm"):
        runs = sweep["test"][unit]
        if runs["setting"] == nb.settings[unit]:
            runs["curves"][0] = metrics[unit]["per_epoch"]["test_accuracy"]
    memory = memory or metrics["memory"]
    namespace = dict(vars(nb))
    namespace.update(  # a full-size run with this seed, then the notebook's own cell
        SWEEP=sweep,
        seed=seed,
        epochs=10,
        train_images=range(60_000),
        test_images=range(10_000),
    )
    exec(CLAIMS_AGAINST, namespace)
    namespace.update(
        memory_rnn_gru={label: memory[label] for label in ("vanilla RNN", "GRU")},
        memory_all=memory,
        gru_pass_seconds=metrics["seconds_per_pass"]["P2"],
        lstm_pass_seconds=metrics["seconds_per_pass"]["P3"],
        **{
            f"{unit}_model": types.SimpleNamespace(history=history)
            for unit, history in histories.items()
        },
    )
    capsys.readouterr()
    exec(cell.source, namespace)
    return capsys.readouterr().out.splitlines()


CLAIMS_AGAINST = next(  # the cell that makes check() and other_seeds
    cell.source
    for cell in CODE
    if cell.source.startswith("# @title Support code: what this run's claims")
)


def seed_run_histories(seed):
    summary = json.loads((ROOT / "results" / "sweep.json").read_text())
    return {
        entry["model"]: {"test_accuracy": entry["test_accuracy"]}
        for entry in summary["test"]
        if entry["seed"] == seed
        and entry["setting"] == summary["chosen"][entry["model"]]
    }


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("question, start", [(2, "rnn_seeds"), (3, "lstm_seeds")])
def test_the_ranking_claims_hold_with_another_seed_as_this_run(
    nb, capsys, seed, question, start
):
    # Seeds 1 and 2 of the sweep's seed runs stand in for this run (seed 0 joins the
    # other seeds). The item-15* gap, the FNNs and the reach and timing lines cannot be
    # evaluated that way: the seed runs trained no scratch unit or FNN and kept no
    # model to measure; those lines keep this run's values.
    printed = evaluate(
        nb,
        capsys,
        check_cell(question, start),
        seed_run_histories(seed),
        seed,
    )
    claims = [line for line in printed if not line.startswith("    [")]
    assert claims and all(line.startswith("✓ ") for line in claims), printed


def test_the_reach_check_compares_the_units(nb, capsys):
    metrics = json.loads((ROOT / "results" / "metrics.json").read_text())
    memory = json.loads(json.dumps(metrics["memory"]))
    memory["GRU"]["trained"]["reach"] = memory["vanilla RNN"]["trained"]["reach"]
    histories = {k: metrics[k]["per_epoch"] for k in ("rnn", "gru", "lstm")}
    printed = evaluate(nb, capsys, check_cell(2, "rnn_seeds"), histories, 0, memory)
    reach = [line for line in printed if "GRU's above RNN's" in line]
    assert reach and reach[0].startswith("✗ "), "the same reach is no difference"


def test_parameters_are_written_whole_into_the_notebook():
    settings = {
        "rnn": {"init": "default", "lr": 1e-3},
        "gru": {"init": "default", "gate_bias": None, "lr": 2e-3},
        "lstm": {"init": "default", "gate_bias": 1.0, "lr": 2e-3, "weight_decay": 0.5},
    }
    book = set_parameters(
        nbformat.read(NOTEBOOK, as_version=4),
        {"settings": settings, "student": "O'Brien, Zoë", "train_subset": 2000},
    )
    namespace = {}
    for cell in book.cells:
        if tagged(cell, "parameters") or tagged(cell, "run-options"):
            exec(cell.source, namespace)
    assert namespace["settings"] == settings and namespace["student"] == "O'Brien, Zoë"
    assert namespace["train_subset"] == 2000 and namespace["epochs"] == 10
    source = "\n".join(
        c.source
        for c in book.cells
        if tagged(c, "parameters") or tagged(c, "run-options")
    )
    assert "# as on Quercus" in source and "# None: all 60 000" in source, "comments"


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"epoch": 3}, "no such parameter"),
        ({"student": 123}, "student must be a name"),
        ({"settings": {"rnn": torch.nn}}, "not a Python literal"),
    ],
)
def test_a_parameter_the_notebook_cannot_take_is_refused(parameters, message):
    with pytest.raises(SystemExit, match=message):
        set_parameters(nbformat.read(NOTEBOOK, as_version=4), parameters)


def test_papermills_parameters_are_all_in_force():
    """papermill injects its values after the cell tagged `parameters`: the run
    options come before it, so no later cell sets them back."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    given = {"train_subset": 2000, "test_subset": 1000, "epochs": 1, "seed": 3}
    book = parameterize_notebook(
        load_notebook_node(str(NOTEBOOK)), given, kernel_name="python3"
    )
    namespace = {}
    for cell in book.cells:
        tags = set(cell.metadata.get("tags", []))
        if tags & {"run-options", "parameters", "injected-parameters"}:
            exec(cell.source, namespace)
    assert {name: namespace[name] for name in given} == given
    tagged_parameters = [
        c for c in book.cells if "parameters" in c.metadata.get("tags", [])
    ]
    assert len(tagged_parameters) == 1, "papermill injects after the first one"


def test_a_syntax_error_in_the_parameters_cell_is_named_with_its_line():
    book = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in book.cells if tagged(c, "parameters"))
    cell.source = cell.source.replace("epochs = 10", "epochs = 10,,")
    with pytest.raises(SystemExit) as stopped:
        set_parameters(book, {})
    message = str(stopped.value)
    assert message.startswith("the notebook's parameters cell has a syntax error")
    assert "line 2: 'epochs = 10,,'" in message


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("seed", "abc", "seed must be an integer, not 'abc'"),
        ("batch_size", "64", "batch_size must be a positive integer, not '64'"),
        ("epochs", 0, "epochs must be a positive integer, not 0"),
        ("hidden_units", 2.5, "hidden_units must be a positive integer, not 2.5"),
        ("train_subset", -5, "train_subset must be None or a positive integer"),
        ("max_grad_norm", "1", "max_grad_norm must be a positive number"),
        ("student", 123, "student must be a name in quotes"),
        ("settings", {"rnn": {}}, "settings must be a dict with the keys"),
    ],
)
def test_each_bad_parameter_is_named_before_any_data_are_loaded(
    nb, name, value, message
):
    names = ["student", "epochs", "batch_size", "hidden_units", "seed", "settings"]
    names += ["max_grad_norm", "train_subset", "test_subset"]
    values = {key: getattr(nb, key) for key in names}
    assert nb.parameter_problems(values) == []
    problems = nb.parameter_problems({**values, name: value})
    assert len(problems) == 1 and problems[0].startswith(message)
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    checked = next(
        i for i, c in enumerate(cells) if "= parameter_problems(" in c.source
    )
    loaded = next(i for i, c in enumerate(cells) if "= load_mnist(" in c.source)
    assert checked < loaded


def test_a_bad_setting_is_named_by_unit_and_key(nb):
    settings = {
        **nb.settings,
        "gru": {"init": "xavier", "lr": -1, "gate_bias": "1", "dropout": 0.1},
    }
    values = {key: getattr(nb, key) for key in ["student", "epochs", "batch_size"]}
    values.update(hidden_units=8, seed=0, max_grad_norm=1.0, settings=settings)
    values.update(train_subset=None, test_subset=None)
    assert nb.parameter_problems(values) == [
        "settings['gru'] takes no key 'dropout'",
        "settings['gru']['init'] must be one of ('default', 'orthogonal', 'identity')",
        "settings['gru']['lr'] must be a positive number",
        "settings['gru']['gate_bias'] must be None or a number",
    ]


def test_a_damaged_earlier_record_is_named_before_any_data_are_loaded(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "metrics.json").write_text("{not json")
    namespace = {}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if cell.cell_type == "code" and "= load_mnist(" in cell.source:
            break
        if cell.cell_type == "code":
            try:
                exec(cell.source, namespace)
            except SystemExit as stopped:
                assert str(stopped) == (
                    "results/metrics.json is not a run's record: move it away, "
                    "then Run all"
                )
                return
    pytest.fail("no cell before the data named the damaged record")
