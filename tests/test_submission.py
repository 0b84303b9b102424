"""The Crowdmark upload: a PDF per question that stands alone, the named notebook, and the committed build."""

import hashlib
import json

import nbformat
import pytest
from conftest import ROOT, pdf_image_count, pdf_pages, pdf_text
from crowdmark import build_submission, notebook_digest

HEADINGS = {"W1": "Written Question 1", "W2": "Written Question 2", "P1": "Programming Question 1",
            "P2": "Programming Question 2", "P3": "Programming Question 3"}
# What each programming PDF must show: its items, and the evidence printed by its cells.
CONTENT = {"P1": ["Item 1", "Item 7", "Item 10", "Item 12", "Item 13", "Item 14", "Item 15", "class myRNN",
                  "def train(", "def accuracy(", "class ElmanRNN", "max |nn.RNN - ElmanRNN|"],
           "P2": ["Items 1–3", "Item 4", "Item 5", "class myGatedRNN", "def init_hidden", "def forward",
                  "GRU epoch"],
           "P3": ["Items 1–3", "Item 4", "Item 5", "class myLSTM", "def init_hidden", "c[0]", "LSTM epoch"]}


@pytest.fixture(scope="module")
def submission(quick_runs, tmp_path_factory):
    _, _, workdir = quick_runs[0]
    out = tmp_path_factory.mktemp("upload") / "submission"
    return build_submission("Doe_Jane", out, workdir / "executed.ipynb")


@pytest.mark.parametrize("upload", HEADINGS)
def test_each_pdf_holds_its_own_question_only(submission, upload):
    pdf = submission / f"{upload}.pdf"
    text = pdf_text(pdf)
    assert pdf_pages(pdf) > 0
    assert HEADINGS[upload] in text and "Doe, Jane" in text
    assert not [other for key, other in HEADINGS.items() if key != upload and other in text]
    assert pdf_image_count(pdf) >= 1


@pytest.mark.parametrize("upload", CONTENT)
def test_programming_pdfs_show_code_outputs_and_figures(submission, upload):
    text = pdf_text(submission / f"{upload}.pdf")
    missing = [fragment for fragment in CONTENT[upload] if fragment not in text]
    assert not missing
    assert "it/s]" not in text, "progress bars are left out of the PDFs"
    assert pdf_image_count(submission / f"{upload}.pdf") >= {"P1": 5, "P2": 3, "P3": 3}[upload]


def test_notebook_is_named_for_the_student_and_otherwise_unchanged(submission, quick_runs):
    executed, _, _ = quick_runs[0]
    named = nbformat.read(submission / "Doe_Jane_Assgn4.ipynb", as_version=4)
    assert "**Student:** Doe, Jane" in named.cells[0].source
    assert [cell.outputs for cell in named.cells if cell.cell_type == "code"] == \
        [cell.outputs for cell in executed.cells if cell.cell_type == "code"]


def test_manifest_records_the_build(submission, quick_runs):
    executed, _, _ = quick_runs[0]
    manifest = json.loads((submission / "manifest.json").read_text())
    assert manifest["notebook_sha256"] == notebook_digest(executed) and manifest["student"] == "Doe_Jane"
    assert sorted(manifest["files"]) == ["Doe_Jane_Assgn4.ipynb", "P1.pdf", "P2.pdf", "P3.pdf", "W1.pdf", "W2.pdf"]


def test_a_malformed_student_name_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="Lastname_Firstname"):
        build_submission("Jane Doe", tmp_path / "out")


def test_committed_submission_was_built_from_the_committed_notebook():
    manifest = json.loads((ROOT / "submission" / "manifest.json").read_text())
    committed = nbformat.read(ROOT / "Lastname_Firstname_Assgn4.ipynb", as_version=4)
    assert manifest["notebook_sha256"] == notebook_digest(committed), "rebuild with `make submission`"
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((ROOT / "submission" / name).read_bytes()).hexdigest() == digest
