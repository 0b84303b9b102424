"""The Colab GPU path without a GPU: the notebook runs on a stand-in device.

`DeviceGuard` marks every tensor that is moved to (or made on) the stand-in device,
passes the mark on through every operation, and raises where CUDA would: when marked
and unmarked tensors meet in one operation (a CPU 0-dim tensor excepted, as on CUDA; a
device 0-dim tensor meeting a CPU tensor is refused), when a marked tensor becomes a
NumPy array (`.numpy()`, or `__array__`: `np.asarray`, `plt.plot`), when a CPU generator
draws for the device, when a CPU tensor is indexed by a device tensor, when a recurrent
unit on the device runs backward after a forward pass in eval mode (cuDNN refuses it),
and when float64 lands on the device. The whole notebook runs under it on tiny data,
with DEVICE set to the stand-in; each failure class is shown caught by a negative
control (the bug injected into a copy of the notebook's own definitions).
"""

import matplotlib
import nbformat
import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import NOTEBOOK, write_synthetic_mnist
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from tools.notebook_defs import notebook_module

STAND_IN = torch.device("cpu", 0)  # a CPU device that the guard tells apart from "cpu"
MOVES = {
    "to",
    "cuda",
    "cpu",
    "copy_",
    "__getitem__",
    "__setitem__",
    "__set__",
    "_has_compatible_shallow_copy_type",
}


class DeviceMixed(RuntimeError):
    pass


RECURRENT = (nn.RNN, nn.GRU, nn.LSTM)


def eval_mode_backward(grad):
    raise DeviceMixed("backward through an RNN run in eval mode: cuDNN refuses it")


class DeviceGuard(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.marked = {}  # id -> tensor: tensors that live on the stand-in device

    def __enter__(self):
        # nn.Parameter(tensor) makes its subclass without a torch function: mark it here
        self.parameter_new = nn.Parameter.__new__

        def new(cls, data=None, requires_grad=True):
            parameter = self.parameter_new(cls, data, requires_grad)
            return self.mark(parameter) if self.on_device(data) else parameter

        nn.Parameter.__new__ = staticmethod(new)
        # cuDNN's RNN backward needs training mode: a forward in eval mode on the device
        # with gradients on gets a hook that raises when the backward pass reaches it
        self.forwards = {unit: unit.forward for unit in RECURRENT}
        for unit, forward in self.forwards.items():
            unit.forward = self.guarded(forward)
        return super().__enter__()

    def guarded(self, forward):
        def run(module, *args, **kwargs):
            output = forward(module, *args, **kwargs)
            for tensor in tree_leaves(output):
                marked = self.on_device(tensor) and tensor.requires_grad
                if marked and not module.training:
                    tensor.register_hook(eval_mode_backward)
            return output

        return run

    def __exit__(self, *exc):
        nn.Parameter.__new__ = staticmethod(self.parameter_new)
        for unit, forward in self.forwards.items():
            unit.forward = forward
        return super().__exit__(*exc)

    def mark(self, value):
        for tensor in tree_leaves(value):
            if isinstance(tensor, torch.Tensor):
                if tensor.dtype == torch.float64:
                    raise DeviceMixed("float64 on the device (MPS has none)")
                self.marked[id(tensor)] = tensor
        return value

    def on_device(self, tensor):
        return self.marked.get(id(tensor)) is tensor

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        attribute = getattr(getattr(func, "__self__", None), "__name__", "")
        tensors = [
            t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)
        ]
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if name == "__get__" and attribute == "device" and self.on_device(first):
            return STAND_IN
        if name in {"numpy", "__array__"} and self.on_device(first):
            raise DeviceMixed(f"{name} of a tensor on the device: call .cpu() first")
        generator = kwargs.get("generator")
        if generator is not None and generator.device.type == "cpu":
            if kwargs.get("device") == STAND_IN or any(map(self.on_device, tensors)):
                raise DeviceMixed(f"{name}: a CPU generator draws for the device")
        if name in {"__getitem__", "__setitem__"} and not self.on_device(first):
            index = [t for t in tree_leaves(args[1:2]) if isinstance(t, torch.Tensor)]
            if any(self.on_device(t) and t.dim() > 0 for t in index):
                raise DeviceMixed(f"{name}: a CPU tensor indexed by a device tensor")
        # a CPU 0-dim tensor may meet device tensors (as on CUDA), not the reverse
        sides = {self.on_device(t) for t in tensors if t.dim() > 0 or self.on_device(t)}
        if len(sides) == 2 and name not in MOVES:
            raise DeviceMixed(f"{name}: tensors on the device and on the CPU meet")
        result = func(*args, **kwargs)
        if name == "cpu":  # a new, unmarked object, as a copy to the CPU would be
            return result.view_as(result) if result is first else result
        if name == "__set__" and attribute == "data" and self.on_device(args[1]):
            return self.mark(args[0])  # a module's parameter moved to the device
        targets = [*args[1:], *kwargs.values()]
        if name in {"to", "cuda"}:
            moved = (
                name == "cuda"
                or STAND_IN in targets
                or any(
                    self.on_device(t) for t in targets if isinstance(t, torch.Tensor)
                )
            )
            return self.mark(result) if moved or self.on_device(first) else result
        if kwargs.get("device") == STAND_IN or any(map(self.on_device, tensors)):
            return self.mark(result)
        return result


def test_the_guard_catches_what_cuda_refuses():
    model = nn.RNN(28, 8, batch_first=True)
    with DeviceGuard():
        x = torch.randn(2, 28, 28).to(STAND_IN)
        with pytest.raises(DeviceMixed):
            model(x)  # weights left on the CPU
        model.to(STAND_IN)
        sequence, _ = model(x, torch.zeros(1, 2, 8, device=x.device))
        with pytest.raises(DeviceMixed):
            sequence.numpy()
        with pytest.raises(DeviceMixed):
            np.asarray(sequence.detach())
        assert sequence.detach().cpu().numpy().shape == (2, 28, 8)
        assert np.asarray(sequence.detach().cpu()).shape == (2, 28, 8)
        loss = sequence.square().mean()
        loss.backward()
        with pytest.raises(DeviceMixed):
            model.weight_hh_l0.grad + torch.ones(8, 8)
        assert loss.item() >= 0 and float(loss > 0) == 1.0  # 0-dim meets Python scalars
        weights = nn.Parameter(torch.randn(8, 8, device=x.device))
        assert (weights @ model.weight_hh_l0).shape == (8, 8)


def without_timings(value):
    if isinstance(value, dict):
        return {
            k: without_timings(v)
            for k, v in value.items()
            if k
            not in {
                "seconds_per_epoch",
                "seconds_total",
                "seconds_per_pass",
                "device",
                "id",  # each run's own
            }
        }
    return value


def test_the_whole_notebook_keeps_each_computation_on_one_device(
    tmp_path, monkeypatch, upload_run
):
    # the upload run's conditions (defaults, its data), every code cell in order,
    # DEVICE the stand-in: then both runs measure the same
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    write_synthetic_mnist(tmp_path / "data", train=300, test=100)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MNIST_ROOT", raising=False)
    namespace = {}
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    with DeviceGuard():
        for index, cell in enumerate(cells):
            if cell.cell_type != "code":
                continue
            code = compile(cell.source, f"<notebook cell {index}>", "exec")
            exec(code, namespace)
            if "DEVICE" in namespace:
                namespace["DEVICE"] = STAND_IN
            plt.close("all")
    metrics = namespace["metrics"]
    assert metrics["run"]["device"] == str(STAND_IN)
    assert set(metrics["memory"]) == {"vanilla RNN", "GRU", "LSTM"}, "ran to the end"
    reference = upload_run[1]
    assert without_timings(metrics) == without_timings(reference), (
        "the same seed measures the same, on the stand-in device too"
    )


# Negative controls: each failure class the guard claims, injected into a copy of the
# notebook's definitions (cell, its text, the bug); the scenario calls the notebook's
# function on the stand-in device. The unchanged definitions pass the same scenario.
CONTROLS = {
    "RNN backward in eval mode": (
        "def input_gradient_norms",
        "model.to(device).train()",
        "model.to(device).eval()",
        "eval mode",
    ),
    "np.asarray of a device tensor": (
        "def measure_memory",
        ".mean(dim=0).cpu().numpy()",
        ".mean(dim=0)",
        "__array__",
    ),
    "plt.plot of a device tensor": (
        "def input_gradient_norms",
        ".mean(dim=0).tolist()",
        ".mean(dim=0)",
        "__array__",
    ),
    "a CPU vector meets a device 0-dim tensor": (
        "def train(",
        "clipped += int(norm > clip_norm)",
        "clipped += int((norm > torch.tensor([clip_norm])).item())",
        "meet",
    ),
    "a CPU generator draws for the device": (
        "def validation_split",
        "order = torch.randperm(len(images),",
        "order = torch.randperm(len(images), device=DEVICE,",
        "CPU generator",
    ),
    "a CPU tensor indexed by a device index": (
        "def validation_split",
        "order = torch.randperm(len(images), generator=generator)",
        "order = torch.randperm(len(images), generator=generator).to(DEVICE)",
        "indexed by a device",
    ),
}


def scenario(nb, control):
    """What the notebook does with the definition that the control changes."""
    torch.manual_seed(0)
    x, y = torch.randn(8, 28, 28), torch.randint(0, 10, (8,))
    if control == "RNN backward in eval mode":
        return nb.input_gradient_norms(nb.myRNN(), x, y)
    if control == "np.asarray of a device tensor":
        return nb.measure_memory(nb.myGatedRNN(), nb.myGatedRNN(), x, y)
    if control == "plt.plot of a device tensor":
        memory = nb.measure_memory(nb.myRNN(), nb.myRNN(), x, y)
        return nb.plot_memory({"vanilla RNN": memory}, "control")
    if control == "a CPU vector meets a device 0-dim tensor":
        loader = nb.make_loader(x, y, 4, False)
        return nb.train(
            nb.myRNN(),
            nn.CrossEntropyLoss(),
            1,
            loaders=(loader, loader),
            progress=False,
            verbose=False,
        )
    images = torch.randint(0, 256, (20, 28, 28), dtype=torch.uint8)
    return nb.validation_split(images, torch.arange(20), size=5)


def definitions(tmp_path, control, injected):
    book = nbformat.read(NOTEBOOK, as_version=4)
    cell_start, old, new, _ = CONTROLS[control]
    cell = next(c for c in book.cells if cell_start in c.source)
    assert cell.source.count(old) == 1, "the control's text is in the notebook once"
    cell.source = cell.source.replace(old, new) if injected else cell.source
    path = tmp_path / "control.ipynb"
    nbformat.write(book, path)
    # DEVICE is the stand-in before any definition takes it as its default
    return notebook_module(
        path, name=f"control_{injected}", overrides={"DEVICE": STAND_IN}
    )


@pytest.mark.parametrize("control", CONTROLS)
def test_the_guard_fails_on_each_bug_cuda_refuses(tmp_path, control):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with DeviceGuard():
        scenario(definitions(tmp_path, control, injected=False), control)
    plt.close("all")
    with DeviceGuard(), pytest.raises(DeviceMixed, match=CONTROLS[control][3]):
        scenario(definitions(tmp_path, control, injected=True), control)
    plt.close("all")
