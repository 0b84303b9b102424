"""Item 1 and the data's error paths, through the notebook's own support code."""

import functools
import gzip
import hashlib
import http.server
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
import torchvision
from conftest import QUICK_TEST, QUICK_TRAIN, write_synthetic_mnist

FOUR_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def listing(folder):
    return sorted((p.relative_to(folder), p.stat().st_size) for p in folder.rglob("*"))


def test_extracted_files_are_read_in_place(nb, synthetic_root, tmp_path):
    before = listing(synthetic_root)
    folder = nb.mnist_folder(synthetic_root, download=False, cache=tmp_path / "c")
    assert folder == synthetic_root and not (tmp_path / "c").exists(), "nothing copied"
    assert listing(synthetic_root) == before, "the user's folder is only read"


def test_load_mnist_reads_both_splits_from_mnist_root(
    nb, synthetic_root, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNIST_ROOT", str(synthetic_root))
    train, test = nb.load_mnist(None, download=False)
    assert train.data.shape == (QUICK_TRAIN, 28, 28) and train.data.dtype == torch.uint8
    assert train.targets.shape == (QUICK_TRAIN,)
    assert 0 <= train.targets.min() <= train.targets.max() <= 9
    assert test.data.shape == (QUICK_TEST, 28, 28)


def test_sequences_are_normalised_rows(nb):
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[1] = 255
    sequences = nb.to_sequences(images)
    assert sequences.shape == (2, 28, 28) and sequences.dtype == torch.float32
    assert torch.allclose(sequences[0], torch.full((28, 28), -0.1307 / 0.3081))
    assert torch.allclose(sequences[1], torch.full((28, 28), (1 - 0.1307) / 0.3081))


def test_loader_batches_whole_tensors_and_covers_every_image_once(nb):
    sequences = torch.arange(10.0).view(10, 1, 1).expand(10, 28, 28)
    labels = torch.arange(10)
    torch.manual_seed(3)
    batches = list(nb.make_loader(sequences, labels, 4, shuffle=True))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert batches[0][0].shape == (4, 28, 28)
    seen = torch.cat([y for _, y in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    torch.manual_seed(3)
    again = torch.cat([y for _, y in nb.make_loader(sequences, labels, 4, True)])
    assert torch.equal(seen, again), "the same seed gives the same order"
    in_order = torch.cat([y for _, y in nb.make_loader(sequences, labels, 4, False)])
    assert in_order.tolist() == list(range(10))


def test_missing_data_without_download_names_the_files_and_the_fix(nb, tmp_path):
    with pytest.raises(nb.MnistDataError) as error:
        nb.mnist_folder(tmp_path / "empty", download=False, cache=tmp_path / "c")
    message = str(error.value)
    assert all(name in message for name in FOUR_FILES) and "download is off" in message
    assert "MNIST_ROOT" in message and "data_root" in message
    assert error.value.__cause__ is None and error.value.__context__ is None


def test_failed_download_names_torchvisions_reason(nb, tmp_path, monkeypatch):
    # A mirror on a closed loopback port: torchvision's download fails at once.
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(nb.MnistDataError) as error:
        nb.mnist_folder(tmp_path / "data", download=True, cache=tmp_path / "data")
    message = str(error.value)
    assert "could not be downloaded (Error downloading" in message
    assert "connect to the internet" in message and "MNIST_ROOT" in message


@pytest.fixture()
def mirror(tmp_path, monkeypatch):
    """A loopback HTTP mirror serving a synthetic MNIST; torchvision trusts its MD5s."""
    served = write_synthetic_mnist(tmp_path / "served", compress=True) / "MNIST" / "raw"
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(served)
    )
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(
        torchvision.datasets.MNIST,
        "mirrors",
        [f"http://127.0.0.1:{server.server_port}/"],
    )
    monkeypatch.setattr(
        torchvision.datasets.MNIST,
        "resources",
        [
            (name, hashlib.md5((served / name).read_bytes()).hexdigest())
            for name in FOUR_FILES
        ],
    )
    yield served
    server.shutdown()


def test_download_fills_the_cache(nb, tmp_path, mirror):
    cache = tmp_path / "data"
    assert nb.mnist_folder(cache, download=True, cache=cache) == cache
    assert nb.readable(cache) and not list(cache.glob("tmp*")), "no staging left"


def test_a_partial_download_in_the_cache_is_fetched_again(nb, tmp_path, mirror):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    whole = (mirror / "train-images-idx3-ubyte.gz").read_bytes()
    (raw / "train-images-idx3-ubyte.gz").write_bytes(whole[: len(whole) // 2])
    nb.mnist_folder(tmp_path / "data", download=True, cache=tmp_path / "data")
    assert nb.readable(tmp_path / "data")


def test_archives_in_the_users_folder_are_checked_and_extracted_elsewhere(
    nb, tmp_path, mirror, monkeypatch
):
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    user = tmp_path / "user"
    (user / "MNIST" / "raw").mkdir(parents=True)
    for name in FOUR_FILES:
        (user / "MNIST" / "raw" / name).write_bytes((mirror / name).read_bytes())
    before = listing(user)
    cache = tmp_path / "cache"
    assert nb.mnist_folder(user, download=False, cache=cache) == cache, "no network"
    assert listing(user) == before, "the user's folder is only read"
    cached = {p.name for p in (cache / "MNIST" / "raw").iterdir()}
    assert cached == {n.removesuffix(".gz") for n in FOUR_FILES}


def test_a_damaged_extracted_file_is_repaired_from_its_archive(nb, tmp_path, mirror):
    root = tmp_path / "data"
    nb.mnist_folder(root, download=True, cache=root)
    victim = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:5000])
    for name in FOUR_FILES:  # the archives stay beside the extracted files
        (root / "MNIST" / "raw" / name).write_bytes((mirror / name).read_bytes())
    assert not nb.readable(root)
    assert nb.mnist_folder(root, download=False, cache=root) == root
    assert nb.readable(root), "re-extracted from the archive beside it"


def test_a_damaged_archive_in_the_users_folder_is_named(nb, tmp_path, mirror):
    user = write_synthetic_mnist(tmp_path / "gz", compress=True)
    gz = user / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:20])  # the others match the mirror's MD5s
    for name in FOUR_FILES[:3]:
        (user / "MNIST" / "raw" / name).write_bytes((mirror / name).read_bytes())
    with pytest.raises(nb.MnistDataError) as error:
        nb.mnist_folder(user, download=True, cache=tmp_path / "cache")
    message = str(error.value)
    assert f"in {user / 'MNIST' / 'raw'}/: t10k-labels-idx1-ubyte.gz is damaged" in (
        message
    )
    assert "train-images" not in message, "only the damaged file is named"
    assert not (tmp_path / "cache").exists(), "nothing written"


def test_a_mismatched_split_is_not_readable(nb, tmp_path):
    root = write_synthetic_mnist(tmp_path / "data")
    raw = root / "MNIST" / "raw"
    assert nb.readable(root)
    (raw / "train-labels-idx1-ubyte").write_bytes(
        (raw / "t10k-labels-idx1-ubyte").read_bytes()
    )
    assert not nb.readable(root)


def test_an_unwritable_cache_gets_a_message(nb, tmp_path, mirror):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(nb.MnistDataError, match="cannot write MNIST into"):
        nb.mnist_folder(blocker / "data", download=True, cache=blocker / "data")


def test_two_runs_at_once_extract_without_reading_half_a_file(nb, tmp_path, mirror):
    user = tmp_path / "user"
    (user / "MNIST" / "raw").mkdir(parents=True)
    for name in FOUR_FILES:
        (user / "MNIST" / "raw" / name).write_bytes((mirror / name).read_bytes())
    cache = tmp_path / "cache"
    with ThreadPoolExecutor(4) as pool:
        folders = list(
            pool.map(lambda _: nb.mnist_folder(user, False, cache=cache), range(4))
        )
    assert folders == [cache] * 4 and nb.readable(cache)


def test_gzip_files_are_what_torchvision_reads(tmp_path):
    # the synthetic archives decompress to the extracted files (the mirror serves them)
    root = write_synthetic_mnist(tmp_path / "a", compress=True)
    plain = write_synthetic_mnist(tmp_path / "b")
    name = "train-labels-idx1-ubyte"
    packed = (root / "MNIST" / "raw" / f"{name}.gz").read_bytes()
    assert gzip.decompress(packed) == (plain / "MNIST" / "raw" / name).read_bytes()


def test_a_truncated_archive_in_data_with_download_off_is_named_damaged(
    nb, tmp_path, mirror
):
    root = tmp_path / "data"
    (root / "MNIST" / "raw").mkdir(parents=True)
    for name in FOUR_FILES:
        whole = (mirror / name).read_bytes()
        if name.startswith("train-images"):
            whole = whole[:100]  # a download cut short
        (root / "MNIST" / "raw" / name).write_bytes(whole)
    with pytest.raises(nb.MnistDataError) as error:
        nb.mnist_folder(root, download=False, cache=root)
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz is damaged" in message
    assert "missing" not in message and "download is off" in message
    assert "t10k" not in message, "only the damaged file is named"


def test_a_damaged_extracted_file_without_its_archive_is_named_offline(
    nb, tmp_path, monkeypatch
):
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    root = write_synthetic_mnist(tmp_path / "data")  # extracted files, no archives
    victim = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:5000])
    with pytest.raises(nb.MnistDataError) as error:
        nb.mnist_folder(root, download=True, cache=root)
    message = str(error.value)
    assert "t10k-images-idx3-ubyte is damaged, with no archive beside it" in message
    assert (
        "could not be downloaded" in message
        and "train-images-idx3-ubyte is" not in (message)
    )
