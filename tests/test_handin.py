"""Handing in from Colab or Jupyter: the export cell finds this run's notebook before
installing anything, refuses any other, and says what to do."""

import json
import sys
import types

import nbformat
import pytest
from conftest import NOTEBOOK

from tools.notebook_defs import notebook_module
from tools.run import set_parameters

RUN_ID = "20261206-101010-42"


def export_cell():
    return next(
        cell
        for cell in nbformat.read(NOTEBOOK, as_version=4).cells
        if cell.source.startswith("# @title Write P1.pdf")
    )


def saved_run(run_id=RUN_ID, **parameters):
    """The notebook as saved after a run: its record names run_id."""
    book = nbformat.read(NOTEBOOK, as_version=4)
    record = next(c for c in book.cells if "record" in c.metadata.get("tags", []))
    record.outputs = [
        nbformat.v4.new_output(
            "stream", name="stdout", text=f"run {run_id}: 600 s on cpu\n"
        )
    ]
    return set_parameters(book, parameters) if parameters else book


@pytest.fixture()
def kernel(nb, tmp_path, monkeypatch):
    """The export cell's namespace after Run all (this run's id and parameters);
    installing TeX and writing the PDFs are recorded, not done."""
    monkeypatch.chdir(tmp_path)
    calls = []

    def export(book, out_dir, student):
        calls.append(("export", book))
        return [f"{out_dir}/P{n}.pdf" for n in (1, 2, 3)]

    namespace = dict(vars(nb))
    namespace.update(
        export_pdfs=True,
        notebook_path=None,
        RUN_ID=RUN_ID,
        install_tex=lambda: calls.append("install_tex"),
        export_question_pdfs=export,
        calls=calls,
    )
    return namespace


def run_export(kernel, capsys):
    exec(export_cell().source, kernel)
    return capsys.readouterr().out


@pytest.fixture()
def colab(monkeypatch):
    """google.colab._message as Colab has it; `reply` is what get_ipynb answers."""
    message = types.ModuleType("google.colab._message")
    message.reply = None
    asked = []

    def blocking_request(request_type, request="", timeout_sec=5):
        asked.append(request_type)
        return message.reply

    message.blocking_request = blocking_request
    message.asked = asked
    colab = types.ModuleType("google.colab")
    colab._message = message
    google = types.ModuleType("google")
    google.colab = colab
    for name, module in [
        ("google", google),
        ("google.colab", colab),
        ("google.colab._message", message),
    ]:
        monkeypatch.setitem(sys.modules, name, module)
    return message


def test_colab_exports_the_notebook_as_it_stands_in_the_browser(kernel, colab, capsys):
    colab.reply = {"ipynb": json.loads(nbformat.writes(saved_run()))}
    printed = run_export(kernel, capsys)
    assert colab.asked == ["get_ipynb"], "no path to type, no Drive to mount"
    assert kernel["calls"][0] == "install_tex"
    assert kernel["calls"][1][0] == "export"
    assert printed.startswith("wrote handin/P1.pdf, handin/P2.pdf, handin/P3.pdf")
    assert printed.strip().endswith("from Colab")


def test_colab_without_an_answer_says_what_to_do_before_installing(
    kernel, colab, capsys
):
    printed = run_export(kernel, capsys)
    assert printed.startswith("No PDFs were written: Colab did not hand over")
    assert "File → Download .ipynb" in printed and "notebook_path" in printed
    assert kernel["calls"] == [], "nothing installed"


def test_no_saved_notebook_says_to_save_it_before_installing(kernel, capsys):
    printed = run_export(kernel, capsys)
    assert printed.startswith("No PDFs were written: no saved *Assgn4*.ipynb in ")
    assert "File → Save" in printed and "notebook_path" in printed
    assert kernel["calls"] == []


def test_a_stale_copy_is_refused_and_named(kernel, tmp_path, capsys):
    nbformat.write(saved_run("20261201-090000-7"), tmp_path / "Old_Assgn4.ipynb")
    printed = run_export(kernel, capsys)
    assert printed.startswith("No PDFs were written: Old_Assgn4.ipynb does not hold")
    assert f"no run {RUN_ID}" in printed and "File → Save" in printed
    assert kernel["calls"] == []


def test_a_copy_saved_with_other_parameters_is_refused(kernel, tmp_path, capsys):
    nbformat.write(saved_run(seed=3, epochs=2), tmp_path / "Mine_Assgn4.ipynb")
    printed = run_export(kernel, capsys)
    assert "other parameters (seed, epochs)" in printed
    assert kernel["calls"] == []


def test_this_runs_saved_notebook_is_exported(kernel, tmp_path, capsys):
    path = tmp_path / "Lastname_Firstname_Assgn4.ipynb"
    nbformat.write(saved_run(), path)
    printed = run_export(kernel, capsys)
    assert kernel["calls"][1][1].cells == nbformat.read(path, as_version=4).cells
    assert printed.strip().endswith("from Lastname_Firstname_Assgn4.ipynb")


def test_a_student_that_is_not_a_name_is_named_as_such(kernel, capsys):
    kernel["student"] = 123
    printed = run_export(kernel, capsys)
    assert printed.startswith("No PDFs were written: student must be a name in")
    assert "not 123" in printed and kernel["calls"] == []


def test_a_latex_failure_is_a_short_message_naming_the_packages(
    kernel, tmp_path, capsys
):
    from nbconvert.exporters.pdf import LatexFailed

    nbformat.write(saved_run(), tmp_path / "Lastname_Firstname_Assgn4.ipynb")

    def failing(*args):
        raise LatexFailed("! Missing $ inserted." + " log" * 500)

    kernel["export_question_pdfs"] = failing
    printed = run_export(kernel, capsys)
    assert printed.startswith("No PDFs were written (LatexFailed: ")
    assert "Missing $ inserted" in printed and "texlive-latex-extra" in printed
    assert len(printed) < 800, "a message, not the whole LaTeX log"


@pytest.mark.parametrize(
    "typed, printed",
    [
        ("Lastname_Firstname", "Lastname, Firstname"),
        ("Nguyen_Thi_Minh", "Nguyen, Thi Minh"),
        ("O'Brien-Smith, Zoë", "O'Brien-Smith, Zoë"),
    ],
)
def test_underscores_after_the_first_are_printed_as_spaces(nb, typed, printed):
    assert nb.author_name(typed) == printed


def test_the_export_runs_without_the_training_definitions():
    export = notebook_module(NOTEBOOK, name="export_only", tags=("export",))
    assert callable(export.export_question_pdfs)
    assert not hasattr(export, "train") and "torch" not in vars(export)
