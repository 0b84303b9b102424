"""The Colab GPU path without a GPU: the notebook runs on a stand-in device.

`DeviceGuard` marks every tensor that is moved to (or made on) the stand-in device,
passes the mark on through every operation, and raises where CUDA would: when marked and
unmarked tensors meet in one operation (0-dim tensors excepted, as on CUDA), when a
marked tensor is turned into a NumPy array, and when float64 lands on the device. The
whole notebook runs under it on tiny data, with DEVICE set to the stand-in.
"""

import matplotlib
import nbformat
import pytest
import torch
import torch.nn as nn
from conftest import NOTEBOOK, write_synthetic_mnist
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

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
        return super().__enter__()

    def __exit__(self, *exc):
        nn.Parameter.__new__ = staticmethod(self.parameter_new)
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
        if name == "numpy" and self.on_device(first):
            raise DeviceMixed("numpy() of a tensor on the device: call .cpu() first")
        sides = {self.on_device(t) for t in tensors if t.dim() > 0}
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
        assert sequence.detach().cpu().numpy().shape == (2, 28, 8)
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
            not in {"seconds_per_epoch", "seconds_total", "seconds_per_pass", "device"}
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
