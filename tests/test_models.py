"""Models, accuracy helper and train(), through the notebook's own definitions."""

import copy

import pytest
import torch
import torch.nn as nn

BATCH = 5
H = 150


@pytest.fixture()
def sequences():
    torch.manual_seed(1)
    return torch.randn(BATCH, 28, 28)


@pytest.mark.parametrize(
    "name, parameters", [("myRNN", 28_510), ("myGatedRNN", 82_510), ("myLSTM", 109_510)]
)
def test_models_build_with_no_arguments_and_return_last_step_scores(
    nb, sequences, name, parameters
):
    model = getattr(nb, name)()
    assert nb.count_parameters(model) == parameters
    assert model.rnn.hidden_size == H and model.rnn.input_size == 28
    assert model.rnn.batch_first
    assert model(sequences).shape == (BATCH, 10)


@pytest.mark.parametrize("name", ["myRNN", "myGatedRNN"])
def test_init_hidden_is_one_zero_state(nb, name):
    state = getattr(nb, name)().init_hidden(BATCH)
    assert state.shape == (1, BATCH, H) and not state.any()


def test_lstm_init_hidden_is_zero_hidden_and_cell_state(nb):
    hidden, cell = nb.myLSTM().init_hidden(BATCH)
    assert hidden.shape == cell.shape == (1, BATCH, H)
    assert not hidden.any() and not cell.any()


@pytest.mark.parametrize("name", ["myRNN", "myGatedRNN", "myLSTM"])
def test_each_class_defines_its_own_init_hidden_and_forward(nb, name):
    cls = getattr(nb, name)
    assert {"__init__", "init_hidden", "forward"} <= set(vars(cls))


@pytest.mark.parametrize("name", ["myRNN", "myGatedRNN", "myLSTM"])
def test_forward_classifies_from_the_last_hidden_state(nb, sequences, name):
    model = getattr(nb, name)()
    hidden_sequence, _ = model.rnn(sequences, model.init_hidden(BATCH))
    assert torch.allclose(model(sequences), model.fc(hidden_sequence[:, -1]))
    changed = sequences.clone()
    changed[:, 0] += 1.0  # the first row still matters at the last step
    assert not torch.allclose(model(changed), model(sequences))


@pytest.mark.parametrize("name, gates", [("myGatedRNN", 3), ("myLSTM", 4)])
def test_orthogonal_init_gives_an_orthogonal_block_per_gate(nb, name, gates):
    blocks = getattr(nb, name)(recurrent_init="orthogonal").rnn.weight_hh_l0.detach()
    assert len(blocks.split(H)) == gates
    for block in blocks.split(H):
        assert torch.allclose(block @ block.T, torch.eye(H), atol=1e-4)
        assert not torch.equal(block, torch.eye(H))


@pytest.mark.parametrize("unit", ["RNN", "ElmanRNN"])
def test_identity_init_sets_the_recurrent_weights_to_the_identity(nb, unit):
    model = nb.myRNN(
        recurrent_init="identity",
        unit=nb.ElmanRNN if unit == "ElmanRNN" else torch.nn.RNN,
    )
    assert torch.equal(model.rnn.weight_hh_l0.detach(), torch.eye(H))


def test_default_init_keeps_pytorchs_uniform_weights(nb):
    torch.manual_seed(3)
    model = nb.myRNN(recurrent_init="default")
    torch.manual_seed(3)
    reference = nn.RNN(28, H, batch_first=True)
    assert torch.equal(model.rnn.weight_hh_l0, reference.weight_hh_l0)


def test_each_model_takes_its_defaults_from_the_parameters(nb):
    assert torch.equal(nb.myRNN().rnn.weight_hh_l0.detach(), torch.eye(H)) == (
        nb.rnn_init == "identity"
    )
    gru = nb.myGatedRNN().rnn
    z_bias = (gru.bias_ih_l0 + gru.bias_hh_l0).detach().split(H)[1]
    assert torch.equal(z_bias, torch.full((H,), nb.gru_update_gate_bias))


@pytest.mark.parametrize(
    "name, argument, gate",
    [
        ("myGatedRNN", "update_gate_bias", "update gate z"),
        ("myLSTM", "forget_gate_bias", "forget gate f"),
    ],
)
def test_remember_gate_bias_is_set_on_block_one_only(nb, name, argument, gate):
    rnn = getattr(nb, name)(**{argument: 1.0}).rnn
    total = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().split(H)
    assert torch.equal(total[1], torch.ones(H)), f"the {gate} (block 1) starts at 1"
    others = [block for index, block in enumerate(total) if index != 1]
    assert all(block.abs().max() <= 2 / H**0.5 for block in others)
    kept = getattr(nb, name)(**{argument: None}).rnn
    assert kept.bias_ih_l0.detach().split(H)[1].abs().max() <= 1 / H**0.5


def test_accuracy_and_error_on_a_hand_made_batch(nb):
    scores = torch.tensor(
        [[0.1, 2.0, 0.3], [1.5, 0.2, 0.1], [0.0, 0.1, 3.0], [0.9, 0.8, 0.0]]
    )
    assert nb.accuracy(scores, torch.tensor([1, 0, 1, 1])) == 0.5
    assert nb.batch_error(scores, torch.tensor([1, 0, 1, 1])) == 0.5
    assert nb.accuracy(scores, torch.tensor([1, 0, 2, 0])) == 1.0
    assert nb.batch_error(scores, torch.tensor([0, 1, 0, 1])) == 1.0


def test_scratch_unit_matches_nn_rnn_in_outputs_and_gradients(nb, sequences):
    differences = nb.compare_with_nn_rnn(sequences, torch.randn(1, BATCH, H))
    assert set(differences) == {
        "outputs",
        "grad input",
        "grad weight_ih_l0",
        "grad weight_hh_l0",
        "grad bias_ih_l0",
        "grad bias_hh_l0",
    }
    assert max(differences.values()) <= 1e-10


def test_scratch_unit_returns_what_nn_rnn_returns(nb, sequences):
    sequence, last = nb.ElmanRNN(28, H)(sequences)
    assert sequence.shape == (BATCH, 28, H) and last.shape == (1, BATCH, H)
    assert torch.equal(sequence[:, -1], last[0])
    with pytest.raises(ValueError, match="batch_first=True only"):
        nb.ElmanRNN(28, H, batch_first=False)


def tiny_data(seed=0, count=96):
    torch.manual_seed(seed)
    labels = torch.arange(count) % 3
    sequences = torch.randn(count, 28, 28) * 0.1
    sequences[torch.arange(count), 20 + 3 * labels] += 2.0  # the class is in one row
    return {"train": (sequences, labels), "test": (sequences, labels)}


def fit(nb, model, epochs, data=None, loss_fn=None, **options):
    settings = {
        "lr": 5e-3,
        "max_grad_norm": 1.0,
        "seed": 0,
        "batch_size": 16,
        **options,
    }
    return nb.train(
        model, loss_fn or nn.CrossEntropyLoss(), epochs, data or tiny_data(), **settings
    )


@pytest.mark.parametrize("name", ["myRNN", "myGatedRNN", "myLSTM", "FlatFNN"])
def test_train_lowers_the_loss_and_records_every_epoch(nb, name, capsys):
    torch.manual_seed(0)
    model = getattr(nb, name)()
    history = fit(nb, model, 4, name=name)
    assert set(history) == {
        "train_loss",
        "train_accuracy",
        "test_accuracy",
        "seconds_per_epoch",
    }
    assert all(len(values) == 4 for values in history.values())
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["test_accuracy"][-1] > 0.9
    assert model.history is history
    assert capsys.readouterr().out.count(f"{name} epoch") == 4


def test_train_prints_nothing_when_not_verbose(nb, capsys):
    fit(nb, nb.FlatFNN(), 1, verbose=False)
    assert capsys.readouterr().out == ""


def test_the_same_seed_gives_every_model_the_same_batches(nb):
    seen = []

    def recording_loss(scores, labels):
        seen[-1].append(labels.clone())
        return nn.functional.cross_entropy(scores, labels % 3)

    data = tiny_data()
    data["train"] = (data["train"][0], torch.arange(96))  # labels name the images
    for model in (nb.FlatFNN(), nb.myRNN()):
        seen.append([])
        fit(nb, model, 2, data, recording_loss, lr=1e-9)
    assert [b.tolist() for b in seen[0]] == [b.tolist() for b in seen[1]]
    first_epoch = torch.cat(seen[0][:6])
    assert sorted(first_epoch.tolist()) == list(range(96))
    assert first_epoch.tolist() != list(range(96)), "shuffled"
    assert not torch.equal(first_epoch, torch.cat(seen[0][6:])), "a new order per epoch"


def test_training_is_reproducible_with_a_seed(nb):
    histories = []
    for _ in range(2):
        torch.manual_seed(0)
        history = fit(nb, nb.myRNN(), 2, lr=1e-2)
        histories.append({k: v for k, v in history.items() if k != "seconds_per_epoch"})
    assert histories[0] == histories[1]


def test_weight_decay_shrinks_the_weights_and_zero_decay_is_plain_adam(nb):
    torch.manual_seed(0)
    start = nb.myRNN(hidden_size=8)
    norms = {}
    for decay in (0.0, 10.0):
        model = copy.deepcopy(start)
        fit(nb, model, 2, weight_decay=decay, verbose=False)
        norms[decay] = torch.cat([p.flatten() for p in model.parameters()]).norm()
    assert norms[10.0] < 0.9 * norms[0.0]
    # AdamW with no decay takes Adam's steps exactly: earlier sweep runs stay valid
    adam_model, adamw_model = copy.deepcopy(start), copy.deepcopy(start)
    adam = torch.optim.Adam(adam_model.parameters(), lr=1e-2)
    adamw = torch.optim.AdamW(adamw_model.parameters(), lr=1e-2, weight_decay=0.0)
    x = tiny_data()["train"][0][:16]
    for model, optimizer in ((adam_model, adam), (adamw_model, adamw)):
        for _ in range(3):
            optimizer.zero_grad()
            model(x).square().sum().backward()
            optimizer.step()
    assert all(
        torch.equal(a, b)
        for a, b in zip(adam_model.parameters(), adamw_model.parameters(), strict=True)
    )


def test_nan_loss_stops_training_with_a_clear_message(nb):
    poisoned = nb.myRNN()
    with torch.no_grad():
        poisoned.fc.bias.fill_(float("nan"))
    with pytest.raises(
        nb.TrainingDiverged, match="the loss became nan in epoch 1; training stopped"
    ):
        fit(nb, poisoned, 3, name="poisoned")
    assert poisoned.history["train_loss"] == []


def test_interrupt_keeps_the_finished_epochs_and_propagates(nb, capsys):
    calls = {"count": 0}

    def interrupted_in_epoch_two(scores, labels):
        calls["count"] += 1
        if calls["count"] > 6 + 2:  # 6 batches per epoch
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(scores, labels)

    model = nb.myRNN()
    with pytest.raises(KeyboardInterrupt):
        fit(nb, model, 5, loss_fn=interrupted_in_epoch_two, name="stopped")
    assert len(model.history["test_accuracy"]) == len(model.history["train_loss"]) == 1
    assert "stopped: stopped; 1 finished epoch(s) are kept" in capsys.readouterr().out


def test_train_refuses_impossible_epochs(nb):
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit(nb, nb.myRNN(), 0)


@pytest.mark.parametrize("read, expected_rows", [("last", [27]), ("mean", range(28))])
def test_row_fnn_sees_only_the_rows_it_should(nb, sequences, read, expected_rows):
    model = nb.RowFNN(read)
    for row in range(28):
        changed = sequences.clone()
        changed[:, row] += 1.0
        moved = not torch.allclose(model(changed), model(sequences))
        assert moved == (row in expected_rows)


def test_readout_by_step_ends_at_the_model_accuracy(nb):
    torch.manual_seed(0)
    model = nb.myRNN()
    fit(nb, model, 2, lr=1e-2)
    loader = nb.make_loader(*tiny_data()["test"], 96)
    by_step = nb.accuracy_by_step(model, loader)
    assert len(by_step) == 28 and by_step[-1] == pytest.approx(
        nb.evaluate(model, loader)
    )
    assert by_step[2] < 0.6, "before the class row is read (t < 21) it is near chance"


def test_probes_find_the_class_only_once_its_row_has_been_read(nb):
    torch.manual_seed(0)
    model = nb.myRNN()
    fit(nb, model, 3)
    fresh = nb.make_loader(*tiny_data(seed=1, count=600)["train"], 600)
    test_loader = nb.make_loader(*tiny_data()["test"], 96)
    probed = nb.probe_accuracy_by_step(model, fresh, test_loader, steps=100)
    assert len(probed) == 28
    assert max(probed[:20]) < 0.6, "before row 21 no probe can know the class"
    assert probed[-1] == 1.0, "after the last class row a linear probe separates them"


@pytest.mark.parametrize(
    "name, cell", [("myGatedRNN", nn.GRUCell), ("myLSTM", nn.LSTMCell)]
)
def test_gate_by_step_recomputes_the_units_own_gate(nb, sequences, name, cell):
    model = getattr(nb, name)()
    step = cell(28, H)
    step.load_state_dict(
        {
            key.removesuffix("_l0"): value
            for key, value in model.rnn.state_dict().items()
        }
    )
    block = slice(H, 2 * H)  # GRU (r, z, n) and LSTM (i, f, g, o): gate 1
    state = (torch.zeros(BATCH, H),) * (2 if cell is nn.LSTMCell else 1)
    expected = []
    for t in range(28):
        x = sequences[:, t]
        h = state[0]
        logits = (
            x @ step.weight_ih[block].T
            + step.bias_ih[block]
            + h @ step.weight_hh[block].T
            + step.bias_hh[block]
        )
        expected.append(torch.sigmoid(logits).mean().item())
        state = step(x, state if len(state) == 2 else h)
        state = state if isinstance(state, tuple) else (state,)
    assert nb.gate_by_step(model, sequences, gate=1) == pytest.approx(
        expected, abs=1e-5
    )


def test_input_gradient_norms_see_the_rows_the_loss_depends_on(nb, sequences):
    model = nb.RowFNN("last")
    norms = nb.input_gradient_norms(model, sequences, torch.zeros(BATCH, dtype=int))
    assert len(norms) == 28 and norms[-1] > 0 and not any(norms[:-1])


def test_reach_ratio_names_a_gradient_that_never_arrives(nb):
    assert nb.reach_ratio([0.0] * 27 + [1.0]).startswith("∞")
    assert nb.reach_ratio([2.0] * 27 + [5.0]) == "2.5"


@pytest.mark.parametrize(
    "a, b, verdict",
    [
        ([0.97, 0.98], [0.95, 0.96], "ahead beyond the seed noise"),
        ([0.95, 0.96], [0.97, 0.98], "behind beyond the seed noise"),
        ([0.95, 0.97], [0.96, 0.98], "within the seed noise"),
        (None, [0.96, 0.98], "no ranking is claimed"),
    ],
)
def test_a_ranking_needs_seed_ranges_that_do_not_overlap(nb, a, b, verdict):
    assert verdict in nb.versus(a, b)


def test_table_columns_are_shared_by_their_widest_cell(nb, monkeypatch):
    shown = []
    monkeypatch.setattr(nb, "display", lambda markdown: shown.append(markdown.data))
    nb.show_table(["unit", "all seeds"], [["GRU", "99.09, 99.13, 99.23"], ["RNN", 1]])
    assert shown[0].splitlines() == [
        "| unit | all seeds |",
        "|----|-------------------|",
        "| GRU | 99.09, 99.13, 99.23 |",
        "| RNN | 1 |",
    ]


def test_a_seed_band_needs_the_sweeps_protocol(nb, monkeypatch):
    protocol = {
        "train_size": 55_000,
        "validation_size": 5_000,
        "epochs": 10,
        "batch_size": nb.batch_size,
        "hidden_units": nb.hidden_units,
        "max_grad_norm": nb.max_grad_norm,
    }
    full = {"train_size": 60_000, "test_size": 10_000, "epochs": 10}
    monkeypatch.setattr(nb, "run", {"run": full}, raising=False)
    assert nb.same_protocol({"protocol": protocol})
    assert nb.same_protocol({}), "a sweep file without a protocol is taken as is"
    for change in [{"train_size": 2_000}, {"test_size": 500}, {"epochs": 2}]:
        monkeypatch.setattr(nb, "run", {"run": {**full, **change}})
        assert not nb.same_protocol({"protocol": protocol}), change
        assert nb.seed_band({"protocol": protocol, "test": []}, "rnn") is None
    monkeypatch.setattr(nb, "run", {"run": full})
    monkeypatch.setattr(nb, "batch_size", 2 * nb.batch_size)
    assert not nb.same_protocol({"protocol": protocol})
