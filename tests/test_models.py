"""Models, accuracy helper, train() and the measurements, through the notebook's own
definitions. Models and tensors go to the notebook's DEVICE, as in the notebook."""

import builtins
import copy
import inspect
import math
import re
import symtable

import nbformat
import pytest
import torch
import torch.nn as nn
from conftest import NOTEBOOK

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
    model = getattr(nb, name)().to(nb.DEVICE)
    assert nb.count_parameters(model) == parameters
    assert model.rnn.hidden_size == H and model.rnn.input_size == 28
    assert model.rnn.batch_first
    assert model(sequences.to(nb.DEVICE)).shape == (BATCH, 10)


@pytest.mark.parametrize(
    "name, unit", [("myRNN", "rnn"), ("myGatedRNN", "gru"), ("myLSTM", "lstm")]
)
def test_each_model_keeps_its_units_setting(nb, name, unit):
    assert getattr(nb, name)().setting == nb.settings[unit]


@pytest.mark.parametrize("name", ["myRNN", "myGatedRNN"])
def test_init_hidden_is_one_zero_state(nb, name):
    state = getattr(nb, name)().to(nb.DEVICE).init_hidden(BATCH)
    assert state.shape == (1, BATCH, H) and not state.any()
    assert state.device.type == nb.DEVICE.type


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
    setting = {"init": "orthogonal", "gate_bias": None, "lr": 1e-3}
    blocks = getattr(nb, name)(setting).rnn.weight_hh_l0.detach()
    assert len(blocks.split(H)) == gates
    for block in blocks.split(H):
        assert torch.allclose(block @ block.T, torch.eye(H), atol=1e-4)
        assert not torch.equal(block, torch.eye(H))


@pytest.mark.parametrize("unit", ["RNN", "ElmanRNN"])
def test_identity_init_sets_the_recurrent_weights_to_the_identity(nb, unit):
    model = nb.myRNN(
        {"init": "identity", "lr": 1e-3},
        unit=nb.ElmanRNN if unit == "ElmanRNN" else torch.nn.RNN,
    )
    assert torch.equal(model.rnn.weight_hh_l0.detach(), torch.eye(H))


def test_default_init_keeps_pytorchs_uniform_weights(nb):
    torch.manual_seed(3)
    model = nb.myRNN({"init": "default", "lr": 1e-3})
    torch.manual_seed(3)
    reference = nn.RNN(28, H, batch_first=True)
    assert torch.equal(model.rnn.weight_hh_l0, reference.weight_hh_l0)


def test_scratch_model_starts_from_the_same_weights_with_the_same_seed(nb):
    reference, scratch = (
        nb.seeded(nb.myRNN),
        nb.seeded(lambda: nb.myRNN(unit=nb.ElmanRNN)),
    )
    assert reference.state_dict().keys() == scratch.state_dict().keys()
    assert all(
        torch.equal(reference.state_dict()[key], value)
        for key, value in scratch.state_dict().items()
    )


@pytest.mark.parametrize(
    "name, gate", [("myGatedRNN", "update gate z"), ("myLSTM", "forget gate f")]
)
def test_remember_gate_bias_is_set_on_block_one_only(nb, name, gate):
    setting = {"init": "orthogonal", "gate_bias": 1.0, "lr": 1e-3}
    rnn = getattr(nb, name)(setting).rnn
    total = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().split(H)
    assert torch.equal(total[1], torch.ones(H)), f"the {gate} (block 1) starts at 1"
    others = [block for index, block in enumerate(total) if index != 1]
    assert all(block.abs().max() <= 2 / H**0.5 for block in others)
    kept = getattr(nb, name)({**setting, "gate_bias": None}).rnn
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


def tiny_loaders(nb, seed=0, count=96, batch=16):
    torch.manual_seed(seed)
    labels = torch.arange(count) % 3
    sequences = torch.randn(count, 28, 28) * 0.1
    sequences[torch.arange(count), 20 + 3 * labels] += 2.0  # the class is in one row
    return (
        nb.make_loader(sequences, labels, batch, shuffle=True),
        nb.make_loader(sequences, labels, batch, shuffle=False),
    )


def fit(nb, model, epochs, loaders=None, loss_fn=None, **options):
    return nb.train(
        model,
        loss_fn or nn.CrossEntropyLoss(),
        epochs,
        loaders=loaders or tiny_loaders(nb),
        **{"lr": 5e-3, "shuffle_seed": 0, "progress": False, **options},
    )


@pytest.mark.parametrize("name", ["myRNN", "myGatedRNN", "myLSTM", "flat_fnn"])
def test_train_lowers_the_loss_and_records_every_epoch(nb, name, capsys):
    torch.manual_seed(0)
    model = getattr(nb, name)()
    history = fit(nb, model, 4)
    assert set(history) == {
        "train_loss",
        "train_accuracy",
        "test_accuracy",
        "seconds_per_epoch",
        "clipped",
    }
    assert all(len(values) == 4 for values in history.values())
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["test_accuracy"][-1] > 0.9
    assert model.history is history
    printed = capsys.readouterr().out
    label = type(model).__name__
    assert len(re.findall(rf"^{label} +\d/4: loss", printed, flags=re.M)) == 4
    assert "seconds per epoch: median" in printed


def test_train_takes_the_models_own_setting(nb, monkeypatch):
    seen = {}

    class Recording(torch.optim.AdamW):
        def __init__(self, parameters, lr, weight_decay):
            seen.update(lr=lr, weight_decay=weight_decay)
            super().__init__(parameters, lr=lr, weight_decay=weight_decay)

    monkeypatch.setattr(torch.optim, "AdamW", Recording)
    model = nb.myLSTM(
        {"init": "default", "gate_bias": None, "lr": 3e-3, "weight_decay": 0.2}
    )
    nb.train(model, nn.CrossEntropyLoss(), 1, loaders=tiny_loaders(nb), verbose=False)
    assert seen == {"lr": 3e-3, "weight_decay": 0.2}
    nb.train(
        model,
        nn.CrossEntropyLoss(),
        1,
        loaders=tiny_loaders(nb),
        lr=1e-3,
        weight_decay=0,
        verbose=False,
    )
    assert seen == {"lr": 1e-3, "weight_decay": 0}, "keywords override the setting"


def train_after_item_1(nb, loaders):
    """train() as the notebook defines it, after item 1 made `loaders`."""
    source = next(
        cell.source
        for cell in nbformat.read(NOTEBOOK, as_version=4).cells
        if cell.source.startswith("def train(")
    )
    namespace = dict(vars(nb), train_loader=loaders[0], test_loader=loaders[1])
    exec(source, namespace)
    return namespace["train"]


def test_train_with_the_assignments_three_arguments_uses_item_1s_loaders(nb):
    train = train_after_item_1(nb, tiny_loaders(nb))
    torch.manual_seed(0)
    model = nb.myRNN()
    history = train(model, nn.CrossEntropyLoss(), 2)
    assert len(history["test_accuracy"]) == 2
    assert next(model.parameters()).device.type == nb.DEVICE.type
    # the same as passing the loaders and run options by hand
    torch.manual_seed(0)
    again = nb.myRNN()
    by_hand = nb.train(
        again,
        nn.CrossEntropyLoss(),
        2,
        loaders=tiny_loaders(nb),
        clip_norm=nb.max_grad_norm,
        shuffle_seed=nb.seed,
        progress=nb.progress,
    )
    del history["seconds_per_epoch"], by_hand["seconds_per_epoch"]
    assert history == by_hand


def test_train_without_item_1s_loaders_says_so(nb):
    with pytest.raises(ValueError, match="loaders=.*run item 1 first"):
        nb.train(nb.myRNN(), nn.CrossEntropyLoss(), 1)


def uses_of_module_names(function_name, source):
    """The module-level names a function defined in `source` reads (symtable)."""
    table = symtable.symtable(source, "<cell>", "exec")
    found = [table]
    while found and found[0].get_name() != function_name:
        found = found[1:] + found[0].get_children()
    assert found, function_name
    return set(found[0].get_globals())


@pytest.mark.parametrize("function_name", ["train", "check"])
def test_train_and_check_read_no_hidden_global(nb, function_name):
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    source = next(
        cell.source
        for cell in cells
        if f"def {function_name}(" in cell.source and cell.cell_type == "code"
    )
    for name in uses_of_module_names(function_name, source):
        if hasattr(builtins, name):
            continue
        value = getattr(nb, name)
        visible = inspect.ismodule(value) or inspect.isclass(value)
        visible = visible or inspect.isfunction(value) or name.isupper()
        assert visible, f"{function_name} reads the global {name}"


def test_train_prints_nothing_when_not_verbose(nb, capsys):
    fit(nb, nb.flat_fnn(), 1, verbose=False)
    assert capsys.readouterr().out == ""


def test_the_same_seed_gives_every_model_the_same_batches(nb):
    seen = []

    def recording_loss(scores, labels):
        seen[-1].append(labels.clone().cpu())
        return nn.functional.cross_entropy(scores, labels % 3)

    torch.manual_seed(0)
    sequences = torch.randn(96, 28, 28)
    labels = torch.arange(96)  # the labels name the images
    loaders = (
        nb.make_loader(sequences, labels, 16, shuffle=True),
        nb.make_loader(sequences, labels % 3, 16, shuffle=False),
    )
    for model in (nb.flat_fnn(), nb.myRNN()):
        seen.append([])
        torch.manual_seed(123)  # what happened before train() does not matter
        fit(nb, model, 2, loaders, recording_loss, lr=1e-9)
    assert [b.tolist() for b in seen[0]] == [b.tolist() for b in seen[1]]
    first_epoch = torch.cat(seen[0][:6])
    assert sorted(first_epoch.tolist()) == list(range(96))
    assert first_epoch.tolist() != list(range(96)), "shuffled"
    assert not torch.equal(first_epoch, torch.cat(seen[0][6:])), "a new order per epoch"


def test_training_is_reproducible_with_a_seed(nb):
    if nb.DEVICE.type == "cuda":
        pytest.skip("cuDNN's RNN kernels are not deterministic")
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
    x = torch.randn(16, 28, 28)
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
    with pytest.raises(nb.TrainingDiverged, match="loss nan in epoch 1 with peak"):
        fit(nb, poisoned, 3, name="poisoned")
    assert poisoned.history["train_loss"] == []


def test_a_huge_learning_rate_stops_with_a_message_naming_it(nb):
    torch.manual_seed(0)
    model = nb.myRNN()
    with pytest.raises(nb.TrainingDiverged) as stopped:
        fit(nb, model, 3, lr=1e6, clip_norm=1e9)
    assert "peak learning rate 1e+06" in str(stopped.value)
    assert "lower rate" in str(stopped.value)
    assert len(model.history["train_loss"]) < 3, "stopped before the end"


def test_interrupt_keeps_the_finished_epochs_and_propagates(nb):
    calls = {"count": 0}

    def interrupted_in_epoch_two(scores, labels):
        calls["count"] += 1
        if calls["count"] > 6 + 2:  # 6 batches per epoch
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(scores, labels)

    model = nb.myRNN()
    with pytest.raises(KeyboardInterrupt):
        fit(nb, model, 5, loss_fn=interrupted_in_epoch_two)
    assert len(model.history["test_accuracy"]) == len(model.history["train_loss"]) == 1


@pytest.mark.parametrize("epochs", [0, -1, 2.5, True])
def test_train_refuses_impossible_epochs(nb, epochs):
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit(nb, nb.myRNN(), epochs)


def test_row_fnn_sees_every_row_but_not_their_order(nb, sequences):
    model = nb.RowFNN()
    for row in range(28):
        changed = sequences.clone()
        changed[:, row] += 1.0
        assert not torch.allclose(model(changed), model(sequences))
    shuffled = sequences[:, torch.randperm(28)]
    assert torch.allclose(model(shuffled), model(sequences), atol=1e-6)


def test_readout_by_step_ends_at_the_model_accuracy(nb):
    torch.manual_seed(0)
    model = nb.myRNN()
    fit(nb, model, 2, lr=1e-2)
    loader = tiny_loaders(nb, batch=96)[1]
    by_step = nb.accuracy_by_step(model, loader)
    assert len(by_step) == 28 and by_step[-1] == pytest.approx(
        nb.evaluate(model, loader)
    )
    assert by_step[2] < 0.6, "before the class row is read (t < 21) it is near chance"


def test_probes_find_the_class_only_once_its_row_has_been_read(nb):
    torch.manual_seed(0)
    model = nb.myRNN()
    fit(nb, model, 3)
    fresh = tiny_loaders(nb, seed=1, count=600, batch=600)[1]
    test_loader = tiny_loaders(nb, batch=96)[1]
    probed = nb.probe_accuracy_by_step(model, fresh, test_loader)
    assert len(probed) == 28
    assert max(probed[:20]) < 0.6, "before row 21 no probe can know the class"
    assert probed[-1] == 1.0, "after the last class row a linear probe separates them"


def test_probe_is_the_least_squares_fit(nb):
    # a state that is the one-hot label itself: the probe recovers it exactly
    class Echo(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)
            self.rnn = lambda x, h: (x[..., :10], None)

        def init_hidden(self, batch):
            return None

    labels = torch.arange(40) % 10
    states = nn.functional.one_hot(labels, 10).float()[:, None].repeat(1, 28, 1)
    loader = nb.make_loader(states, labels, 8, shuffle=False)
    assert nb.probe_accuracy_by_step(Echo(), loader, loader) == [1.0] * 28


@pytest.mark.parametrize(
    "name, cell", [("myGatedRNN", nn.GRUCell), ("myLSTM", nn.LSTMCell)]
)
def test_gate_values_recompute_the_units_own_gate(nb, sequences, name, cell):
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
        expected.append(torch.sigmoid(logits))
        state = step(x, state if len(state) == 2 else h)
        state = state if isinstance(state, tuple) else (state,)
    gates = nb.gate_values(model, sequences).cpu()
    assert gates.shape == (BATCH, 28, H)
    assert torch.allclose(gates, torch.stack(expected, dim=1), atol=1e-5)


class LastRowOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(28, 10)

    def forward(self, x):
        return self.fc(x[:, -1])


def test_input_gradient_norms_see_the_rows_the_loss_depends_on(nb, sequences):
    norms = nb.input_gradient_norms(
        LastRowOnly(), sequences, torch.zeros(BATCH, dtype=int)
    )
    assert len(norms) == 28 and norms[-1] > 0 and not any(norms[:-1])
    assert nb.early_reach([2.0] * 10 + [1.0] * 8 + [4.0] * 6 + [9.0] * 4) == 0.5


def test_table_columns_are_shared_by_their_widest_cell(nb, monkeypatch):
    shown = []
    monkeypatch.setattr(
        nb, "display", lambda data, raw: shown.append(data["text/markdown"])
    )
    nb.show_table(["unit", "all seeds"], [["GRU", "99.09, 99.13, 99.23"], ["RNN", 1]])
    assert shown[0].splitlines() == [
        "| unit | all seeds |",
        "|----|-----------|",  # half the widest cell + 2: the ratio, in fewer columns
        "| GRU | 99.09, 99.13, 99.23 |",
        "| RNN | 1 |",
    ]
    wide = [f"column {k}" for k in range(7)]
    nb.show_table(wide, [["x" * 8] * 7])
    assert max(map(len, shown[1].splitlines())) <= 78


def test_seconds_per_epoch_are_a_median_and_a_stall_is_flagged(nb):
    history = {"seconds_per_epoch": [8.0, 123.5, 154.0, 9.6, 9.9, 9.8, 6.5, 5.3]}
    line = nb.timing_line(history)
    assert "median 9.7, range 5.3–154.0" in line, "two stalls hardly move the median"
    assert line.endswith("stalled: [2, 3]")


def test_a_claim_check_prints_one_line_with_its_values(nb, capsys):
    check = nb.claim_checker(tested=True)
    check("the GRU is ahead", True, "99.1 vs 98.4")
    check("the LSTM is ahead", False, "98.0 vs 98.4")
    nb.claim_checker(tested=False)(
        "the GRU is ahead", True, "a very long list of values " * 3
    )
    assert capsys.readouterr().out.splitlines() == [
        "✓ the GRU is ahead [99.1 vs 98.4]",
        "✗ the LSTM is ahead [98.0 vs 98.4]",
        "– not tested: the GRU is ahead",
        "    [" + "a very long list of values " * 3 + "]",
    ]


def test_ahead_needs_every_seed_beyond_the_wider_seed_range(nb):
    rnn = [(0.9843, 7), (0.9827, 8), (0.9843, 8)]  # range 0.16 points
    assert nb.ahead([(0.9909, 3), (0.9913, 4)], rnn)
    assert nb.ahead([(0.9860, 3), (0.9861, 4)], rnn), "0.17 points above its best"
    assert not nb.ahead([(0.9858, 3), (0.9859, 4)], rnn), "within the RNN's range"
    assert not nb.ahead([(0.9990, 3), (0.9850, 4)], rnn), "within its own range"
    assert not nb.ahead([(0.9990, 3)], rnn), "one seed is no band"


def test_seed_results_add_the_sweeps_other_seeds_of_the_same_setting(nb):
    setting = {"init": "identity", "lr": 7e-4}
    sweep = {
        "test": {
            "rnn": [
                {
                    "setting": setting,
                    "finals": {1: 0.98, 2: 0.985},
                    "epochs_to_98": {1: 9, 2: None},
                },
                {
                    "setting": {"init": "default", "lr": 1e-3},
                    "finals": {1: 0.97, 2: 0.975},
                    "epochs_to_98": {1: None, 2: None},
                },
            ]
        },
    }
    history = {"test_accuracy": [0.5, 0.983]}
    others = nb.other_seed_results(sweep, "rnn", setting, 0)
    assert nb.seed_results(history, others) == [
        (0.983, 2),
        (0.98, 9),
        (0.985, math.inf),
    ]
    others = nb.other_seed_results(sweep, "rnn", setting, 1)
    assert nb.seed_results(history, others) == [(0.983, 2), (0.985, math.inf)]
    assert nb.other_seed_results(sweep, "gru", setting, 0) == [], "no seed runs"


def test_train_works_with_any_module_and_its_three_arguments(nb):
    train = train_after_item_1(nb, tiny_loaders(nb))
    plain = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 3))  # no setting of its own
    history = train(plain, nn.CrossEntropyLoss(), 1)
    assert len(history["test_accuracy"]) == 1 and plain.history is history


@pytest.mark.parametrize(
    "name, unit", [("myRNN", "rnn"), ("myGatedRNN", "gru"), ("myLSTM", "lstm")]
)
def test_a_models_defaults_are_the_parameters_in_its_signature(nb, name, unit):
    parameters = inspect.signature(getattr(nb, name)).parameters
    assert parameters["setting"].default is nb.settings[unit]
    assert parameters["hidden_size"].default == nb.hidden_units
    model = getattr(nb, name)(hidden_size=12)
    assert model.rnn.hidden_size == 12 and model.hidden_size == 12


def test_an_unknown_initialisation_is_refused(nb):
    with pytest.raises(ValueError, match="init 'xavier'"):
        nb.myRNN({"init": "xavier", "lr": 1e-3})
