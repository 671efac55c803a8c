"""The search-method interface: what a method is, and when the loop calls it.

A method owns the architecture parameters and decides how the ONE supernet
(:class:`nasbench_sd.nn.supernet.SuperNet`) is driven; the supernet never
knows which method drives it, and the search loop
(:mod:`nasbench_sd.search.loop`) never branches on the method.

Call protocol (in this order)::

    method = MethodClass(config, seed)           # arch parameters created here
    opts   = method.supernet_options()           # e.g. {"partial_channels": 4}
    net    = SuperNet(..., **opts)
    method.setup(ctx)                            # once: optimisers, buffers
    [method.load_state_dict(state)]              # when resuming
    for epoch in range(start, epochs):
        method.on_epoch_start(ctx)               # ctx.epoch set; e.g. GDAS tau
        for batch in loader:                     # StepBatch: train + valid batch
            stats = method.step(batch, ctx)      # one search step: floats or 0-dim tensors
        method.on_epoch_end(ctx)                 # e.g. teachers roll over
        cell = method.genotype()                 # derived cell of this epoch
        state = method.state_dict()              # into the checkpoint
    diagnostics = method.convergence_diagnostics(ctx)   # once, into result.json

``ctx`` is a :class:`SearchContext`: the network, the weight optimiser, the
learning rate of this step, the device and sizes, and ``ctx.batches`` for
methods that need more data than the step's two batches. Methods must draw random
numbers only from generators they own (seeded from ``seed``) so that CPU runs
are deterministic and resumable.

Host reads: a method must not read tensors that live on the device
(``float(t)``, ``t.item()``, ``t.tolist()``, ``bool(t)``, ``if t: ...``) inside
``step`` / ``edge_weights(training=True)`` / ``objective``: each read makes the
host wait for the GPU. Step statistics are returned as detached 0-dim tensors
(``loss.detach()``, :func:`accuracy`); the loop adds them up on the device and
reads them once per epoch. Tensors drawn from the method's own CPU generator
may be read. A method whose forward structure depends on the device's values
(GDAS: which op each edge runs) reads what it needs ONCE per step
(``nasbench_sd.testing.hostreads`` counts this for every registered method).

Most methods are DARTS-like: subclass :class:`ArchParamMethod`, which creates
the 6x5 ``alpha`` (init 1e-3 * randn, NB201 reference), its Adam optimiser,
argmax genotype, and implements weight and arch steps around two hooks,
:meth:`ArchParamMethod.edge_weights` and :meth:`ArchParamMethod.loss`.

Seed batching (``--batch-seeds``, :mod:`nasbench_sd.seedbatch`): a method whose
``seed_batching`` is ``None`` can be built for S seeds at once
(``MethodClass(config, seeds=(s0, s1, ...))``) and is then driven by the
seed-batched loop (:mod:`nasbench_sd.search.batched`) with the same calls as
above, where every per-seed tensor has a leading seed dimension of size S:
the batch (``x_train`` ``[S, B, 3, H, W]``), the edge weights (``[S, 6, 5]``),
the logits (``[S, B, classes]``), the losses and step statistics (``[S]``:
one value per seed, summed before ``backward``) and the architecture
parameters. ``ctx.seed_batch`` is S (``None`` in a plain run). Each seed keeps
its own generators and per-sample state, drawn and updated exactly as in its
own run. Per seed the loop reads :meth:`SearchMethod.seed_state_dict` (what
the seed's own run would checkpoint) and :meth:`SearchMethod.seed_view`
(genotype, op probabilities). Any other method says why not in
``seed_batching`` (its protocol card shows it); its seeds then run separately.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F

from nasbench_sd.cells import NUM_EDGES, NUM_OPS, Cell
from nasbench_sd.seedbatch import clip_grad_norm_per_seed, load_seed_optimizer_state, seed_optimizer_state
from nasbench_sd.seeding import derive_seed

if TYPE_CHECKING:  # pragma: no cover
    from nasbench_sd.data.extra import BatchSource


@dataclass(frozen=True)
class MethodConfig:
    """Base of every method's hyper-parameters (frozen, typed, validated).

    Subclasses add fields with defaults and their source, and validate them
    in ``__post_init__`` by raising :class:`nasbench_sd.errors.UserError`.
    """

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate_for(self, search: Any) -> None:
        """Checks that need the search config (e.g. warm-up < epochs)."""


@dataclass
class SearchContext:
    """What the loop hands a method. Mutable fields are updated by the loop."""

    network: torch.nn.Module
    w_optimizer: torch.optim.Optimizer
    device: torch.device
    search: Any  # nasbench_sd.config.SearchConfig (frozen)
    steps_per_epoch: int
    num_classes: int
    #: Largest sample index + 1 of the train / valid halves (size of per-sample caches).
    num_train_keys: int
    num_valid_keys: int
    epoch: int = 0
    step: int = 0
    #: Learning rate of the weight optimiser at this step (already applied to it).
    lr: float = 0.0
    #: More batches of either half beyond the step's pair (iDARTS's extra train batches,
    #: RSPS's 512-image valid batches): ``ctx.batches.draw("train", 64, my_generator, augment=True)``.
    #: Draws come only from the generator the method passes (which it owns and saves in
    #: ``state_dict``); see :mod:`nasbench_sd.data.extra` for sampling and augmentation.
    batches: BatchSource | None = None
    #: S when the loop trains S seeds as one seed-batched supernet (every per-seed tensor has a
    #: leading dimension of size S; see the module docstring), None in a plain run.
    seed_batch: int | None = None

    @property
    def epochs(self) -> int:
        return int(self.search.epochs)


class SearchMethod(abc.ABC):
    """A search method. Subclasses set ``name``, ``description``, ``paper`` and
    ``Config`` and implement the abstract methods; the hooks default to no-ops.

    Class attributes used by the contract tests (``nasbench_sd.testing``):

    ``ablation``
        Config overrides that switch the method's own term off
        (e.g. ``{"lam": 0.0, "order": "weights-first"}`` for SD-DARTS), or
        ``None``; undoing any one of them must change the update.
    ``ablation_equals``
        Name of the method that the ablated configuration must equal step for
        step (e.g. ``"darts-v1"``), or ``None``.
    ``control``
        Config overrides that switch the method's own idea off and nothing
        else: the method's protocol (update order, schedules, data, the
        settings it changes in the shared config) stays as its preset has it
        (``nasbench-sd run --controls`` runs this twin beside the method).
        ``None``: the ``ablation`` is the control (read by :meth:`control_overrides`).
        It differs from ``ablation`` where proving equality with
        ``ablation_equals`` needs a protocol change (SD-DARTS's ablation also
        sets the NB201 update order; its control keeps Algorithm 1's).
        ``control_note`` says in words what the control is (protocol card).
    ``trains_supernet``
        ``False`` for methods that pick a cell without training (random search);
        the loop then runs no steps.
    ``has_arch_parameters``
        ``False`` for methods that train the supernet without architecture
        parameters (RSPS: uniformly sampled paths, the cell chosen by
        evaluation); ``arch_parameters()`` is then empty, and the contract
        checks the weights instead of the architecture.
    ``contract_overrides``
        Config overrides under which the method's own term is active from the
        first step of a 3-epoch toy run (e.g. ``{"warmup": 0}`` for SD-DARTS);
        the contract tests apply them to every check.

    Class attributes of the protocol card (``nasbench-sd methods --show NAME``):

    ``sources``
        Where each ``paper``-preset value comes from: key = a field of
        ``Config``, or a SearchConfig field that ``preset_search_overrides("paper")``
        changes; value = paper section or reference-code file and setting.
    ``deviations``
        Each known deviation from the published protocol, with its reason.
    ``seed_batching``
        ``None`` when S seeds of the method can train as one seed-batched
        supernet (module docstring); else the reason why not (the card
        shows it, and ``--batch-seeds`` runs the method's seeds separately).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    ablation: ClassVar[dict[str, Any] | None] = None
    ablation_equals: ClassVar[str | None] = None
    control: ClassVar[dict[str, Any] | None] = None
    control_note: ClassVar[str] = ""
    trains_supernet: ClassVar[bool] = True
    has_arch_parameters: ClassVar[bool] = True
    contract_overrides: ClassVar[dict[str, Any]] = {}
    sources: ClassVar[dict[str, str]] = {}
    deviations: ClassVar[tuple[str, ...]] = ()
    seed_batching: ClassVar[str | None] = ("not declared by the method (a method declares seed_batching = None "
                                           "once its steps work on a leading seed dimension)")

    def __init__(self, config: MethodConfig | None = None, seed: int = 0, seeds: tuple[int, ...] | None = None):
        self.config = config if config is not None else self.Config()
        #: the seeds of a seed-batched instance (None: a plain run of ``seed``)
        self.seeds = None if seeds is None else tuple(int(x) for x in seeds)
        self.seed = int(seed) if self.seeds is None else self.seeds[0]

    # -- seed batching (see the module docstring) -----------------------------------------
    @classmethod
    def seed_batching_refusal(cls, config: MethodConfig) -> str | None:
        """Why S seeds of this method with ``config`` cannot train as one batch (None: they can).
        Defaults to ``seed_batching``; a method overrides it when a setting decides."""
        return cls.seed_batching

    def per_seed(self, make) -> torch.Tensor:
        """``make(seed)`` in a plain run; in a seed-batched one the results of every seed,
        stacked along a new leading dimension (each seed's tensor made as its own run makes it)."""
        if self.seeds is None:
            return make(self.seed)
        return torch.stack([make(s) for s in self.seeds])

    def seed_state_dict(self, index: int) -> dict[str, Any]:
        """Seed-batched: the :meth:`state_dict` of seed ``self.seeds[index]``'s own run
        at this point (its checkpoint holds it, so that it reads as an ordinary run's)."""
        raise NotImplementedError(f"{self.name} does not batch seeds")

    def load_seed_state_dict(self, index: int, state: dict[str, Any]) -> None:
        """Seed-batched: restore a :meth:`state_dict` of seed ``self.seeds[index]``
        (called after :meth:`setup`)."""
        raise NotImplementedError(f"{self.name} does not batch seeds")

    def seed_view(self, index: int) -> SearchMethod:
        """Seed-batched: a plain instance for seed ``self.seeds[index]`` holding that seed's
        state, to read it (``genotype``, ``op_probabilities``); it is never set up or stepped."""
        view = type(self)(self.config, self.seeds[index])
        view.load_state_dict(self.seed_state_dict(index))
        return view

    # -- presets ------------------------------------------------------------------
    @classmethod
    def preset_config(cls, preset: str, epochs: int) -> MethodConfig:
        """The method's configuration for a named preset whose search runs
        ``epochs`` epochs. Under ``paper`` it is the paper's values whatever
        ``epochs`` is; under a scaled preset (``cpu``, ``proxy``) methods with epoch-based
        settings scale them with :meth:`scale_epochs`."""
        return cls.Config()

    @classmethod
    def paper_epochs(cls) -> int:
        """Search epochs of the method's paper protocol (its ``paper`` override, else 50)."""
        return int(cls.preset_search_overrides("paper").get("epochs", 50))

    @classmethod
    def scale_epochs(cls, value: int, epochs: int, minimum: int = 0) -> int:
        """An epoch count of the paper protocol scaled to a run of ``epochs`` epochs:
        ``max(minimum, round(value * epochs / paper_epochs))``."""
        return max(minimum, round(value * epochs / cls.paper_epochs()))

    @classmethod
    def control_overrides(cls) -> dict[str, Any] | None:
        """Config overrides of the method's control (its idea off, all else equal), or
        ``None`` when it declares none: ``control``, else ``ablation``."""
        chosen = cls.control if cls.control is not None else cls.ablation
        return None if chosen is None else dict(chosen)

    @classmethod
    def preset_search_overrides(cls, preset: str) -> dict[str, Any]:
        """Changes to the shared search configuration this method's paper made
        (e.g. GDAS: 250 epochs under ``paper``)."""
        return {}

    # -- protocol -----------------------------------------------------------------
    def supernet_options(self) -> dict[str, Any]:
        """Extra keyword arguments for the supernet (e.g. partial channels)."""
        return {}

    def setup(self, ctx: SearchContext) -> None:  # noqa: B027 - optional hook
        """Called once after the network and the weight optimiser exist."""

    def on_epoch_start(self, ctx: SearchContext) -> None:  # noqa: B027
        """Called at the start of each epoch (``ctx.epoch`` is set)."""

    @abc.abstractmethod
    def step(self, batch, ctx: SearchContext) -> dict[str, float | torch.Tensor]:
        """One search step on ``batch`` (a StepBatch with a train and a valid
        half). Updates weights and architecture; returns scalar statistics,
        at least ``train_loss``, ``train_acc``, ``valid_loss``, ``valid_acc``,
        each a float or a detached 0-dim tensor (not read here: see above)."""

    def on_epoch_end(self, ctx: SearchContext) -> None:  # noqa: B027
        """Called at the end of each epoch, before the cell is derived."""

    @abc.abstractmethod
    def genotype(self) -> Cell:
        """The cell the method would return now."""

    def convergence_diagnostics(self, ctx: SearchContext) -> dict[str, Any]:
        """Called once after the last epoch (after the last checkpoint): JSON-ready
        figures on how settled the method's choice is, stored in result.json under
        ``convergence`` beside the loop's own (e.g. RSPS: the rank agreement of its
        candidates' scores on two disjoint valid samples). Must not change
        :meth:`genotype`; may draw only from generators of its own. Default: none."""
        return {}

    def op_probabilities(self) -> torch.Tensor | None:
        """[6, 5] probabilities of each op per edge (for plots), if any."""
        return None

    def arch_parameters(self) -> list[torch.Tensor]:
        """The architecture parameters (Hessian diagnostics use the first)."""
        return []

    def edge_weights(self, training: bool = True) -> tuple[torch.Tensor, Any]:
        """What the supernet consumes: ([6,5] weights, optional active ops).

        The active ops (sampled methods) are 6 op ids, one per edge: a tuple of
        ints (preferred: the supernet needs them on the host) or an integer
        tensor (read by the supernet on every forward pass)."""
        raise NotImplementedError(f"{self.name} does not drive a supernet")

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: parameters, optimisers, RNG, buffers."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (called after :meth:`setup`)."""


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy in % as a detached 0-dim float64 tensor on the logits' device
    (not read: equal to ``float(mean) * 100.0`` on the host, bit for bit); one per seed
    (``[S]``) for seed-batched logits ``[S, B, classes]``."""
    return (logits.detach().argmax(-1) == target).float().mean(-1).to(torch.float64) * 100.0


class ArchParamMethod(SearchMethod):
    """DARTS-like method: a 6x5 ``alpha`` trained by Adam on the valid half.

    Subclasses customise :meth:`edge_weights` (how alpha becomes supernet
    weights), :meth:`loss` (a side-effect-free change of the loss, e.g. a
    regulariser), :meth:`objective` (forward pass + loss of a step, for terms
    that need the inputs or keep per-sample state, e.g. SD-DARTS's teachers)
    and :meth:`step` (order and kind of the two updates). The default step is DARTS-V1 as the
    NB201 reference runs it: a weight step on the train batch, then a
    first-order architecture step on the valid batch; a method whose
    :meth:`arch_first` returns ``True`` takes the two in the other order.
    """

    def __init__(self, config: MethodConfig | None = None, seed: int = 0, seeds: tuple[int, ...] | None = None):
        super().__init__(config, seed, seeds)

        def init(s: int) -> torch.Tensor:
            g = torch.Generator().manual_seed(derive_seed(s, "alpha-init"))
            return 1e-3 * torch.randn(NUM_EDGES, NUM_OPS, generator=g)

        self.alpha = self.per_seed(init).requires_grad_(True)
        self.a_optimizer: torch.optim.Optimizer | None = None

    # -- extension points ----------------------------------------------------------
    def extra_arch_parameters(self) -> list[torch.Tensor]:
        """More architecture tensors optimised with alpha (e.g. PC-DARTS betas)."""
        return []

    def edge_weights(self, training: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        return F.softmax(self.alpha, dim=-1), None

    def loss(self, logits: torch.Tensor, target: torch.Tensor, indices: torch.Tensor,
             half: str, ctx: SearchContext) -> torch.Tensor:
        """The loss of a forward pass on the ``half`` ('train' or 'valid') batch.

        Must have no side effects: besides :meth:`objective` it is called by
        second-order methods on virtual weights (DARTS-V2)."""
        return cross_entropy(logits, target)

    def objective(self, x: torch.Tensor, target: torch.Tensor, indices: torch.Tensor, half: str,
                  ctx: SearchContext) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Forward pass and loss of the ``half`` batch within a step.

        Called exactly once per step and half, by :meth:`weight_step`
        ('train') and :meth:`arch_step` ('valid'). Returns (the loss to
        minimise, the logits, extra statistics). The extra statistics update
        the step's ``{half}_loss`` / ``{half}_acc`` (so a method may report the
        plain cross-entropy there and its own term under another key).
        """
        logits = self.forward(x, ctx)
        return self.loss(logits, target, indices, half, ctx), logits, {}

    # -- protocol ---------------------------------------------------------------------
    def arch_parameters(self) -> list[torch.Tensor]:
        return [self.alpha, *self.extra_arch_parameters()]

    def setup(self, ctx: SearchContext) -> None:
        with torch.no_grad():
            self.alpha = self.alpha.detach().to(ctx.device).requires_grad_(True)
        s = ctx.search
        self.a_optimizer = torch.optim.Adam(
            self.arch_parameters(), lr=s.a_lr, betas=(s.a_beta1, s.a_beta2), weight_decay=s.a_weight_decay
        )

    def forward(self, x: torch.Tensor, ctx: SearchContext) -> torch.Tensor:
        weights, active = self.edge_weights(training=True)
        return ctx.network(x, weights.to(x.device), active)

    def weight_step(self, batch, ctx: SearchContext) -> dict[str, Any]:
        """SGD step of the supernet weights on the train batch (grad-clipped)."""
        ctx.w_optimizer.zero_grad(set_to_none=True)
        loss, logits, extra = self.objective(batch.x_train, batch.y_train, batch.idx_train, "train", ctx)
        loss.sum().backward()  # the sum of the seeds' losses (one loss in a plain run)
        clip_weight_gradients(ctx)
        ctx.w_optimizer.step()
        return {"train_loss": loss.detach(), "train_acc": accuracy(logits, batch.y_train), **extra}

    def arch_step(self, batch, ctx: SearchContext) -> dict[str, Any]:
        """First-order Adam step of the architecture on the valid batch."""
        assert self.a_optimizer is not None, "setup() was not called"
        self.a_optimizer.zero_grad(set_to_none=True)
        loss, logits, extra = self.objective(batch.x_valid, batch.y_valid, batch.idx_valid, "valid", ctx)
        loss.sum().backward()
        self.a_optimizer.step()
        return {"valid_loss": loss.detach(), "valid_acc": accuracy(logits, batch.y_valid), **extra}

    def arch_first(self) -> bool:
        """``True``: each step takes the arch step before the weight step (the
        original DARTS order, kept by the DrNAS-family codes); default ``False``
        (the NB201 reference order)."""
        return False

    def step(self, batch, ctx: SearchContext) -> dict[str, Any]:
        if self.arch_first():
            stats = self.arch_step(batch, ctx)
            stats.update(self.weight_step(batch, ctx))
            return stats
        stats = self.weight_step(batch, ctx)
        stats.update(self.arch_step(batch, ctx))
        return stats

    def genotype(self) -> Cell:
        return Cell.from_op_ids(self.alpha.detach().argmax(dim=-1).tolist())

    def op_probabilities(self) -> torch.Tensor:
        return F.softmax(self.alpha.detach(), dim=-1).cpu()

    def state_dict(self) -> dict[str, Any]:
        return {
            "arch": [p.detach().cpu().clone() for p in self.arch_parameters()],
            "a_optimizer": None if self.a_optimizer is None else self.a_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for p, saved in zip(self.arch_parameters(), state["arch"], strict=True):
                p.copy_(saved.to(p.device))
        if state.get("a_optimizer") is not None and self.a_optimizer is not None:
            self.a_optimizer.load_state_dict(state["a_optimizer"])

    def seed_state_dict(self, index: int) -> dict[str, Any]:
        return {
            "arch": [p.detach()[index].cpu().clone() for p in self.arch_parameters()],
            "a_optimizer": None if self.a_optimizer is None else seed_optimizer_state(self.a_optimizer, index),
        }

    def load_seed_state_dict(self, index: int, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for p, saved in zip(self.arch_parameters(), state["arch"], strict=True):
                p[index].copy_(saved.to(p.device))
        if state.get("a_optimizer") is not None and self.a_optimizer is not None:
            load_seed_optimizer_state(self.a_optimizer, index, state["a_optimizer"])


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy of a batch (``F.cross_entropy``); for seed-batched logits
    ``[S, B, classes]`` the S per-seed means ``[S]``."""
    if logits.dim() == 2:
        return F.cross_entropy(logits, target)
    per_sample = F.cross_entropy(logits.flatten(0, -2), target.flatten(), reduction="none")
    return per_sample.view(target.shape).mean(-1)


def clip_weight_gradients(ctx: SearchContext) -> None:
    """Clip the supernet weights' gradients to ``ctx.search.grad_clip`` (global 2-norm; off at 0),
    per seed in a seed-batched run."""
    if ctx.search.grad_clip > 0:
        if ctx.seed_batch is None:
            torch.nn.utils.clip_grad_norm_(ctx.network.parameters(), ctx.search.grad_clip)
        else:
            clip_grad_norm_per_seed(ctx.network.parameters(), ctx.search.grad_clip)
