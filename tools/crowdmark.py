"""Build the Crowdmark upload: one PDF per question and the named notebook.

    python -m tools.crowdmark written [--out written]   # written/*.md -> PDFs (pandoc)
    python -m tools.crowdmark submission [--out submission] [--student NAME]

`submission` writes W1.pdf, W2.pdf (the written answers), P1.pdf, P2.pdf, P3.pdf (the
cells of the executed notebook tagged with that question) and <Name>_Assgn4.ipynb, plus
manifest.json (what it built, from which notebook). The student's name is the
notebook's `student` parameter of the run, as typed in the PDFs and made safe in file
names; `--student` only confirms it (another name is refused with the command that
sets it). Every cell must carry exactly one section tag; an untagged cell is refused by
name. An output folder is replaced only if this tool made it: a folder that is not
empty and holds no manifest of this tool, or holds files its manifest does not list, is
refused. PDFs carry a fixed date (SOURCE_DATE_EPOCH), so a rebuild of the same input
gives the same bytes.

`written` needs only pandoc and the standard library; nbformat and nbconvert are
imported inside the functions that export the notebook.
"""

import argparse
import ast
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
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
MADE_BY = "tools.crowdmark"
# The PDFs' creation date: the assignment's deadline, so that rebuilds are identical.
FIXED_DATE = {"SOURCE_DATE_EPOCH": "1743825540", "FORCE_SOURCE_DATE": "1"}


def author(student):
    """The name as printed: "Last_First" reads "Last, First"; anything else as typed."""
    if "," not in student and student.count("_") == 1:
        return student.replace("_", ", ")
    return student.strip()


def file_stem(student):
    """The name in file names: ASCII letters, digits, '-' and '_' only."""
    ascii_name = unicodedata.normalize("NFKD", student).encode("ascii", "ignore")
    words = re.split(r"[\s,_]+", re.sub(r"[^\w\s,-]", "", ascii_name.decode()))
    stem = "_".join(word for word in words if word)
    if not stem:
        raise SystemExit(f"student {student!r} has no letters for a file name")
    return stem


def environment():
    return {**os.environ, **FIXED_DATE}


PDF_ID = re.compile(rb"(/ID\s*\[\s*<)([0-9a-fA-F]{32})(>\s*<)([0-9a-fA-F]{32})(>)")


def stable_pdf_id(pdf):
    """XeLaTeX derives the PDF's /ID from its temporary file name: replace it by a
    digest of the content (same length, so no offset moves)."""
    data = Path(pdf).read_bytes()
    zeroed = PDF_ID.sub(lambda m: m[1] + b"0" * 32 + m[3] + b"0" * 32 + m[5], data)
    digest = hashlib.md5(zeroed).hexdigest().encode()
    Path(pdf).write_bytes(
        PDF_ID.sub(lambda m: m[1] + digest + m[3] + digest + m[5], zeroed)
    )


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
        env=environment(),
    )
    stable_pdf_id(pdf)


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


def coalesce_streams(outputs):
    """Consecutive prints of one stream as one output: a single-spaced block."""
    merged = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            output.get("output_type") == "stream"
            and last is not None
            and last.get("output_type") == "stream"
            and last.get("name") == output.get("name")
        ):
            last["text"] += output["text"]
        else:
            merged.append(output)
    return merged


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
            cell.outputs = coalesce_streams(
                [out for out in cell.outputs if not is_progress_bar(out)]
            )
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
    saved = {key: os.environ.get(key) for key in FIXED_DATE}
    os.environ.update(FIXED_DATE)  # read by XeLaTeX, which nbconvert runs
    try:
        body, _ = exporter.from_notebook_node(part)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    Path(pdf).write_bytes(body)
    stable_pdf_id(pdf)


def made_here(folder):
    """True if folder is absent or empty, or holds only what this tool made there."""
    folder = Path(folder)
    if not folder.exists():
        return True
    if not folder.is_dir():
        return False
    present = {path.name for path in folder.iterdir()}
    if not present:
        return True
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("made_by") == MADE_BY and present <= {
        "manifest.json",
        *manifest.get("files", {}),
    }


def build_submission(out, notebook_path=NOTEBOOK, student=None):
    import nbformat

    out = Path(out).resolve()
    if not made_here(out):
        raise SystemExit(
            f"{out} holds files this tool did not make: refusing to replace it. "
            "Give --out an empty or new folder."
        )
    notebook = nbformat.read(notebook_path, as_version=4)
    check_sections(notebook)
    name = notebook_student(notebook)
    if student is not None and student != name:
        raise SystemExit(
            f"the notebook was run for student {name!r}, not {student!r}: run "
            f'`make run STUDENT="{student}"` (it sets the name and builds the hand-in)'
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        for upload, written in WRITTEN.items():
            written_pdf(written, staging / f"{upload}.pdf", name)
        for section in PROGRAMMING:
            notebook_pdf(
                question_notebook(notebook, section, name), staging / f"{section}.pdf"
            )
        nbformat.write(notebook, staging / f"{file_stem(name)}_Assgn4.ipynb")
        manifest = {
            "made_by": MADE_BY,
            "notebook": Path(notebook_path).name,
            "notebook_cells_sha256": notebook_digest(notebook),
            "student": name,
            "files": {
                path.name: hashlib.sha256(path.read_bytes()).hexdigest()
                for path in sorted(staging.iterdir())
            },
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if out.exists():  # checked above: only this tool's files
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-old-"))
            os.replace(out, old / out.name)
            os.replace(staging, out)
            shutil.rmtree(old)
        else:
            os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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
    parser.add_argument(
        "--student", help="the name the hand-in must carry (checked against the run)"
    )
    args = parser.parse_args()
    if args.what == "written":
        for name in WRITTEN.values():
            written_pdf(name, Path(args.out or ROOT / "written") / f"{name}.pdf")
    else:
        print(
            build_submission(
                args.out or ROOT / "submission", args.notebook, args.student or None
            )
        )


if __name__ == "__main__":
    main()
