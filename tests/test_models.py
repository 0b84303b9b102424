"""Models, accuracy helper and train(), through the notebook's own definitions."""

import pytest
import torch
import torch.nn as nn

BATCH = 5


@pytest.fixture()
def sequences():
    torch.manual_seed(1)
    return torch.randn(BATCH, 28, 28)


@pytest.mark.parametrize("name, parameters", [("myRNN", 28_510), ("myGatedRNN", 82_510), ("myLSTM", 109_510)])
def test_models_build_with_no_arguments_and_return_last_step_scores(nb, sequences, name, parameters):
    model = nb[name]()
    assert nb["count_parameters"](model) == parameters
    assert model.rnn.hidden_size == 150 and model.rnn.input_size == 28 and model.rnn.batch_first
    assert model(sequences).shape == (BATCH, 10)


@pytest.mark.parametrize("name", ["myRNN", "myGatedRNN"])
def test_init_hidden_is_one_zero_state(nb, name):
    state = nb[name]().init_hidden(BATCH)
    assert state.shape == (1, BATCH, 150) and not state.any()


def test_lstm_init_hidden_is_zero_hidden_and_cell_state(nb):
    hidden, cell = nb["myLSTM"]().init_hidden(BATCH)
    assert hidden.shape == cell.shape == (1, BATCH, 150) and not hidden.any() and not cell.any()


@pytest.mark.parametrize("name", ["myRNN", "myGatedRNN", "myLSTM"])
def test_forward_classifies_from_the_last_hidden_state(nb, sequences, name):
    model = nb[name]()
    hidden_sequence, _ = model.rnn(sequences, model.init_hidden(BATCH))
    assert torch.allclose(model(sequences), model.fc(hidden_sequence[:, -1]))
    changed = sequences.clone()
    changed[:, 0] += 1.0  # the first row still matters at the last step: the state carries it
    assert not torch.allclose(model(changed), model(sequences))


@pytest.mark.parametrize("name, gates", [("myGatedRNN", 3), ("myLSTM", 4)])
def test_gated_units_start_with_an_orthogonal_block_per_gate(nb, name, gates):
    blocks = nb[name]().rnn.weight_hh_l0.detach().split(150)
    assert len(blocks) == gates
    for block in blocks:
        assert torch.allclose(block @ block.T, torch.eye(150), atol=1e-4) and not torch.equal(block, torch.eye(150))


@pytest.mark.parametrize("unit", ["RNN", "ElmanRNN"])
def test_vanilla_unit_starts_with_identity_recurrent_weights(nb, unit):
    model = nb["myRNN"](unit=nb[unit] if unit == "ElmanRNN" else torch.nn.RNN)
    assert torch.equal(model.rnn.weight_hh_l0.detach(), torch.eye(150))


def test_accuracy_and_error_on_a_hand_made_batch(nb):
    scores = torch.tensor([[0.1, 2.0, 0.3], [1.5, 0.2, 0.1], [0.0, 0.1, 3.0], [0.9, 0.8, 0.0]])
    labels = torch.tensor([1, 0, 1, 1])
    assert nb["accuracy"](scores, labels) == 0.5
    assert nb["batch_error"](scores, labels) == 0.5
    assert nb["accuracy"](scores, torch.tensor([1, 0, 2, 0])) == 1.0
    assert nb["batch_error"](scores, torch.tensor([0, 1, 0, 1])) == 1.0


def test_scratch_unit_matches_nn_rnn_in_outputs_and_gradients(nb, sequences):
    differences = nb["compare_with_nn_rnn"](sequences, torch.randn(1, BATCH, 150))
    assert set(differences) == {"hidden sequence and last state", "gradient wrt input", "gradient wrt weight_ih_l0",
                                "gradient wrt weight_hh_l0", "gradient wrt bias_ih_l0", "gradient wrt bias_hh_l0"}
    assert max(differences.values()) <= 1e-10


def test_scratch_unit_returns_what_nn_rnn_returns(nb, sequences):
    sequence, last = nb["ElmanRNN"](28, 150)(sequences)
    assert sequence.shape == (BATCH, 28, 150) and last.shape == (1, BATCH, 150)
    assert torch.equal(sequence[:, -1], last[0])
    with pytest.raises(ValueError, match="batch_first=True only"):
        nb["ElmanRNN"](28, 150, batch_first=False)


def test_scratch_model_starts_from_the_same_weights_as_nn_rnn(nb, sequences):
    torch.manual_seed(0)
    reference = nb["myRNN"]()
    torch.manual_seed(0)
    scratch = nb["myRNN"](unit=nb["ElmanRNN"])
    for (name, a), (other, b) in zip(reference.named_parameters(), scratch.named_parameters(), strict=True):
        assert name == other and torch.equal(a, b)
    assert torch.allclose(reference(sequences), scratch(sequences), atol=1e-5)


def tiny_loaders(nb, seed=0, count=96):
    torch.manual_seed(seed)
    labels = torch.arange(count) % 3
    sequences = torch.randn(count, 28, 28) * 0.1
    sequences[torch.arange(count), 20 + 3 * labels] += 2.0  # the class is written in one row (20, 23 or 26)
    loader = nb["make_loader"](sequences, labels, batch_size=16, shuffle=True)
    return loader, nb["make_loader"](sequences, labels, batch_size=count, shuffle=False)


@pytest.mark.parametrize("name", ["myRNN", "myGatedRNN", "myLSTM", "FlatFNN"])
def test_train_lowers_the_loss_and_records_every_epoch(nb, name, capsys):
    train_loader, test_loader = tiny_loaders(nb)
    torch.manual_seed(0)
    history = nb["train"](nb[name](), nn.CrossEntropyLoss(), 4, train_loader, test_loader, lr=5e-3, name=name)
    assert set(history) == {"train_loss", "train_accuracy", "test_accuracy", "seconds_per_epoch"}
    assert all(len(values) == 4 for values in history.values())
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["test_accuracy"][-1] > 0.9
    assert capsys.readouterr().out.count(f"{name} epoch") == 4


def test_training_is_reproducible_with_a_seed(nb):
    histories = []
    for _ in range(2):
        train_loader, test_loader = tiny_loaders(nb)
        torch.manual_seed(0)
        history = nb["train"](nb["myRNN"](), nn.CrossEntropyLoss(), 2, train_loader, test_loader, lr=1e-2)
        histories.append({k: v for k, v in history.items() if k != "seconds_per_epoch"})
    assert histories[0] == histories[1]


def test_nan_loss_stops_training_with_a_clear_message(nb):
    train_loader, test_loader = tiny_loaders(nb)
    poisoned = nb["myRNN"]()
    with torch.no_grad():
        poisoned.fc.bias.fill_(float("nan"))
    with pytest.raises(nb["TrainingDiverged"], match="the loss became nan in epoch 1; training stopped") as error:
        nb["train"](poisoned, nn.CrossEntropyLoss(), 3, train_loader, test_loader, name="poisoned")
    assert error.value.history["train_loss"] == []


def test_interrupt_keeps_the_finished_epochs(nb, capsys):
    train_loader, test_loader = tiny_loaders(nb)
    calls = {"count": 0}
    per_epoch = len(train_loader)

    def interrupted_in_epoch_two(scores, labels):
        calls["count"] += 1
        if calls["count"] > per_epoch + 2:
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(scores, labels)

    model = nb["myRNN"]()
    history = nb["train"](model, interrupted_in_epoch_two, 5, train_loader, test_loader, lr=1e-2, name="stopped")
    assert len(history["test_accuracy"]) == 1 and len(history["train_loss"]) == 1
    assert "interrupted; the model and the history of 1 finished epoch(s) are kept" in capsys.readouterr().out


def test_train_refuses_impossible_epochs(nb):
    train_loader, test_loader = tiny_loaders(nb)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        nb["train"](nb["myRNN"](), nn.CrossEntropyLoss(), 0, train_loader, test_loader)


@pytest.mark.parametrize("read, expected_rows", [("last", [27]), ("mean", list(range(28)))])
def test_row_fnn_sees_only_the_rows_it_should(nb, sequences, read, expected_rows):
    model = nb["RowFNN"](read)
    for row in range(28):
        changed = sequences.clone()
        changed[:, row] += 1.0
        assert (not torch.allclose(model(changed), model(sequences))) == (row in expected_rows)


def test_readout_by_step_ends_at_the_model_accuracy(nb):
    train_loader, test_loader = tiny_loaders(nb)
    torch.manual_seed(0)
    model = nb["myRNN"]()
    nb["train"](model, nn.CrossEntropyLoss(), 2, train_loader, test_loader, lr=1e-2)
    by_step = nb["accuracy_by_step"](model, test_loader)
    assert len(by_step) == 28 and by_step[-1] == pytest.approx(nb["evaluate"](model, test_loader))
    assert by_step[2] < 0.6, "before the class row is read (t < 21) the read-out is near chance"


@pytest.mark.parametrize("name, gate", [("myGatedRNN", "update gate z"), ("myLSTM", "forget gate f")])
def test_remember_gate_starts_with_total_bias_one(nb, name, gate):
    rnn = nb[name]().rnn
    total = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().split(150)
    assert torch.equal(total[1], torch.ones(150)), f"the {gate} (block 1) starts at bias 1"
    assert all(block.abs().max() <= 1 / 150**0.5 * 2 for index, block in enumerate(total) if index != 1)


def test_probes_find_the_class_only_once_its_row_has_been_read(nb):
    train_loader, test_loader = tiny_loaders(nb)
    torch.manual_seed(0)
    model = nb["myRNN"]()
    nb["train"](model, nn.CrossEntropyLoss(), 3, train_loader, test_loader, lr=5e-3)
    _, fresh_images = tiny_loaders(nb, seed=1, count=600)  # probes are fitted on other images than they are tested on
    probed = nb["probe_accuracy_by_step"](model, fresh_images, test_loader, steps=100)
    assert len(probed) == 28
    assert max(probed[:20]) < 0.6, "before row 21 no probe can know the class"
    assert probed[-1] == 1.0, "after the last class row (26) a linear probe separates the classes"
