"""The search loop reads the device at most once per step, for EVERY registered
method (built-ins, the test plugin, and whatever is registered later): the
counter intercepts every tensor-to-host conversion on the CPU."""

from __future__ import annotations

import pytest
import torch

from nasbench_sd.methods import get_method, list_methods
from nasbench_sd.runtime import host_read
from nasbench_sd.testing.hostreads import HostReadCounter, step_reads, sync_events


def test_counter_sees_every_kind_of_conversion():
    t = torch.tensor(1.5)
    with HostReadCounter() as c:
        float(t), int(t), bool(t), t.item(), t.tolist(), t.numpy(), f"{t:.1f}"
        [0, 1][torch.tensor(1)]
        host_read(torch.tensor([1, 2]))  # host tensors by design: not counted
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).step()
    assert [n for n, _ in c.events] == ["__float__", "__int__", "__bool__", "item", "tolist", "numpy", "item",
                                        "__index__"]
    assert all(__file__ in where for _, where in c.events)
    assert float(t) == 1.5  # patches removed


def test_host_read_refuses_device_tensors():
    with pytest.raises(ValueError, match="meta"):
        host_read(torch.zeros(2, device="meta"))


@pytest.mark.parametrize("method", list_methods())
def test_at_most_one_host_read_per_step(method, one_thread):
    reads = step_reads(method, epochs=2, steps_per_epoch=3)
    if not get_method(method).trains_supernet:  # the loop never calls its step()
        assert reads.in_step == [] and reads.between_steps == []
        return
    assert len(reads.in_step) == 6
    assert len(reads.between_steps) == 4
    too_many = [r for r in reads.in_step if len(r) > 1]
    assert not too_many, f"{method}: more than one host read in a step: {too_many[0]}"
    loop_reads = [r for r in reads.between_steps if r]
    assert not loop_reads, f"the loop read the device between steps of {method}: {loop_reads[0]}"


def test_a_method_that_reads_its_loss_is_caught(one_thread):
    from nasbench_sd.methods import register, unregister

    class Chatty(get_method("darts-v1")):
        name = "test-chatty"

        def step(self, batch, ctx):
            stats = super().step(batch, ctx)
            return {k: float(v) for k, v in stats.items()}  # four host reads per step

    register(Chatty)
    try:
        reads = step_reads("test-chatty", epochs=1, steps_per_epoch=2)
    finally:
        unregister("test-chatty")
    assert [len(r) for r in reads.in_step] == [4, 4]
    assert all("test_host_reads.py" in where for r in reads.in_step for _, where in r)


def test_sync_events_count_calls_not_the_debug_modes_notice():
    import warnings

    def message(text: str) -> warnings.WarningMessage:
        return warnings.WarningMessage(UserWarning(text), UserWarning, "m.py", 7)

    caught = [message("Synchronization debug mode is a prototype feature and does not yet detect all "
                      "synchronizing operations (Triggered internally at Module.cpp:1003.)"),
              message("called a synchronizing CUDA operation (Triggered internally at CUDAFunctions.cpp:162.)"),
              message("an unrelated warning")]
    events = sync_events(caught)
    assert [name for name, _ in events] == ["cuda-sync"]
    assert events[0][1].startswith("called a synchronizing CUDA operation") and events[0][1].endswith("(m.py:7)")
