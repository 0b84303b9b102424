"""The Crowdmark upload: a PDF per question that stands alone, the named notebook, and
the committed build (page budgets, nothing past the margin)."""

import copy
import hashlib
import json
import re
import subprocess

import nbformat
import pytest
from conftest import ROOT, pdf_image_count, pdf_info, pdf_pages, pdf_text

from tools.crowdmark import build_submission, file_stem, notebook_digest

HEADINGS = {
    "W1": "Written Question 1",
    "W2": "Written Question 2",
    "P1": "Programming Question 1",
    "P2": "Programming Question 2",
    "P3": "Programming Question 3",
}
BUDGET = {"P1": 10, "P2": 4, "P3": 4, "W1": 2, "W2": 2}
CONTENT = {
    "P1": [
        "Item 1",
        "Item 7",
        "Item 10",
        "Item 12",
        "Item 13",
        "Item 14",
        "Item 15",
        "class myRNN",
        "def load_mnist(",
        "MNIST(root, train=train, download=fetch)",
        "def make_loader(",
        "def train(",
        "def accuracy(",
        "history = train(model, nn.CrossEntropyLoss(), epochs)",
        "def probe_accuracy_by_step(",
        "class ElmanRNN",
        "max |nn.RNN - ElmanRNN|",
        "this run contradicts",
    ],
    "P2": [
        "Items 1–3",
        "Item 4",
        "Item 5",
        "class myGatedRNN",
        "def init_hidden",
        "def forward",
        " 1/1: loss",
        "def gate_values",
        "seed spread",
        "def init_recurrent_weights(",
    ],
    "P3": [
        "Items 1–3",
        "Item 4",
        "Item 5",
        "class myLSTM",
        "def init_hidden",
        "def forward",
        "c[0]",
        " 1/1: loss",
        "seed spread",
        "Appendix — helper functions of earlier questions used above",
        "def measure_memory(",
        "def set_gate_bias(",
        "def init_recurrent_weights(",
    ],
}
SUPPORT = [
    "def mnist_source",
    "class RunRecord",
    "def check_parameters",
    "import json",
    "run.record",
    "SWEEP_VALIDATION = [",
    "progress = False",
]
MONTHS = re.compile(
    r"January|February|March|April|May|June|July|August|September|"
    r"October|November|December"
)


@pytest.fixture(scope="module")
def submission(quick_runs, tmp_path_factory):
    _, _, workdir = quick_runs[0]
    out = tmp_path_factory.mktemp("upload") / "submission"
    return build_submission(out, workdir / "executed.ipynb")


@pytest.mark.parametrize("upload", HEADINGS)
def test_each_pdf_holds_its_own_question_only(submission, upload):
    pdf = submission / f"{upload}.pdf"
    text = pdf_text(pdf)
    assert HEADINGS[upload] in text and "Doe, Jane" in text, "named by the parameter"
    assert not [
        other for key, other in HEADINGS.items() if key != upload and other in text
    ]
    assert pdf_image_count(pdf) >= 1
    assert not MONTHS.search(pdf_text(pdf, 1)), "no build date"


@pytest.mark.parametrize("upload", CONTENT)
def test_programming_pdfs_show_code_outputs_and_figures(submission, upload):
    text = pdf_text(submission / f"{upload}.pdf")
    assert not [fragment for fragment in CONTENT[upload] if fragment not in text]
    assert not [fragment for fragment in SUPPORT if fragment in text], "support code"
    assert (
        pdf_image_count(submission / f"{upload}.pdf")
        >= {"P1": 5, "P2": 3, "P3": 3}[upload]
    )


def test_notebook_is_named_for_the_student_and_unchanged(submission, quick_runs):
    executed, _, _ = quick_runs[0]
    named = nbformat.read(submission / "Doe_Jane_Assgn4.ipynb", as_version=4)
    assert notebook_digest(named) == notebook_digest(executed)
    assert "**Student:** Doe, Jane" in json.dumps(
        [cell.get("outputs") for cell in named.cells]
    )


def test_manifest_records_the_build(submission, quick_runs):
    executed, _, _ = quick_runs[0]
    manifest = json.loads((submission / "manifest.json").read_text())
    assert manifest["notebook_cells_sha256"] == notebook_digest(executed)
    assert (
        manifest["student"] == "Doe_Jane" and manifest["made_by"] == "tools.crowdmark"
    )
    assert sorted(manifest["files"]) == [
        "Doe_Jane_Assgn4.ipynb",
        "P1.pdf",
        "P2.pdf",
        "P3.pdf",
        "W1.pdf",
        "W2.pdf",
    ]


def test_a_cell_without_a_section_tag_is_refused_by_name(quick_runs, tmp_path):
    executed, _, _ = quick_runs[0]
    broken = copy.deepcopy(executed)
    broken.cells.insert(5, nbformat.v4.new_code_cell("print('forgotten')"))
    nbformat.write(broken, tmp_path / "broken.ipynb")
    with pytest.raises(SystemExit, match=r"cell 5 \(\"print\('forgotten'\)\"\) has no"):
        build_submission(tmp_path / "out", tmp_path / "broken.ipynb")
    assert not (tmp_path / "out").exists()


def test_committed_submission_was_built_from_the_committed_notebook():
    manifest = json.loads((ROOT / "submission" / "manifest.json").read_text())
    committed = nbformat.read(ROOT / "Lastname_Firstname_Assgn4.ipynb", as_version=4)
    assert manifest["notebook_cells_sha256"] == notebook_digest(committed), (
        "make submission"
    )
    for name, digest in manifest["files"].items():
        data = (ROOT / "submission" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest


@pytest.mark.parametrize("upload", BUDGET)
def test_committed_pdfs_keep_their_page_budget(upload):
    pdf = ROOT / "submission" / f"{upload}.pdf"
    assert pdf_pages(pdf) <= BUDGET[upload]
    if upload == "P1":
        assert "Programming Question 1" in pdf_text(pdf, 1)


# side margins in cm: the notebook template's, and the written answers' geometry
SIDE_MARGIN = {"P1": 1.8, "P2": 1.8, "P3": 1.8, "W1": 2.2, "W2": 2.2}


@pytest.mark.parametrize("upload", SIDE_MARGIN)
def test_committed_pdfs_keep_code_and_text_inside_the_page(upload):
    pdf = ROOT / "submission" / f"{upload}.pdf"
    assert pdf_text(pdf).count("↪") <= 3, "code lines wrap"
    layout = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    width = float(re.search(r'<page width="([\d.]+)"', layout).group(1))
    right_edges = [float(x) for x in re.findall(r'xMax="([\d.]+)"', layout)]
    margin = SIDE_MARGIN[upload] / 2.54 * 72
    assert max(right_edges) <= width - margin + 3, "a word runs past the right margin"


def test_progress_bars_stay_out_of_the_pdfs(nb, quick_runs, tmp_path):
    executed, _, _ = quick_runs[2]  # the run with progress=True
    part = nb.question_notebook(executed, "P1", "Doe_Jane")
    widget = "application/vnd.jupyter.widget-view+json"
    outputs = [out for cell in part.cells for out in cell.get("outputs", [])]
    assert not [out for out in outputs if widget in out.get("data", {})]
    assert not [out for out in outputs if "\r" in out.get("text", "")]
    source = tmp_path / "executed.ipynb"
    nbformat.write(executed, source)
    pdfs = nb.export_question_pdfs(source, tmp_path / "out", "Doe_Jane")
    text = pdf_text(pdfs[0])
    assert "it/s" not in text and "Programming Question 1" in text


def test_the_notebooks_own_export_gives_the_submissions_pages(submission, quick_runs):
    # the first quick run exported its PDFs from inside (export_pdfs = True)
    executed, _, workdir = quick_runs[0]
    export_cell = ["".join(out.get("text", "")) for out in executed.cells[-1].outputs]
    assert "wrote handin/P3.pdf" in "".join(export_cell)
    for section in ("P1", "P2", "P3"):
        exported = workdir / "handin" / f"{section}.pdf"
        assert pdf_pages(exported) == pdf_pages(submission / f"{section}.pdf")
        assert pdf_text(exported) == pdf_text(submission / f"{section}.pdf")


def test_the_drive_copy_is_found_and_a_missing_one_explained(nb, tmp_path, monkeypatch):
    drive = tmp_path / "drive"
    saved = drive / "MyDrive" / "Colab Notebooks" / "Doe_Jane_Assgn4.ipynb"
    saved.parent.mkdir(parents=True)
    saved.write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert nb.find_notebook(None, drive=drive) == saved
    assert nb.find_notebook("given.ipynb", drive=drive).name == "given.ipynb"
    saved.unlink()
    with pytest.raises(FileNotFoundError, match="drive.mount"):
        nb.find_notebook(None, drive=drive)


def test_without_tex_and_root_the_export_says_what_to_install(nb, monkeypatch):
    monkeypatch.setattr(nb.shutil, "which", lambda name: None)
    monkeypatch.setattr(nb.os, "geteuid", lambda: 1000, raising=False)
    with pytest.raises(RuntimeError, match="sudo apt-get install -y") as error:
        nb.ensure_tex()
    assert "texlive-xetex" in str(error.value) and "MacTeX" in str(error.value)


@pytest.mark.parametrize("what", ["a user file", "the project root"])
def test_an_output_folder_with_files_of_someone_else_is_refused(
    quick_runs, tmp_path, what
):
    _, _, workdir = quick_runs[0]
    if what == "a user file":
        out = tmp_path / "mine"
        out.mkdir()
        (out / "notes.md").write_text("my notes")
    else:
        out = ROOT
    before = sorted(path.name for path in out.iterdir())
    with pytest.raises(SystemExit, match="holds files this tool did not make"):
        build_submission(out, workdir / "executed.ipynb")
    assert sorted(path.name for path in out.iterdir()) == before


def what_a_grader_gets(folder):
    """Per file: a PDF's metadata, pages, text and images; other files' bytes, the
    manifest's PDF digests aside."""
    seen = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".pdf":
            info = [line for line in pdf_info(path) if "File size" not in line]
            seen[path.name] = (info, pdf_text(path), pdf_image_count(path))
        elif path.name == "manifest.json":
            manifest = json.loads(path.read_text())
            manifest["files"] = {
                name: digest if not name.endswith(".pdf") else "a PDF"
                for name, digest in manifest["files"].items()
            }
            seen[path.name] = manifest
        else:
            seen[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def test_a_folder_this_tool_made_is_rebuilt_identically(submission, quick_runs):
    _, _, workdir = quick_runs[0]
    first = what_a_grader_gets(submission)
    build_submission(submission, workdir / "executed.ipynb")
    again = what_a_grader_gets(submission)
    differing = [name for name in first if again.get(name) != first[name]]
    assert again.keys() == first.keys() and not differing, (
        f"no date or random name makes a rebuild differ: {differing}"
    )
    (submission / "extra.txt").write_text("added by hand")
    with pytest.raises(SystemExit, match="did not make"):
        build_submission(submission, workdir / "executed.ipynb")
    assert (submission / "extra.txt").read_text() == "added by hand"


@pytest.mark.parametrize(
    "typed, printed, stem",
    [
        ("Lastname_Firstname", "Lastname, Firstname", "Lastname_Firstname"),
        ("O'Brien-Smith, Zoë", "O'Brien-Smith, Zoë", "OBrien-Smith_Zoe"),
        ("van Dyk_Anna", "van Dyk, Anna", "van_Dyk_Anna"),
    ],
)
def test_real_names_are_printed_as_typed_and_made_safe_for_files(
    nb, typed, printed, stem
):
    assert nb.author_name(typed) == printed
    assert file_stem(typed) == stem


def test_another_name_than_the_runs_is_refused_with_the_command(quick_runs, tmp_path):
    _, _, workdir = quick_runs[0]
    with pytest.raises(SystemExit, match='make run STUDENT="Roe_Richard"'):
        build_submission(tmp_path / "out", workdir / "executed.ipynb", "Roe_Richard")
    assert not (tmp_path / "out").exists()
