"""Item 1 and the data's error paths, through the notebook's own support code."""

import functools
import gzip
import hashlib
import http.server
import re
import threading

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
    train, test = nb.load_mnist(synthetic_root, download=False, cache=tmp_path)
    assert not any(tmp_path.iterdir()), "nothing copied"
    assert listing(synthetic_root) == before, "the user's folder is only read"
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
        nb.load_mnist(tmp_path / "empty", download=False, cache=tmp_path / "c")
    message = str(error.value)
    assert all(name in message for name in FOUR_FILES)
    assert "MNIST_ROOT" in message and "data_root" in message
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_failed_download_names_torchvisions_reason(nb, tmp_path, monkeypatch):
    # A mirror on a closed loopback port: torchvision's download fails at once.
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(nb.MnistDataError) as error:
        nb.load_mnist(tmp_path / "data", download=True, cache=tmp_path / "data")
    message = str(error.value)
    assert "(RuntimeError: Error downloading" in message and "MNIST_ROOT" in message


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
    train, test = nb.load_mnist(
        tmp_path / "data", download=True, cache=tmp_path / "data"
    )
    assert train.data.shape == (QUICK_TRAIN, 28, 28)
    assert test.targets.shape == (QUICK_TEST,)


def test_a_partial_download_in_the_cache_is_fetched_again(nb, tmp_path, mirror):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    whole = (mirror / "train-images-idx3-ubyte.gz").read_bytes()
    (raw / "train-images-idx3-ubyte.gz").write_bytes(whole[: len(whole) // 2])
    train, _ = nb.load_mnist(tmp_path / "data", download=True, cache=tmp_path / "data")
    assert train.data.shape == (QUICK_TRAIN, 28, 28)


def test_archives_in_the_users_folder_are_checked_copied_and_extracted(
    nb, tmp_path, mirror, monkeypatch
):
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    user = tmp_path / "user"
    (user / "MNIST" / "raw").mkdir(parents=True)
    for name in FOUR_FILES:
        (user / "MNIST" / "raw" / name).write_bytes((mirror / name).read_bytes())
    before = listing(user)
    train, _ = nb.load_mnist(user, download=False, cache=tmp_path / "cache")
    assert train.data.shape == (QUICK_TRAIN, 28, 28), "extracted without network"
    assert listing(user) == before, "the user's folder is only read"
    cached = {p.name for p in (tmp_path / "cache" / "MNIST" / "raw").iterdir()}
    assert {n.removesuffix(".gz") for n in FOUR_FILES} <= cached


def test_a_corrupt_archive_in_the_users_folder_is_named(nb, tmp_path):
    root = write_synthetic_mnist(tmp_path / "gz", compress=True)  # not the official
    with pytest.raises(nb.MnistDataError) as error:
        nb.load_mnist(root, download=False, cache=tmp_path / "cache")
    assert "train-images-idx3-ubyte.gz is damaged (its MD5 is not the official" in str(
        error.value
    )
    assert not (tmp_path / "cache" / "MNIST").exists(), "nothing copied"


def test_a_truncated_file_is_refused_with_the_fix(nb, tmp_path):
    root = write_synthetic_mnist(tmp_path / "data")
    victim = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:5000])
    with pytest.raises(nb.MnistDataError, match="MNIST could not be loaded from"):
        nb.load_mnist(root, download=False, cache=tmp_path / "cache")


def test_a_mismatched_split_is_rejected(nb, tmp_path):
    root = write_synthetic_mnist(tmp_path / "data")
    raw = root / "MNIST" / "raw"
    (raw / "train-labels-idx1-ubyte").write_bytes(
        (raw / "t10k-labels-idx1-ubyte").read_bytes()
    )
    with pytest.raises(nb.MnistDataError, match="images and labels differ in number"):
        nb.load_mnist(root, download=False, cache=tmp_path / "cache")


def test_an_unwritable_cache_gets_a_message(nb, tmp_path, mirror, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(nb.MnistDataError, match="could not be loaded") as error:
        nb.load_mnist(blocker / "data", download=True, cache=blocker / "data")
    assert "Error" in str(error.value)


VALID = {
    "student": "Doe_Jane",
    "epochs": 10,
    "batch_size": 64,
    "hidden_units": 150,
    "seed": 0,
    "settings": {
        "rnn": {"init": "identity", "lr": 1e-3},
        "gru": {"init": "default", "gate_bias": 1.0, "lr": 2e-3, "weight_decay": 0.1},
        "lstm": {"init": "orthogonal", "gate_bias": None, "lr": 2e-3},
    },
    "max_grad_norm": 1.0,
    "train_subset": None,
    "test_subset": None,
}


def changed_setting(unit, **changes):
    return {
        "settings": {**VALID["settings"], unit: {**VALID["settings"][unit], **changes}}
    }


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"batch_size": -4}, "batch_size must be an integer >= 1"),
        ({"hidden_units": 2.5}, "hidden_units must be an integer >= 1"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"epochs": True}, "epochs must be an integer"),
        ({"max_grad_norm": 0}, "max_grad_norm must be > 0"),
        ({"train_subset": 0}, "train_subset must be None"),
        ({"student": " "}, "student must be a name"),
        (changed_setting("rnn", lr=float("nan")), "settings['rnn']['lr'] must be > 0"),
        (changed_setting("rnn", init="xavier"), "settings['rnn']['init'] must be"),
        (
            changed_setting("lstm", weight_decay=-0.1),
            "settings['lstm']: weight_decay >= 0",
        ),
        (
            changed_setting("gru", gate_bias="1"),
            "settings['gru']['gate_bias'] must be None",
        ),
        (changed_setting("rnn", gate_bias=1.0), "settings['rnn'] takes"),
        (changed_setting("gru", learning_rate=1e-3), "settings['gru'] takes"),
        (
            {"settings": {"rnn": VALID["settings"]["rnn"]}},
            "settings must have the keys 'rnn', 'gru'",
        ),
    ],
)
def test_impossible_parameters_fail_before_any_work(nb, changes, fragment):
    nb.check_parameters(VALID)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        nb.check_parameters({**VALID, **changes})


def test_a_subset_larger_than_the_set_is_refused(nb):
    split = type(
        "Split", (), {"data": torch.zeros(5, 28, 28), "targets": torch.zeros(5)}
    )
    assert len(nb.subset(split, 3, "train_subset")[0]) == 3
    assert len(nb.subset(split, None, "train_subset")[0]) == 5
    with pytest.raises(ValueError, match="train_subset=6 is more than the 5 images"):
        nb.subset(split, 6, "train_subset")


def test_gzip_files_are_what_torchvision_reads(tmp_path):
    # the synthetic archives decompress to the extracted files (the mirror serves them)
    root = write_synthetic_mnist(tmp_path / "a", compress=True)
    plain = write_synthetic_mnist(tmp_path / "b")
    name = "train-labels-idx1-ubyte"
    packed = (root / "MNIST" / "raw" / f"{name}.gz").read_bytes()
    assert gzip.decompress(packed) == (plain / "MNIST" / "raw" / name).read_bytes()


def test_an_unwritable_results_folder_is_refused_before_any_work(
    nb, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(PermissionError, match="cannot write in .*blocker/results/"):
        nb.RunRecord(tmp_path / "blocker" / "results", tmp_path / "figures")
    assert not (tmp_path / "build").exists() or not list((tmp_path / "build").iterdir())
