"""Where SD-DARTS's teachers come from: three stores behind one small interface.

The teacher of epoch t is the supernet of epochs t-1..t-K ("voting
teachers", SD-DARTS Eq. 2): the mean of their output probabilities. SD-DARTS
(:mod:`nasbench_sd.methods.sddarts`) calls a store as follows::

    store = make_teacher_store(kind, K=..., ema_decay=..., ctx=ctx)   # in setup()
    store.teacher(half, indices, x, ctx)     # in a step of an epoch >= warm-up, before record
    store.record(half, indices, probs, epoch)  # after every forward pass of a step
    store.end_epoch(epoch, method, ctx)      # in on_epoch_end()
    store.state_dict() / store.load_state_dict(state)   # checkpoints

``half`` is ``"train"`` (weight step) or ``"valid"`` (arch step); ``indices``
are the samples' dataset indices (< ctx.num_*_keys); ``probs`` are the
detached softmax outputs of the step's forward pass (no extra forward).
``teacher`` returns ``(probs [B, C], mask [B] bool)``; samples without a
teacher (mask False) get a uniform placeholder and are left out of the loss.
"""

from __future__ import annotations

import abc
import copy
from typing import Any

import torch

from nasbench_sd.errors import UserError

HALVES = ("train", "valid")
TEACHER_KINDS = ("cache", "snapshot", "ema")


class TeacherStore(abc.ABC):
    """The interface SD-DARTS uses (see the module docstring for the call order)."""

    kind: str = ""

    def record(self, half: str, indices: torch.Tensor, probs: torch.Tensor, epoch: int) -> None:  # noqa: B027
        """Remember the probabilities the supernet produced for these samples in ``epoch``."""

    @abc.abstractmethod
    def teacher(self, half: str, indices: torch.Tensor, x: torch.Tensor, ctx) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher probabilities for the current batch in epoch ``ctx.epoch`` and which samples have one."""

    def end_epoch(self, epoch: int, method, ctx) -> None:  # noqa: B027
        """Called once at the end of every epoch (all epochs, warm-up included)."""

    @abc.abstractmethod
    def memory_bytes(self) -> int:
        """Bytes held by the store."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Plain tensors and numbers (on the CPU) that restore the store."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` into a store built with the same settings."""

    def _check_kind(self, state: dict[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise UserError(f"checkpoint holds a {state.get('kind')!r} teacher store, this run uses {self.kind!r}")


def _uniform(n: int, classes: int, like: torch.Tensor) -> torch.Tensor:
    return torch.full((n, classes), 1.0 / classes, dtype=like.dtype, device=like.device)


def _load_into(dst: dict[str, torch.Tensor], src: dict[str, torch.Tensor], what: str) -> None:
    for half in HALVES:
        if tuple(src[half].shape) != tuple(dst[half].shape):
            raise UserError(f"checkpoint teacher {what} for {half!r} has shape {tuple(src[half].shape)}, "
                            f"this run needs {tuple(dst[half].shape)} (K or the data changed?)")
        dst[half].copy_(src[half].to(dst[half].device))


class CacheTeacher(TeacherStore):
    """Per-sample probability cache (SD-DARTS Sec. 3.3): no extra forward passes.

    Per half a ring buffer ``[K+1, num_keys, C]`` float32 of the probabilities
    recorded by the step forward passes, plus a ``[K+1, num_keys]`` seen flag:
    slot ``epoch % (K+1)`` is written in ``epoch`` while the K others hold
    epochs t-1..t-K. A sample's teacher is the mean over those of the K
    previous epochs in which it was seen (the last record of an epoch counts).
    Memory: ``(K+1) * (num_train_keys + num_valid_keys) * (4 * C + 1)`` bytes,
    i.e. the probabilities ``(K+1)*(N_train+N_valid)*C*4`` plus one byte of
    seen flag per sample and slot; CIFAR-10 official split, K=2: 6.2 MB.
    Kept on ``ctx.device``.
    """

    kind = "cache"

    def __init__(self, K: int, num_keys: dict[str, int], num_classes: int, device: torch.device | str = "cpu"):
        self.K, self.num_classes = int(K), int(num_classes)
        slots = self.K + 1
        self.probs = {h: torch.zeros(slots, num_keys[h], num_classes, device=device) for h in HALVES}
        self.seen = {h: torch.zeros(slots, num_keys[h], dtype=torch.bool, device=device) for h in HALVES}
        self.slot_epoch = {h: [-1] * slots for h in HALVES}

    def record(self, half: str, indices: torch.Tensor, probs: torch.Tensor, epoch: int) -> None:
        s = epoch % (self.K + 1)
        if self.slot_epoch[half][s] != epoch:  # first record of this epoch: the slot's old epoch is out of the window
            self.seen[half][s].zero_()
            self.slot_epoch[half][s] = epoch
        self.probs[half][s, indices] = probs.detach().to(self.probs[half].dtype)
        # index_fill_ takes the value as a kernel argument; ``seen[s, indices] = True`` would first copy a
        # host scalar to the device (one synchronising call per record on CUDA, benchmarks/gpu_search.md)
        self.seen[half][s].index_fill_(0, indices, True)

    def teacher(self, half: str, indices: torch.Tensor, x: torch.Tensor, ctx) -> tuple[torch.Tensor, torch.Tensor]:
        epoch = ctx.epoch
        window = sorted((ep, s) for s, ep in enumerate(self.slot_epoch[half]) if epoch - self.K <= ep < epoch)
        buf = self.probs[half]
        total = torch.zeros(len(indices), self.num_classes, dtype=buf.dtype, device=buf.device)
        count = torch.zeros(len(indices), dtype=buf.dtype, device=buf.device)
        for _, s in window:
            m = self.seen[half][s, indices]
            total = total + buf[s, indices] * m.unsqueeze(-1).to(buf.dtype)
            count = count + m.to(buf.dtype)
        mask = count > 0
        mean = total / count.clamp_min(1.0).unsqueeze(-1)
        return torch.where(mask.unsqueeze(-1), mean, _uniform(len(indices), self.num_classes, buf)), mask

    def memory_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for d in (self.probs, self.seen) for t in d.values())

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "K": self.K,
                "probs": {h: t.cpu().clone() for h, t in self.probs.items()},
                "seen": {h: t.cpu().clone() for h, t in self.seen.items()},
                "slot_epoch": {h: list(v) for h, v in self.slot_epoch.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._check_kind(state)
        _load_into(self.probs, state["probs"], "probabilities")
        _load_into(self.seen, state["seen"], "seen flags")
        self.slot_epoch = {h: [int(e) for e in state["slot_epoch"][h]] for h in HALVES}


class EmaTeacher(TeacherStore):
    """Per-sample exponential moving average of past epochs' probabilities
    (the authors' proposed future work). At the end of each epoch, for the
    samples seen in it: ``ema = decay * ema + (1 - decay) * p_epoch`` (``ema =
    p_epoch`` the first time). The teacher in epoch t is the EMA as of the end
    of epoch t-1; ``decay = 0`` gives the single teacher of epoch t-1.
    Memory: ``2 * (N_train + N_valid) * (4 * C + 1)`` bytes, on ``ctx.device``.
    """

    kind = "ema"

    def __init__(self, decay: float, num_keys: dict[str, int], num_classes: int, device: torch.device | str = "cpu"):
        self.decay, self.num_classes = float(decay), int(num_classes)
        self.ema = {h: torch.zeros(num_keys[h], num_classes, device=device) for h in HALVES}
        self.ema_seen = {h: torch.zeros(num_keys[h], dtype=torch.bool, device=device) for h in HALVES}
        self.current = {h: torch.zeros(num_keys[h], num_classes, device=device) for h in HALVES}
        self.current_seen = {h: torch.zeros(num_keys[h], dtype=torch.bool, device=device) for h in HALVES}

    def record(self, half: str, indices: torch.Tensor, probs: torch.Tensor, epoch: int) -> None:
        self.current[half][indices] = probs.detach().to(self.current[half].dtype)
        self.current_seen[half].index_fill_(0, indices, True)  # no host scalar copied to the device

    def end_epoch(self, epoch: int, method, ctx) -> None:
        for h in HALVES:
            cur, seen = self.current[h], self.current_seen[h]
            mixed = self.decay * self.ema[h] + (1 - self.decay) * cur
            blended = torch.where(self.ema_seen[h].unsqueeze(-1), mixed, cur)
            self.ema[h] = torch.where(seen.unsqueeze(-1), blended, self.ema[h])
            self.ema_seen[h] |= seen
            seen.zero_()

    def teacher(self, half: str, indices: torch.Tensor, x: torch.Tensor, ctx) -> tuple[torch.Tensor, torch.Tensor]:
        mask = self.ema_seen[half][indices]
        probs = self.ema[half][indices]
        return torch.where(mask.unsqueeze(-1), probs, _uniform(len(indices), self.num_classes, probs)), mask

    def memory_bytes(self) -> int:
        dicts = (self.ema, self.ema_seen, self.current, self.current_seen)
        return sum(t.numel() * t.element_size() for d in dicts for t in d.values())

    def state_dict(self) -> dict[str, Any]:
        names = ("ema", "ema_seen", "current", "current_seen")
        state: dict[str, Any] = {n: {h: t.cpu().clone() for h, t in getattr(self, n).items()} for n in names}
        return {"kind": self.kind, "decay": self.decay, **state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._check_kind(state)
        for n in ("ema", "ema_seen", "current", "current_seen"):
            _load_into(getattr(self, n), state[n], n)


class SnapshotTeacher(TeacherStore):
    """K frozen copies of the supernet (network state + edge weights at the end
    of each of the K previous epochs), run under ``no_grad`` on the current
    batch in training mode (batch-statistics BN, like the student); the teacher
    is the mean of their softmax outputs. Costs K extra forward passes per
    half-step and K network copies of memory; every sample has a teacher once
    one epoch has ended.
    """

    kind = "snapshot"

    def __init__(self, K: int, network: torch.nn.Module):
        self.K = int(K)
        self.template = network
        self.snapshots: list[tuple[int, torch.nn.Module, torch.Tensor, tuple[int, ...] | None]] = []

    def _freeze(self, state: dict[str, torch.Tensor] | None = None) -> torch.nn.Module:
        net = copy.deepcopy(self.template)
        if state is not None:
            net.load_state_dict(state)
        for p in net.parameters():
            p.grad = None
            p.requires_grad_(False)
        return net

    def end_epoch(self, epoch: int, method, ctx) -> None:
        weights, active = method.edge_weights(training=False)
        self.snapshots.append((epoch, self._freeze(), weights.detach().clone(), _host_ids(active)))
        self.snapshots = [s for s in self.snapshots if s[0] > epoch - self.K]

    def teacher(self, half: str, indices: torch.Tensor, x: torch.Tensor, ctx) -> tuple[torch.Tensor, torch.Tensor]:
        epoch = ctx.epoch
        use = [s for s in self.snapshots if epoch - self.K <= s[0] < epoch]
        if not use:
            return _uniform(len(indices), ctx.num_classes, x), torch.zeros(len(indices), dtype=torch.bool,
                                                                           device=x.device)
        with torch.no_grad():
            total = None
            for _, net, weights, active in use:
                p = torch.softmax(net(x, weights.to(x.device), active), -1)
                total = p if total is None else total + p
            return total / len(use), torch.ones(len(indices), dtype=torch.bool, device=x.device)

    def memory_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for _, net, w, _ in self.snapshots
                   for t in (*net.state_dict().values(), w))

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "K": self.K, "snapshots": [
            {"epoch": ep, "network": {k: v.cpu().clone() for k, v in net.state_dict().items()},
             "weights": w.cpu().clone(), "active": None if a is None else list(a)}
            for ep, net, w, a in self.snapshots]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._check_kind(state)
        device = next(self.template.parameters()).device
        self.snapshots = [(int(s["epoch"]), self._freeze(s["network"]), s["weights"].to(device),
                           _host_ids(s["active"])) for s in state["snapshots"]]


def _host_ids(active: Any) -> tuple[int, ...] | None:
    """A snapshot's active op ids as a host tuple (read once, when the snapshot is taken)."""
    if active is None:
        return None
    return tuple(int(a) for a in (active.tolist() if isinstance(active, torch.Tensor) else active))


def make_teacher_store(kind: str, *, K: int, ema_decay: float, ctx) -> TeacherStore:
    """The store named ``kind`` sized for the search described by ``ctx``."""
    keys = {"train": ctx.num_train_keys, "valid": ctx.num_valid_keys}
    if kind == "cache":
        return CacheTeacher(K, keys, ctx.num_classes, ctx.device)
    if kind == "ema":
        return EmaTeacher(ema_decay, keys, ctx.num_classes, ctx.device)
    if kind == "snapshot":
        return SnapshotTeacher(K, ctx.network)
    raise UserError(f"unknown teacher store {kind!r} (choose from {', '.join(TEACHER_KINDS)})")
