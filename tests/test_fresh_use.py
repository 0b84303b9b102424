"""The notebook as a student uses it: stopped mid-run (the kernel's interrupt)."""

import queue

import nbformat
import pytest
from conftest import NOTEBOOK
from jupyter_client.manager import start_new_kernel


def execute(client, code, timeout=120):
    """Run code in the kernel; return (reply status, printed text)."""
    printed = []
    reply = client.execute_interactive(
        code,
        timeout=timeout,
        output_hook=lambda message: printed.append(message["content"].get("text", "")),
    )
    return reply["content"]["status"], "".join(printed)


def test_stop_keeps_the_finished_epochs_and_aborts_the_queued_cells():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # the definitions without item 1's data cells (as tools.notebook_defs runs them)
    definitions = "train_loader = test_loader = None\n\n" + "\n\n".join(
        cell.source
        for cell in notebook.cells
        if cell.cell_type == "code"
        and {"defs", "parameters"} & set(cell.metadata.get("tags", []))
    )
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        assert execute(client, definitions)[0] == "ok"
        assert (
            execute(
                client,
                (
                    "torch.manual_seed(0)\n"
                    "x, y = torch.randn(96, 28, 28), torch.arange(96) % 10\n"
                    "loaders = (make_loader(x, y, 16, True), "
                    "make_loader(x, y, 16, False))\n"
                    "model = myRNN()"
                ),
            )[0]
            == "ok"
        )
        training = client.execute(
            "train(model, nn.CrossEntropyLoss(), 100_000, loaders=loaders, "
            "progress=False, name='long')"
        )
        queued = client.execute("after_the_stop = True")
        while True:  # wait for a finished epoch, then press Stop
            message = client.get_iopub_msg(timeout=60)
            if "long  1/" in message["content"].get("text", ""):
                break
        manager.interrupt_kernel()
        replies = {}
        while len(replies) < 2:
            try:
                reply = client.get_shell_msg(timeout=60)
            except queue.Empty:
                pytest.fail("the kernel did not answer after the stop")
            replies[reply["parent_header"]["msg_id"]] = reply["content"]
        assert replies[training]["status"] == "error"
        assert replies[training]["ename"] == "KeyboardInterrupt"
        assert replies[queued]["status"] != "ok", "the queued cell is not run"
        status, printed = execute(
            client,
            (
                "print(len(model.history['test_accuracy']) >= 1, "
                "'after_the_stop' in globals())"
            ),
        )
        assert status == "ok" and printed.strip() == "True False"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
