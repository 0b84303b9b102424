"""Source as `ruff format` lays it out, and files written whole: one way for each.

`formatted` lays out the cells the tools write (tools.run's parameters, the sweep's
data cell); `write_atomically` replaces a file whole or not at all.
"""

import os
import subprocess
import sys
from pathlib import Path


def formatted(source):
    """`source` as `ruff format` leaves it."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--line-length", "88", "-"],
        input=source,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    ).stdout.rstrip("\n")


def write_atomically(path, payload):
    """Write text or bytes so that `path` holds either its old content or all of the
    new (a stopped tool leaves no half file); the file gets the usual permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(payload, bytes):
            temporary.write_bytes(payload)
        else:
            temporary.write_text(payload, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
