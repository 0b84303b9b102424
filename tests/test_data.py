"""Item 1 and the data's error paths, through the notebook's own support code."""

import functools
import gzip
import hashlib
import http.server
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


def read(nb, root, train=True):
    split = nb.MNIST(root, train=train)
    return split.data, split.targets


def test_extracted_files_are_read_in_place(nb, synthetic_root, tmp_path):
    root = nb.prepare_mnist(synthetic_root, download=False, cache_root=tmp_path)
    assert root == synthetic_root and not any(tmp_path.iterdir())
    images, labels = read(nb, root)
    assert images.shape == (QUICK_TRAIN, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (QUICK_TRAIN,) and 0 <= labels.min() <= labels.max() <= 9
    assert read(nb, root, train=False)[0].shape == (QUICK_TEST, 28, 28)


def test_sequences_are_normalised_rows(nb):
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[1] = 255
    sequences = nb.to_sequences(images)
    assert sequences.shape == (2, 28, 28) and sequences.dtype == torch.float32
    assert torch.allclose(sequences[0], torch.full((28, 28), -0.1307 / 0.3081))
    assert torch.allclose(sequences[1], torch.full((28, 28), (1 - 0.1307) / 0.3081))


def test_loader_batches_whole_tensors_and_covers_every_image_once(nb):
    sequences, labels = (
        torch.arange(10.0).view(10, 1, 1).expand(10, 28, 28),
        torch.arange(10),
    )
    order = torch.Generator().manual_seed(3)
    batches = list(nb.make_loader(sequences, labels, 4, order))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert batches[0][0].shape == (4, 28, 28)
    seen = torch.cat([y for _, y in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    again = torch.cat(
        [
            y
            for _, y in nb.make_loader(
                sequences, labels, 4, torch.Generator().manual_seed(3)
            )
        ]
    )
    assert torch.equal(seen, again), "the same seed gives the same order"
    in_order = torch.cat([y for _, y in nb.make_loader(sequences, labels, 4)])
    assert in_order.tolist() == list(range(10))


def test_missing_data_without_download_names_the_files_and_the_fix(nb, tmp_path):
    with pytest.raises(nb.MnistDataError) as error:
        nb.prepare_mnist(tmp_path / "empty", download=False, cache_root=tmp_path / "c")
    message = str(error.value)
    assert all(name in message for name in FOUR_FILES)
    assert (
        "MNIST_ROOT" in message and str(tmp_path / "empty" / "MNIST" / "raw") in message
    )


def test_failed_download_names_torchvisions_reason(nb, tmp_path, monkeypatch):
    # A mirror on a closed loopback port: torchvision's download fails at once.
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(nb.MnistDataError) as error:
        nb.prepare_mnist(tmp_path / "empty", download=True, cache_root=tmp_path / "c")
    message = str(error.value)
    assert "downloading it failed (" in message and "MNIST_ROOT" in message
    assert "refused" in message.lower() or "error" in message.lower()
    assert error.value.__cause__ is None and error.value.__suppress_context__


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
    root = nb.prepare_mnist(
        tmp_path / "data", download=True, cache_root=tmp_path / "data"
    )
    assert root == tmp_path / "data"
    assert read(nb, root)[0].shape == (QUICK_TRAIN, 28, 28)


def test_partial_download_in_the_cache_is_fetched_again(nb, tmp_path, mirror, capsys):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    whole = (mirror / "train-images-idx3-ubyte.gz").read_bytes()
    (raw / "train-images-idx3-ubyte.gz").write_bytes(whole[: len(whole) // 2])
    extracted = gzip.decompress((mirror / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (raw / "t10k-labels-idx1-ubyte").write_bytes(extracted[:50])
    root = nb.prepare_mnist(
        tmp_path / "data", download=True, cache_root=tmp_path / "data"
    )
    assert read(nb, root)[0].shape == (QUICK_TRAIN, 28, 28)
    assert read(nb, root, train=False)[1].shape == (QUICK_TEST,)
    printed = capsys.readouterr().out
    assert "removing damaged" in printed and "t10k-labels-idx1-ubyte" in printed


def test_corrupt_archive_in_the_users_folder_is_refused(nb, tmp_path):
    root = write_synthetic_mnist(
        tmp_path / "gz", compress=True
    )  # not the official bytes
    with pytest.raises(nb.MnistDataError) as error:
        nb.prepare_mnist(root, download=False, cache_root=tmp_path / "cache")
    assert "train-images-idx3-ubyte.gz is damaged: its MD5 is not the official" in str(
        error.value
    )
    assert not (
        tmp_path / "cache" / "MNIST" / "raw" / "train-images-idx3-ubyte"
    ).exists()


def test_verified_archives_are_extracted_into_the_cache(nb, tmp_path, monkeypatch):
    root = write_synthetic_mnist(tmp_path / "gz", compress=True)
    monkeypatch.setattr(nb, "check_integrity", lambda path, md5: True)
    cache = nb.prepare_mnist(root, download=False, cache_root=tmp_path / "cache")
    assert read(nb, cache)[0].shape == (QUICK_TRAIN, 28, 28)
    cached = sorted(p.name for p in (tmp_path / "cache" / "MNIST" / "raw").iterdir())
    assert cached == sorted(n.removesuffix(".gz") for n in FOUR_FILES), "no temp files"


def test_truncated_file_in_the_users_folder_is_named(nb, tmp_path):
    root = write_synthetic_mnist(tmp_path / "data")
    victim = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:5000])
    with pytest.raises(nb.MnistDataError) as error:
        nb.prepare_mnist(root, download=False, cache_root=tmp_path / "cache")
    assert f"{victim} is damaged: 5000 bytes where its header promises" in str(
        error.value
    )


def test_mismatched_split_is_rejected(nb, tmp_path):
    root = write_synthetic_mnist(tmp_path / "data")
    raw = root / "MNIST" / "raw"
    (raw / "train-labels-idx1-ubyte").write_bytes(
        (raw / "t10k-labels-idx1-ubyte").read_bytes()
    )
    with pytest.raises(nb.MnistDataError, match="do not form an MNIST split"):
        nb.prepare_mnist(root, download=False, cache_root=tmp_path / "cache")


VALID = {
    "student": "Doe_Jane",
    "epochs": 10,
    "batch_size": 64,
    "hidden_units": 150,
    "seed": 0,
    "rnn_learning_rate": 1e-3,
    "gru_learning_rate": 2e-3,
    "lstm_learning_rate": 2e-3,
    "max_grad_norm": 1.0,
    "gru_update_gate_bias": 1.0,
    "lstm_forget_gate_bias": None,
    "rnn_init": "identity",
    "gru_init": "default",
    "lstm_init": "orthogonal",
    "rnn_weight_decay": 0.0,
    "gru_weight_decay": 0.1,
    "lstm_weight_decay": 0,
    "train_subset": None,
    "test_subset": None,
}


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"batch_size": -4}, "batch_size must be a positive integer"),
        ({"hidden_units": 2.5}, "hidden_units must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        (
            {"rnn_learning_rate": float("nan")},
            "rnn_learning_rate must be a positive number",
        ),
        ({"max_grad_norm": 0}, "max_grad_norm must be a positive number"),
        (
            {"lstm_weight_decay": -0.1},
            "lstm_weight_decay must be a non-negative number",
        ),
        (
            {"rnn_weight_decay": float("inf")},
            "rnn_weight_decay must be a non-negative number",
        ),
        (
            {"gru_update_gate_bias": "1"},
            "gru_update_gate_bias must be None or a finite number",
        ),
        ({"rnn_init": "xavier"}, "rnn_init must be one of"),
        ({"train_subset": 0}, "train_subset must be None"),
        ({"student": "Jane Doe"}, "student must look like Lastname_Firstname"),
    ],
)
def test_impossible_parameters_fail_before_any_work(nb, changes, fragment):
    nb.check_parameters(VALID)
    with pytest.raises(ValueError, match=fragment):
        nb.check_parameters({**VALID, **changes})


def test_subset_larger_than_the_set_is_refused(nb):
    images, labels = torch.zeros(5, 28, 28), torch.zeros(5)
    assert len(nb.take_subset(images, labels, 3, "train_subset")[0]) == 3
    with pytest.raises(ValueError, match="train_subset=6 is larger than the set"):
        nb.take_subset(images, labels, 6, "train_subset")
