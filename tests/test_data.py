"""Item 1 and the foundation's error paths, through the notebook's own loader."""

import pytest
import torch
import torchvision
from conftest import QUICK_TEST, QUICK_TRAIN, write_synthetic_mnist

FOUR_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_loads_idx_files_into_tensors(nb, synthetic_root, tmp_path):
    splits = nb["load_mnist"](synthetic_root, download=False, cache_root=tmp_path)
    images, labels = splits["train"]
    assert images.shape == (QUICK_TRAIN, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (QUICK_TRAIN,) and labels.dtype == torch.int64 and 0 <= labels.min() <= labels.max() <= 9
    assert splits["test"][0].shape == (QUICK_TEST, 28, 28)
    assert not any(tmp_path.iterdir()), "extracted files are read in place, nothing is cached"


def test_sequences_are_normalised_rows(nb):
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[1] = 255
    sequences = nb["to_sequences"](images)
    assert sequences.shape == (2, 28, 28) and sequences.dtype == torch.float32
    assert torch.allclose(sequences[0], torch.full((28, 28), -0.1307 / 0.3081))
    assert torch.allclose(sequences[1], torch.full((28, 28), (1 - 0.1307) / 0.3081))


def test_loader_batches_whole_tensors_and_covers_every_image_once(nb):
    sequences, labels = torch.arange(10.0).view(10, 1, 1).expand(10, 28, 28), torch.arange(10)
    batches = list(nb["make_loader"](sequences, labels, batch_size=4, shuffle=True, seed=3))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert batches[0][0].shape == (4, 28, 28)
    seen = torch.cat([y for _, y in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    again = torch.cat([y for _, y in nb["make_loader"](sequences, labels, 4, shuffle=True, seed=3)])
    assert torch.equal(seen, again), "the same seed gives the same order"


def test_missing_data_without_download_names_the_files_and_the_fix(nb, tmp_path):
    with pytest.raises(nb["MnistDataError"]) as error:
        nb["load_mnist"](tmp_path / "empty", download=False, cache_root=tmp_path / "cache")
    message = str(error.value)
    assert all(name in message for name in FOUR_FILES)
    assert "MNIST_ROOT" in message and str(tmp_path / "empty" / "MNIST" / "raw") in message


def test_failed_download_gives_the_same_short_message(nb, tmp_path, monkeypatch):
    # A mirror on a closed loopback port: torchvision's real download path fails at once, offline.
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(nb["MnistDataError"]) as error:
        nb["load_mnist"](tmp_path / "empty", download=True, cache_root=tmp_path / "cache")
    assert "downloading it failed" in str(error.value) and "MNIST_ROOT" in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_corrupt_archive_is_detected_by_checksum(nb, tmp_path):
    root = write_synthetic_mnist(tmp_path / "gz", compress=True)  # valid gzip, but not the official bytes
    with pytest.raises(nb["MnistDataError"]) as error:
        nb["load_mnist"](root, download=False, cache_root=tmp_path / "cache")
    assert "train-images-idx3-ubyte.gz is corrupt or truncated" in str(error.value)
    assert not (tmp_path / "cache" / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()


def test_verified_archives_are_extracted_into_the_cache(nb, tmp_path, monkeypatch):
    root = write_synthetic_mnist(tmp_path / "gz", compress=True)
    monkeypatch.setitem(nb, "check_integrity", lambda path, md5: True)  # accept the synthetic archives
    splits = nb["load_mnist"](root, download=False, cache_root=tmp_path / "cache")
    assert splits["train"][0].shape == (QUICK_TRAIN, 28, 28)
    cached = sorted(p.name for p in (tmp_path / "cache" / "MNIST" / "raw").iterdir())
    assert cached == sorted(name.removesuffix(".gz") for name in FOUR_FILES), "no temporary files left"


def test_truncated_file_is_named(nb, tmp_path):
    root = write_synthetic_mnist(tmp_path / "data")
    victim = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:5000])
    with pytest.raises(nb["MnistDataError"]) as error:
        nb["load_mnist"](root, download=False, cache_root=tmp_path / "cache")
    assert f"{victim} is corrupt or truncated" in str(error.value)


def test_mismatched_split_is_rejected(nb, tmp_path):
    root = write_synthetic_mnist(tmp_path / "data")
    raw = root / "MNIST" / "raw"
    (raw / "train-labels-idx1-ubyte").write_bytes((raw / "t10k-labels-idx1-ubyte").read_bytes())
    with pytest.raises(nb["MnistDataError"], match="do not form an MNIST split"):
        nb["load_mnist"](root, download=False, cache_root=tmp_path / "cache")


@pytest.mark.parametrize("changes, fragment", [
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"batch_size": -4}, "batch_size must be a positive integer"),
    ({"learning_rate": float("nan")}, "learning_rate must be a positive number"),
    ({"gated_learning_rate": 0}, "gated_learning_rate must be a positive number"),
    ({"train_subset": 0}, "train_subset must be None"),
])
def test_impossible_parameters_fail_before_any_work(nb, changes, fragment):
    parameters = {"epochs": 10, "batch_size": 128, "hidden_units": 150, "learning_rate": 1e-3,
                  "gated_learning_rate": 2e-3, "max_grad_norm": 1.0, "train_subset": None, "test_subset": None,
                  **changes}
    with pytest.raises(ValueError, match=fragment):
        nb["check_parameters"](**parameters)


def test_subset_larger_than_the_set_is_refused(nb):
    images, labels = torch.zeros(5, 28, 28), torch.zeros(5)
    assert len(nb["take_subset"](images, labels, 3, "train_subset")[0]) == 3
    with pytest.raises(ValueError, match="train_subset=6 is larger than the set it is taken from"):
        nb["take_subset"](images, labels, 6, "train_subset")
