"""Time one training epoch of each recurrent model with the notebook's own pipeline,
against the plain per-item-transform DataLoader loop students usually write, and against
the FLOP floor of this machine.

    .venv/bin/python -m bench.bench [--data-root DIR] [--batch-size 128]
        [--train-size 60000]

Everything runs in one process on the CPU of the current machine, so the ratios
compare like with like. On a machine with a GPU it refuses: the notebook would train
on the GPU while the plain loop and the FLOP floor are CPU figures.
"""

import argparse
import math
import os
import platform
import time

import torch
import torch.nn as nn
from torchvision import transforms
from torchvision.datasets import MNIST

from tools.notebook_defs import notebook_module

GATES = {"rnn": 1, "rnn_scratch": 1, "gru": 3, "lstm": 4}


def matmul_seconds(rows, inner, columns, repeats=100, rounds=5):
    """Seconds of one fp32 product (rows, inner) @ (inner, columns) on this machine: the
    best of `rounds` timings of `repeats` products, so that another process's burst
    does not lower the measured peak."""
    a, b = torch.randn(rows, inner), torch.randn(inner, columns)
    for _ in range(20):
        a @ b
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, (time.perf_counter() - started) / repeats)
    return best


def flop_floor(gates, batch, images, input_size=28, hidden=150, steps=28, classes=10):
    """Training FLOPs of one epoch and the seconds they take at this machine's matmul
    rate at the model's shapes.

    Per mini-batch the forward pass is one input projection (batch*steps, input) @
    (input, gates*hidden), `steps` recurrent products (batch, hidden) @
    (hidden, gates*hidden) and the output layer; the backward pass costs about twice the
    forward (gradients with respect to the inputs and to the weights)."""
    batches = images / batch
    shapes = [
        ((batch * steps, input_size, gates * hidden), 1),
        ((batch, hidden, gates * hidden), steps),
        ((batch, hidden, classes), 1),
    ]
    flops = sum(3 * 2 * r * k * c * count for (r, k, c), count in shapes) * batches
    seconds = (
        sum(3 * matmul_seconds(r, k, c) * count for (r, k, c), count in shapes)
        * batches
    )
    return flops, seconds


def plain_epoch(model, mnist_root, batch_size, train_size):
    """The usual student loop: PIL decode + ToTensor + Normalize per item, DataLoader
    collation, Adam."""
    dataset = MNIST(
        mnist_root,
        train=True,
        transform=transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
        ),
    )
    dataset = torch.utils.data.Subset(dataset, range(train_size))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    started = time.perf_counter()
    for images, labels in loader:
        loss = loss_fn(model(images.view(-1, 28, 28)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", default=os.environ.get("MNIST_ROOT", "data"))
    parser.add_argument(
        "--batch-size", type=int, help="default: the notebook's batch_size"
    )
    parser.add_argument("--train-size", type=int, default=60_000)
    args = parser.parse_args()

    if torch.cuda.is_available():
        raise SystemExit(
            "bench: this compares CPU pipelines; run it on a machine without a GPU"
        )
    nb = notebook_module()
    args.batch_size = args.batch_size or nb.batch_size
    mnist_root = os.path.abspath(nb.mnist_folder(args.data_root, download=False))
    split, _ = nb.load_mnist(mnist_root, download=False)
    images, labels = split.data[: args.train_size], split.targets[: args.train_size]
    sequences = nb.to_sequences(images)
    test = nb.make_loader(sequences[:1000], labels[:1000], args.batch_size, False)
    data = (nb.make_loader(sequences, labels, args.batch_size, True), test)
    warm_up = (
        nb.make_loader(sequences[:1280], labels[:1280], args.batch_size, True),
        test,
    )
    models = {
        "rnn": nb.myRNN,
        "rnn_scratch": lambda: nb.myRNN(unit=nb.ElmanRNN),
        "gru": nb.myGatedRNN,
        "lstm": nb.myLSTM,
    }
    settings = {
        "lr": 1e-3,
        "weight_decay": 0,
        "shuffle_seed": 0,
        "progress": False,
        "verbose": False,
    }

    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, every "
        "column on the CPU; "
        f"{len(images)} training images, batch {args.batch_size}"
    )
    rows = []
    for name, build in models.items():
        nb.train(build(), nn.CrossEntropyLoss(), 1, loaders=warm_up, **settings)
        torch.manual_seed(0)
        history = nb.train(build(), nn.CrossEntropyLoss(), 1, loaders=data, **settings)
        ours = history["seconds_per_epoch"][0]
        torch.manual_seed(0)
        plain = plain_epoch(build(), mnist_root, args.batch_size, len(images))
        flops, floor = flop_floor(GATES[name], args.batch_size, len(images))
        rows.append((name, ours, plain, flops, floor))

    print(
        "\n| model | notebook s/epoch | plain loop s/epoch | speed-up | GFLOP/epoch "
        "| FLOP floor s "
        "| notebook / floor |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, ours, plain, flops, floor in rows:
        print(
            f"| {name} | {ours:.2f} | {plain:.2f} | {plain / ours:.2f}x "
            f"| {flops / 1e9:.0f} | {floor:.2f} | "
            f"{ours / floor:.2f}x |"
        )


if __name__ == "__main__":
    main()
