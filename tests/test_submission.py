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
        "Items 7–9",
        "Item 10",
        "Item 12",
        "Item 13",
        "Item 14",
        "Item 15",
        "class myRNN",
        "def load_mnist(",
        "MNIST(folder, train=train)",
        "def make_loader(",
        "def train(",
        "def accuracy(",
        "history = train(model, nn.CrossEntropyLoss(), epochs)",
        "class ElmanRNN",
        "max |nn.RNN - ElmanRNN|",
        "not tested",
        "def sweep_run(",
        "def validation_split(",
    ],
    "P2": [
        "Items 1–3",
        "Item 4",
        "Item 5",
        "class myGatedRNN",
        "def init_hidden",
        "def forward",
        " 1/2: loss",
        "def gate_values",
        "early reach",
        "Appendix — code of earlier questions used above",
        "def init_recurrent_weights(",
        "def seeded(",
    ],
    "P3": [
        "Items 1–3",
        "Item 4",
        "Item 5",
        "class myLSTM",
        "def init_hidden",
        "def forward",
        "c[0]",
        " 1/2: loss",
        "early reach",
        "Appendix — code of earlier questions used above",
        "def measure_memory(",
        "def reach_batch(",
        "def set_gate_bias(",
        "def init_recurrent_weights(",
        "def seeded(",
    ],
}
SUPPORT = [
    "def mnist_folder",
    "def show_table",
    "import json",
    "SWEEP = {",
    "TEMPLATE",
    "progress = True",
    "def seed_results",
    "def probe_accuracy_by_step",
    "def seconds_per_pass",
    "def compare_with_nn_rnn",
    "def plot_memory",
]
DEADLINE = "Apr  5"


@pytest.fixture(scope="module")
def submission(tool_run, tmp_path_factory):
    # a trial upload of the tool's (small) run, for a name with a second underscore
    out = tmp_path_factory.mktemp("upload") / "submission"
    return build_submission(out, tool_run[3], allow_incomplete=True)


@pytest.mark.parametrize("upload", HEADINGS)
def test_each_pdf_holds_its_own_question_only(submission, upload):
    pdf = submission / f"{upload}.pdf"
    text = pdf_text(pdf)
    assert HEADINGS[upload] in text and "Nguyen, Thi Minh" in text, "the parameter"
    others = [
        name
        for key, name in HEADINGS.items()
        if key != upload and re.search(rf"{name}( —|:)", text)
    ]
    assert not others
    assert pdf_image_count(pdf) >= (upload != "W1"), "W1 draws its figure in TikZ"
    info = "\n".join(pdf_info(pdf))
    assert "Author:          Nguyen, Thi Minh" in info and HEADINGS[upload] in info
    assert DEADLINE not in info, "dated when built, not at the deadline"


@pytest.mark.parametrize("upload", CONTENT)
def test_programming_pdfs_show_code_outputs_and_figures(submission, upload):
    text = pdf_text(submission / f"{upload}.pdf")
    assert not [fragment for fragment in CONTENT[upload] if fragment not in text]
    assert not [fragment for fragment in SUPPORT if fragment in text], "support code"
    least = {"P1": 3, "P2": 2, "P3": 2}[upload]
    assert pdf_image_count(submission / f"{upload}.pdf") >= least


def test_notebook_is_named_for_the_student_and_unchanged(submission, tool_run):
    named = nbformat.read(submission / "Nguyen_Thi_Minh_Assgn4.ipynb", as_version=4)
    assert notebook_digest(named) == notebook_digest(tool_run[0])


def test_manifest_records_the_build(submission, tool_run):
    manifest = json.loads((submission / "manifest.json").read_text())
    assert manifest["notebook_cells_sha256"] == notebook_digest(tool_run[0])
    assert manifest["student"] == "Nguyen_Thi_Minh"
    assert manifest["made_by"] == "tools.crowdmark"
    assert sorted(manifest["files"]) == [
        "Nguyen_Thi_Minh_Assgn4.ipynb",
        "P1.pdf",
        "P2.pdf",
        "P3.pdf",
        "W1.pdf",
        "W2.pdf",
    ]


def test_a_cell_a_student_adds_goes_into_its_questions_pdf(nb, tool_run):
    executed = copy.deepcopy(tool_run[0])
    heading = next(
        i
        for i, c in enumerate(executed.cells)
        if c.source.startswith("# Programming Question 2 ")
    )
    executed.cells.insert(heading + 3, nbformat.v4.new_code_cell("print('my own')"))
    holding = [
        question
        for question in ("P1", "P2", "P3")
        if "print('my own')"
        in [c.source for c in nb.question_notebook(executed, question, "Doe").cells]
    ]
    assert holding == ["P2"]


def test_an_incomplete_run_is_refused_unless_asked_for(tool_run, tmp_path):
    with pytest.raises(SystemExit, match="not a complete run.*--allow-incomplete"):
        build_submission(tmp_path / "out", tool_run[3])
    assert not (tmp_path / "out").exists()


def test_progress_bars_stay_out_of_the_pdfs(nb, upload_run):
    executed = upload_run[0]  # progress = True in a kernel: tqdm's widgets
    widget = "application/vnd.jupyter.widget-view+json"
    shown = [o for c in executed.cells for o in c.get("outputs", [])]
    assert [o for o in shown if widget in o.get("data", {})], "the run had bars"
    for question in ("P1", "P2", "P3"):
        part = nb.question_notebook(executed, question, "Doe_Jane")
        printed = [o for c in part.cells for o in c.get("outputs", [])]
        assert not [o for o in printed if widget in o.get("data", {})]
        assert not [o for o in printed if "\r" in o.get("text", "")]


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
SIDE_MARGIN = {"P1": 1.6, "P2": 1.6, "P3": 1.6, "W1": 2.2, "W2": 2.2}


@pytest.mark.parametrize("upload", SIDE_MARGIN)
def test_committed_pdfs_keep_code_and_text_inside_the_page(upload):
    pdf = ROOT / "submission" / f"{upload}.pdf"
    assert pdf_text(pdf).count("↪") <= 3, "code lines wrap"
    assert "\ufffd" not in pdf_text(pdf), "a character the PDF's font does not have"
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


@pytest.mark.parametrize("what", ["a user file", "the project root"])
def test_an_output_folder_with_files_of_someone_else_is_refused(
    tool_run, tmp_path, what
):
    if what == "a user file":
        out = tmp_path / "mine"
        out.mkdir()
        (out / "notes.md").write_text("my notes")
    else:
        out = ROOT
    before = sorted(path.name for path in out.iterdir())
    with pytest.raises(SystemExit, match="holds files this tool did not make"):
        build_submission(out, tool_run[3], allow_incomplete=True)
    assert sorted(path.name for path in out.iterdir()) == before


@pytest.mark.parametrize(
    "typed, printed, stem",
    [
        ("Lastname_Firstname", "Lastname, Firstname", "Lastname_Firstname"),
        ("O'Brien-Smith, Zoë", "O'Brien-Smith, Zoë", "OBrien-Smith_Zoe"),
        ("van Dyk_Anna", "van Dyk, Anna", "van_Dyk_Anna"),
        ("Nguyen_Thi_Minh", "Nguyen, Thi Minh", "Nguyen_Thi_Minh"),
    ],
)
def test_real_names_are_printed_and_made_safe_for_files(nb, typed, printed, stem):
    assert nb.author_name(typed) == printed
    part = nb.question_notebook(nbformat.v4.new_notebook(), "P1", typed)
    assert part.metadata["author"] == printed, "the notebook's export says the same"
    assert file_stem(typed) == stem


def test_another_name_than_the_runs_is_refused_with_the_command(tool_run, tmp_path):
    with pytest.raises(SystemExit, match='make run STUDENT="Roe_Richard"'):
        build_submission(tmp_path / "out", tool_run[3], "Roe_Richard", True)
    assert not (tmp_path / "out").exists()
