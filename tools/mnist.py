"""MNIST files for this repository's runs: the offline, read-only folder ($MNIST_ROOT)
made into a writable folder that torchvision's MNIST reads.

The notebook itself reads MNIST as a student does (torchvision's `MNIST(root,
download=True)`); `tools.run`, the sweep and the benchmark first call `mnist_folder`,
which checks the original archives (MD5), extracts them into a temporary folder inside
the cache and moves the files into place whole, so two runs at once never read half a
file, and names a missing or damaged file with its fix.
"""

import os
import tempfile
from pathlib import Path

from torchvision.datasets import MNIST
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.datasets.utils import check_integrity, extract_archive


class MnistDataError(RuntimeError):
    """Missing, damaged or unwritable MNIST files; the message says which."""


def readable(root):
    """True if torchvision's MNIST reads both whole splits from root/MNIST/raw/."""
    try:
        splits = [MNIST(root, train=train) for train in (True, False)]
    except Exception:
        return False
    return all(len(split.data) == len(split.targets) > 0 for split in splits)


def readable_file(path):
    reader = read_label_file if "labels" in path.name else read_image_file
    try:
        reader(str(path))
    except Exception:
        return False
    return True


def file_problems(raw):
    """What is wrong with the MNIST files in raw/: (damaged archives, damaged
    extracted files without their archive, files missing altogether)."""
    damaged, unreadable, missing = [], [], []
    for archive, md5 in MNIST.resources:
        extracted = raw / archive.removesuffix(".gz")
        if (raw / archive).is_file():
            if not check_integrity(str(raw / archive), md5):
                damaged.append(archive)
        elif not extracted.is_file():
            missing.append(archive)
        elif not readable_file(extracted):
            unreadable.append(extracted.name)
    return damaged, unreadable, missing


def describe_problems(raw, damaged, unreadable, missing):
    """One sentence naming each problem file, for MnistDataError."""

    def names(files):
        return ", ".join(files) + (" is" if len(files) == 1 else " are")

    parts = []
    if damaged:
        parts.append(f"{names(damaged)} damaged (MD5 not the official one)")
    if unreadable:
        parts.append(f"{names(unreadable)} damaged, with no archive beside it")
    if missing:
        parts.append(f"{names(missing)} missing")
    return f"in {raw}/: " + "; ".join(parts) if parts else ""


def mnist_folder(root, download, cache="data"):
    """A folder whose MNIST/raw/ holds the four extracted files.

    `root` is only read: its archives are checked (MD5), extracted into a temporary
    folder and moved into `cache` whole, so that a second run never reads half a file.
    """
    if readable(root):
        return root
    raw, cached = Path(root, "MNIST", "raw"), Path(cache, "MNIST", "raw")
    damaged, unreadable, missing = file_problems(raw)
    problem = describe_problems(raw, damaged, unreadable, missing)
    fix = "or set data_root (or MNIST_ROOT) to a folder whose MNIST/raw/ holds them"
    # The user's own files: never downloaded over, nor passed over for an older copy.
    theirs = raw.resolve() != cached.resolve()
    if (damaged or (unreadable and readable(cache))) and theirs:
        raise MnistDataError(f"MNIST {problem}: replace the damaged files, {fix}.")
    if readable(cache):
        return cache
    if problem and not download:
        raise MnistDataError(
            f"MNIST {problem}; download is off: put the four archives there, {fix}."
        )
    try:
        cached.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as staging:
            staged = Path(staging, "MNIST", "raw")
            staged.mkdir(parents=True)
            if problem:
                try:  # torchvision downloads, checks (MD5) and extracts all four
                    MNIST(staging, download=True)
                except RuntimeError as error:
                    raise MnistDataError(
                        f"MNIST {problem}; it could not be downloaded ({error}): "
                        f"connect to the internet, {fix}."
                    ) from None
            else:  # the archives beside the unreadable extracted files
                for archive, _ in MNIST.resources:
                    if (raw / archive).is_file():
                        extract_archive(str(raw / archive), str(staged))
            for extracted in staged.glob("*-ubyte"):
                os.replace(extracted, cached / extracted.name)
    except OSError as error:
        raise MnistDataError(f"cannot write MNIST into {cache}/ ({error})") from None
    if not readable(cache):
        raise MnistDataError(
            f"torchvision cannot read MNIST from {raw}/ (do its images and labels "
            f"match?): replace its files, {fix}."
        )
    return cache
