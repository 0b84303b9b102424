"""Build the Crowdmark upload: one PDF per question and the named notebook.

    python -m tools.crowdmark written [--out written]   # written/*.md -> PDFs (pandoc)
    python -m tools.crowdmark submission [--out submission] [--student NAME]

`submission` writes W1.pdf, W2.pdf (the written answers), P1.pdf, P2.pdf, P3.pdf (each
programming question's section of the executed notebook: the cells under its heading)
and <Name>_Assgn4.ipynb, plus manifest.json (what it built, from which notebook). It
refuses a notebook whose run was not complete (the metrics.json its record cell names
says so), unless `--allow-incomplete`. The student's name is the notebook's `student`
parameter of the run, printed "Last, First Middle" in the PDFs (LaTeX-escaped) and made
safe in file names;
`--student` only confirms it (another name is refused with the command that sets it).
An output folder is replaced only if this tool made it: a folder that is not empty and
holds no manifest of this tool, or holds files its manifest does not list, is refused.
The PDFs carry the date they were built; a rebuild gives the same pages and text.

The programming PDFs come from the notebook's own export code (its "Handing in"
section), the same a student runs in Colab. `written` needs only pandoc and the
standard library; nbformat and the notebook's export cells (not its training code) are
imported only by `submission`.
"""

import argparse
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
MADE_BY = "tools.crowdmark"


def file_stem(student):
    """The name in file names: ASCII letters, digits, '-' and '_' only."""
    ascii_name = unicodedata.normalize("NFKD", student).encode("ascii", "ignore")
    words = re.split(r"[\s,_]+", re.sub(r"[^\w\s,-]", "", ascii_name.decode()))
    stem = "_".join(word for word in words if word)
    if not stem:
        raise SystemExit(f"student {student!r} has no letters for a file name")
    return stem


def written_pdf(name, pdf, author=None):
    """written/<name>.md -> pdf; run from written/ so that ../figures/... resolves.
    author: the name printed (None: the placeholder in the Markdown's front matter)."""
    pdf = Path(pdf).resolve()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pandoc", f"{name}.md", "--pdf-engine=xelatex"]
        + (["-M", f"author={author}"] if author else [])
        + ["-o", str(pdf)],
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


def notebook_student(export, notebook):
    """The `student` parameter of the run."""
    student = export.parameter_values(notebook).get("student")
    if not isinstance(student, str) or not student.strip():
        raise SystemExit(f"the notebook's `student` must be a name, not {student!r}")
    return student


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


def build_submission(out, notebook_path=NOTEBOOK, student=None, allow_incomplete=False):
    import nbformat

    from tools.notebook_defs import notebook_module, run_is_complete

    out = Path(out).resolve()
    if not made_here(out):
        raise SystemExit(
            f"{out} holds files this tool did not make: refusing to replace it. "
            "Give --out an empty or new folder."
        )
    notebook = nbformat.read(notebook_path, as_version=4)
    if not (allow_incomplete or run_is_complete(notebook, Path(notebook_path).parent)):
        raise SystemExit(
            f"{notebook_path} is not a complete run (the metrics.json its record "
            "names is missing or says complete: false): run `make run` first, or "
            "pass --allow-incomplete for a trial upload."
        )
    # the notebook's own export code (its "Handing in" section), and nothing else
    export = notebook_module(notebook, name="assignment4_export", tags=("export",))
    name = notebook_student(export, notebook)
    if student is not None and student != name:
        raise SystemExit(
            f"the notebook was run for student {name!r}, not {student!r}: run "
            f'`make run STUDENT="{student}"` (it sets the name and builds the hand-in)'
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        for upload, written in WRITTEN.items():
            written_pdf(written, staging / f"{upload}.pdf", export.author_name(name))
        export.export_question_pdfs(notebook, staging, name)
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
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="build from a notebook whose run was not complete (a trial upload)",
    )
    args = parser.parse_args()
    if args.what == "written":
        for name in WRITTEN.values():
            written_pdf(name, Path(args.out or ROOT / "written") / f"{name}.pdf")
    else:
        print(
            build_submission(
                args.out or ROOT / "submission",
                args.notebook,
                args.student or None,
                args.allow_incomplete,
            )
        )


if __name__ == "__main__":
    main()
