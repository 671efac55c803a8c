"""Epoch statistics kept on the device equal the host sums they replace, bit for
bit, and name the first step and statistic that went non-finite."""

from __future__ import annotations

import math
import random

import torch

from nasbench_sd.search.stepstats import EpochStats


def test_means_equal_host_sums_bit_for_bit():
    rng = random.Random(0)
    acc, host, n_seen = EpochStats(), {"loss": 0.0, "acc": 0.0}, 0
    for step in range(50):
        n = rng.choice([64, 64, 17])
        loss = torch.tensor(rng.uniform(0, 3), dtype=torch.float32)
        a = (torch.rand(n) > 0.3).float().mean().to(torch.float64) * 100.0
        acc.add({"loss": loss, "acc": a}, n, step)
        host["loss"] += float(loss) * n
        host["acc"] += float(a) * n
        n_seen += n
    summary = acc.read()
    assert summary.means == {k: v / n_seen for k, v in host.items()}
    assert summary.bad_step is None


def test_first_non_finite_step_and_statistic():
    alpha = torch.zeros(6, 5)
    acc = EpochStats()
    acc.add({"loss": torch.tensor(1.0), "kd": torch.tensor(0.5)}, 8, 0, [alpha])
    acc.add({"loss": torch.tensor(1.0), "kd": torch.tensor(math.inf)}, 8, 1, [alpha])
    acc.add({"loss": torch.tensor(math.nan), "kd": torch.tensor(math.nan)}, 8, 2, [alpha])
    s = acc.read()
    assert (s.bad_step, s.bad_keys) == (1, ("kd",))


def test_non_finite_architecture_parameters_and_host_floats():
    acc = EpochStats()
    acc.add({"loss": 1.0}, 4, 0, [torch.zeros(3)])
    acc.add({"loss": 1.0}, 4, 1, [torch.tensor([0.0, math.nan, 0.0])])
    acc.add({"loss": math.nan}, 4, 2, [torch.zeros(3)])
    s = acc.read()
    assert (s.bad_step, s.bad_keys) == (1, ())  # () = the architecture parameters
