"""Build the Crowdmark upload: one PDF per question and the named notebook.

    python tools/crowdmark.py written [--out written]   # written/*.md -> PDFs (pandoc)
    python tools/crowdmark.py submission [--out submission]

`submission` writes W1.pdf, W2.pdf (the written answers), P1.pdf, P2.pdf, P3.pdf (the
cells of the executed notebook tagged with that question) and
<Lastname>_<Firstname>_Assgn4.ipynb, plus manifest.json (the hash of the notebook it was
built from). The student's name is the notebook's `student` parameter of the run.
Every cell must carry exactly one section tag; an untagged cell is refused by name.

`written` needs only pandoc and the standard library; nbformat and nbconvert are
imported inside the functions that export the notebook.
"""

import argparse
import ast
import copy
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "Lastname_Firstname_Assgn4.ipynb"
WRITTEN = {"W1": "Q1_xor_rnn", "W2": "Q2_tanh"}
PROGRAMMING = {
    "P1": "Programming Question 1",
    "P2": "Programming Question 2",
    "P3": "Programming Question 3",
}
SECTIONS = {"intro", "support", *PROGRAMMING, "W", "handin"}
PLACEHOLDER = "Lastname_Firstname"


def author(student):
    lastname, _, firstname = student.partition("_")
    return f"{lastname}, {firstname}"


def written_pdf(name, pdf, student=PLACEHOLDER):
    """written/<name>.md -> pdf; run from written/ so that ../figures/... resolves."""
    pdf = Path(pdf).resolve()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "pandoc",
            f"{name}.md",
            "--pdf-engine=xelatex",
            "-M",
            f"author={author(student)}",
            "-o",
            str(pdf),
        ],
        cwd=ROOT / "written",
        check=True,
    )


def notebook_digest(notebook):
    """sha256 of what a grader sees: every cell's type, source and outputs."""
    cells = [
        {
            "cell_type": cell["cell_type"],
            "source": cell["source"],
            "outputs": cell.get("outputs", []),
        }
        for cell in notebook["cells"]
    ]
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()


def check_sections(notebook):
    """Each cell carries exactly one section tag; otherwise stop, naming the cell."""
    for index, cell in enumerate(notebook.cells):
        tags = set(cell.metadata.get("tags", []))
        if "injected-parameters" in tags:  # papermill's cell, beside the parameters
            continue
        sections = SECTIONS & tags
        if len(sections) != 1:
            first_line = (cell.source.strip().splitlines() or [""])[0][:60]
            raise SystemExit(
                f"cell {index} ({first_line!r}) has {len(sections) or 'no'} "
                "section tags "
                f"{sorted(sections)}; give it exactly one of {sorted(SECTIONS)}"
            )


def notebook_student(notebook):
    """The `student` parameter of the run: papermill's injected cell wins."""
    student = None
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and {"parameters", "injected-parameters"} & set(
            tags
        ):
            for node in ast.parse(cell.source).body:
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and getattr(node.targets[0], "id", None) == "student"
                ):
                    student = ast.literal_eval(node.value)
    if not student:
        raise SystemExit("the notebook has no `student` parameter")
    return student


def is_progress_bar(output):
    """tqdm's output: a text bar redrawn with \\r on stderr, or a Jupyter widget."""
    if output.get("name") == "stderr":
        return "\r" in output["text"]
    return "application/vnd.jupyter.widget-view+json" in output.get("data", {})


def question_notebook(notebook, section, student):
    """The cells of one question, without progress bars; `remove-input` shows output."""
    import nbformat

    part = copy.deepcopy(notebook)
    part.cells = [
        cell for cell in part.cells if section in cell.metadata.get("tags", [])
    ]
    for cell in part.cells:
        if cell.cell_type == "code":
            cell.outputs = [out for out in cell.outputs if not is_progress_bar(out)]
    part.metadata["title"] = f"ECE1508 Assignment 4 — {PROGRAMMING[section]}"
    part.metadata["authors"] = [{"name": author(student)}]
    part.metadata["date"] = ""
    return nbformat.from_dict(part)


def notebook_pdf(part, pdf):
    from nbconvert import PDFExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = PDFExporter(
        extra_template_paths=[str(ROOT / "tools" / "templates")],
        template_file="wrapped.tex.j2",
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_input_tags={"remove-input"}), enabled=True
    )
    body, _ = exporter.from_notebook_node(part)
    Path(pdf).write_bytes(body)


def build_submission(out, notebook_path=NOTEBOOK):
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    check_sections(notebook)
    student = notebook_student(notebook)
    lastname, _, firstname = student.partition("_")
    if not (lastname.isalpha() and firstname.replace("-", "").isalpha()):
        raise SystemExit(f"student must look like Lastname_Firstname, got {student!r}")
    out = Path(out)
    staging = out.with_name(f".{out.name}-building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for upload, name in WRITTEN.items():
        written_pdf(name, staging / f"{upload}.pdf", student)
    for section in PROGRAMMING:
        notebook_pdf(
            question_notebook(notebook, section, student), staging / f"{section}.pdf"
        )
    nbformat.write(notebook, staging / f"{student}_Assgn4.ipynb")
    manifest = {
        "notebook": Path(notebook_path).name,
        "notebook_sha256": notebook_digest(notebook),
        "student": student,
        "files": {
            path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(staging.iterdir())
        },
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)  # replaced only by a complete build
    os.replace(staging, out)
    return out


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["written", "submission"])
    parser.add_argument(
        "--out", help="output folder (default: written/ or submission/)"
    )
    parser.add_argument(
        "--notebook", default=str(NOTEBOOK), help="the executed notebook"
    )
    args = parser.parse_args()
    if args.what == "written":
        for name in WRITTEN.values():
            written_pdf(name, Path(args.out or ROOT / "written") / f"{name}.pdf")
    else:
        print(build_submission(args.out or ROOT / "submission", args.notebook))


if __name__ == "__main__":
    main()
