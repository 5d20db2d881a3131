"""Task-conditioned hypernetworks for continual learning: chunked MLP and dependency-preserving LSTM.

Papers:

- von Oswald, Henning, Grewe, Sacramento, "Continual learning with hypernetworks", ICLR 2020,
  https://arxiv.org/abs/1906.00695 (task embeddings, chunking, the output regulariser).
- Chandra, Varshney, Srijith, Gupta, "Continual Learning with Dependency Preserving Hypernetworks",
  WACV 2023, https://arxiv.org/abs/2209.07712 (an LSTM emits the chunks in sequence, so later
  chunks depend on earlier ones).

A hypernetwork h(e_t; θ) maps a learnable task embedding e_t to all P weights of a target network
f(x; w). The weights come out in C chunks of size S (C·S ≥ P, the tail is cut); chunk c is generated
from [e_t, c_c] with a learnable chunk embedding c_c, either independently by an MLP or in order by an
LSTM whose state carries across chunks:

.. math::
    w^{(c)} = \\mathrm{MLP}([e_t, c_c]) \\quad\\text{or}\\quad
    (s_c, m_c) = \\mathrm{LSTM}([e_t, c_c], (s_{c-1}, m_{c-1})),\\; w^{(c)} = W_o s_c + b_o

Training task t minimises the task loss plus the output regulariser, with θ* the hypernetwork
weights snapshotted before task t and the old embeddings frozen:

.. math::
    \\mathcal L_t(\\theta, e_t) + \\frac{\\beta}{t-1} \\sum_{t' < t}
    \\lVert h(e_{t'}; \\theta) - h(e_{t'}; \\theta^*) \\rVert^2

Growth: every new task appends a fresh learnable embedding (:meth:`ContinualHyperNet.add_task`); the
old tasks' outputs do not change when it is added. The target is any ``nn.Module`` template, run
with the generated weights through :func:`torch.func.functional_call` (:class:`FunctionalTarget`).

Use :func:`train_continual` in a plain loop, or :class:`HyperCLTask` to fit one task through
Lightning (call ``add_task`` / ``snapshot`` between fits, as :func:`train_continual` does).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from recur_core.engine.module import RecurModule

__all__ = [
    "ContinualHyperNet",
    "FunctionalTarget",
    "HyperCLTask",
    "LSTMHyperNetwork",
    "MLPHyperNetwork",
    "output_regularizer",
    "train_continual",
]


class FunctionalTarget(nn.Module):
    """Runs a template ``nn.Module`` with weights from a flat vector (``torch.func.functional_call``).

    The template's own parameters are never used or trained; its buffers are. Parameters are laid
    out in ``named_parameters()`` order.

    Args:
        template: any module whose parameters the hypernetwork should generate.

    Shapes:
        weights: ``[P]`` with ``P = num_weights``; inputs and outputs as for ``template``.
    """

    def __init__(self, template: nn.Module) -> None:
        super().__init__()
        self.template = template
        named = list(template.named_parameters())
        if not named:
            raise ValueError("the target template has no parameters; give a module with weights to generate")
        for p in template.parameters():
            p.requires_grad_(False)
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.num_weights = sum(self.sizes)

    def unflatten(self, weights: Tensor) -> dict[str, Tensor]:
        """Split a flat ``[P]`` vector into ``{name: tensor}`` with the template's shapes."""
        if weights.shape != (self.num_weights,):
            raise ValueError(
                f"weights must have shape ({self.num_weights},) for this target, got {tuple(weights.shape)}"
            )
        parts = torch.split(weights, self.sizes)
        return {n: p.reshape(s) for n, p, s in zip(self.names, parts, self.shapes, strict=True)}

    def forward(self, weights: Tensor, *args: Any, **kwargs: Any) -> Any:
        return functional_call(self.template, self.unflatten(weights), args, kwargs, strict=False)


class _ChunkedHyperNetwork(nn.Module):
    """Shared by both hypernetworks: chunk embeddings, the chunk count, and cutting to ``num_weights``."""

    def __init__(self, num_weights: int, task_dim: int, chunk_dim: int, chunk_size: int) -> None:
        super().__init__()
        for name, value in (("num_weights", num_weights), ("task_dim", task_dim), ("chunk_size", chunk_size)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if chunk_dim < 0:
            raise ValueError(f"chunk_dim must be >= 0 (0 = no chunk embeddings), got {chunk_dim}")
        self.num_weights, self.task_dim, self.chunk_size = num_weights, task_dim, chunk_size
        self.num_chunks = -(-num_weights // chunk_size)
        self.chunk_embeddings = nn.Parameter(torch.randn(self.num_chunks, chunk_dim))

    def _inputs(self, task_embeddings: Tensor) -> Tensor:
        if task_embeddings.dim() != 2 or task_embeddings.shape[1] != self.task_dim:
            raise ValueError(f"task embeddings must be [N, {self.task_dim}], got {tuple(task_embeddings.shape)}")
        n = task_embeddings.shape[0]
        e = task_embeddings[:, None, :].expand(n, self.num_chunks, self.task_dim)
        c = self.chunk_embeddings[None].expand(n, -1, -1)
        return torch.cat([e, c], dim=-1)  # [N, C, task_dim + chunk_dim]

    def _cut(self, chunks: Tensor) -> Tensor:
        return chunks.reshape(chunks.shape[0], -1)[:, : self.num_weights]


class MLPHyperNetwork(_ChunkedHyperNetwork):
    """Chunked MLP hypernetwork (von Oswald et al. 2020): every chunk from ``[e, c_c]`` independently.

    Args:
        num_weights: P, the target's parameter count.
        task_dim, chunk_dim: sizes of the task and chunk embeddings.
        chunk_size: S, weights per chunk.
        hidden: hidden widths of the MLP.

    Shapes:
        task_embeddings ``[N, task_dim]`` -> weights ``[N, P]``.
    """

    def __init__(
        self,
        num_weights: int,
        task_dim: int = 8,
        chunk_dim: int = 8,
        chunk_size: int = 256,
        hidden: Sequence[int] = (64,),
    ) -> None:
        super().__init__(num_weights, task_dim, chunk_dim, chunk_size)
        dims = [task_dim + chunk_dim, *hidden]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.mlp = nn.Sequential(*layers, nn.Linear(dims[-1], chunk_size))

    def forward(self, task_embeddings: Tensor) -> Tensor:
        return self._cut(self.mlp(self._inputs(task_embeddings)))


class LSTMHyperNetwork(_ChunkedHyperNetwork):
    """Dependency-preserving LSTM hypernetwork (Chandra et al. 2023): chunks emitted in order.

    The LSTM reads ``[e, c_1], ..., [e, c_C]``; its state carries from chunk to chunk, so chunk c
    depends on every earlier chunk's input. A linear head maps each state to S weights.

    Args:
        num_weights: P, the target's parameter count.
        task_dim, chunk_dim: sizes of the task and chunk embeddings.
        chunk_size: S, weights per chunk.
        hidden: LSTM state size.
        num_layers: stacked LSTM layers.

    Shapes:
        task_embeddings ``[N, task_dim]`` -> weights ``[N, P]``.
    """

    def __init__(
        self,
        num_weights: int,
        task_dim: int = 8,
        chunk_dim: int = 8,
        chunk_size: int = 256,
        hidden: int = 32,
        num_layers: int = 1,
    ) -> None:
        super().__init__(num_weights, task_dim, chunk_dim, chunk_size)
        self.lstm = nn.LSTM(task_dim + chunk_dim, hidden, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden, chunk_size)

    def forward(self, task_embeddings: Tensor) -> Tensor:
        states, _ = self.lstm(self._inputs(task_embeddings))
        return self._cut(self.head(states))


def output_regularizer(current: Tensor, snapshot: Tensor, beta: float) -> Tensor:
    """β / n_old · Σ_old ‖h(e_old; θ) − h(e_old; θ*)‖², zero when there are no old tasks.

    Shapes:
        current, snapshot: ``[n_old, P]`` -> scalar.
    """
    if current.shape != snapshot.shape:
        raise ValueError(f"current {tuple(current.shape)} and snapshot {tuple(snapshot.shape)} outputs differ in shape")
    if current.shape[0] == 0:
        return current.new_zeros(())
    return beta * (current - snapshot).pow(2).sum() / current.shape[0]


class ContinualHyperNet(nn.Module):
    """A hypernetwork, its task embeddings (grown per task) and a functional target network.

    Args:
        hnet: an :class:`MLPHyperNetwork` or :class:`LSTMHyperNetwork` (or any module mapping
            ``[N, task_dim]`` embeddings to ``[N, P]`` weights with a ``task_dim`` attribute).
        target: a :class:`FunctionalTarget` whose ``num_weights`` the hypernetwork emits.
        beta: weight of the output regulariser.

    Shapes:
        ``forward(task, x)``: ``x`` as the target's input -> the target's output.
    """

    def __init__(self, hnet: nn.Module, target: FunctionalTarget, beta: float = 0.01) -> None:
        super().__init__()
        if getattr(hnet, "num_weights", target.num_weights) != target.num_weights:
            raise ValueError(
                f"the hypernetwork emits {hnet.num_weights} weights but the target has {target.num_weights}; "
                "build the hypernetwork with num_weights=target.num_weights"
            )
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.hnet, self.target, self.beta = hnet, target, beta
        self.embeddings = nn.ParameterList()
        self.register_buffer("snapshot_outputs", torch.zeros(0, target.num_weights))

    @property
    def num_tasks(self) -> int:
        return len(self.embeddings)

    def add_task(self) -> int:
        """Grow: append a new learnable task embedding, freeze the old ones; return the new task id."""
        for e in self.embeddings:
            e.requires_grad_(False)
        ref = next(self.hnet.parameters())
        self.embeddings.append(nn.Parameter(torch.randn(self.hnet.task_dim, device=ref.device, dtype=ref.dtype)))
        return self.num_tasks - 1

    def weights(self, tasks: Sequence[int] | Tensor) -> Tensor:
        """Generated weights ``[len(tasks), P]`` for the given task ids."""
        ids = [int(t) for t in tasks]
        for t in ids:
            if not 0 <= t < self.num_tasks:
                raise ValueError(f"task {t} does not exist ({self.num_tasks} tasks); call add_task() first")
        if not ids:
            return self.snapshot_outputs.new_zeros(0, self.target.num_weights)
        return self.hnet(torch.stack([self.embeddings[t] for t in ids]))

    @torch.no_grad()
    def snapshot(self) -> None:
        """Store h(e_t'; θ*) for every existing task: the regulariser's targets for the next task."""
        self.snapshot_outputs = self.weights(range(self.num_tasks)).detach().clone()

    def regularizer(self) -> Tensor:
        """The output regulariser over the snapshotted tasks (0 before the first snapshot)."""
        old = self.snapshot_outputs.shape[0]
        return output_regularizer(self.weights(range(old)), self.snapshot_outputs, self.beta)

    def forward(self, task: int, *args: Any, **kwargs: Any) -> Any:
        return self.target(self.weights([task])[0], *args, **kwargs)


def train_continual(
    model: nn.Module,
    tasks: Sequence[tuple[Tensor, Tensor]],
    steps: int,
    lr: float = 1e-3,
    batch_size: int | None = None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
    after_task: Callable[[int], None] | None = None,
    generator: torch.Generator | None = None,
) -> None:
    """Train task by task. ``model`` is a :class:`ContinualHyperNet` (grown, snapshotted and
    regularised per task) or any module called as ``model(task, x)`` (plain fine-tuning).

    Args:
        model: the learner.
        tasks: ``(inputs, targets)`` per task, in order.
        steps: optimizer steps per task.
        lr: Adam learning rate (a fresh optimizer per task).
        batch_size: minibatch size (``None``: full batch).
        loss_fn: ``loss_fn(outputs, targets)``.
        after_task: called with the task id after each task (e.g. to evaluate all tasks so far).
        generator: source of the minibatch order.

    Shapes:
        inputs ``[N_t, ...]``, targets ``[N_t, ...]`` per task.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    hyper = isinstance(model, ContinualHyperNet)
    for t, (x, y) in enumerate(tasks):
        if hyper:
            model.snapshot()
            if model.add_task() != t:
                raise ValueError(f"the hypernetwork already has {model.num_tasks - 1} tasks; give a fresh one")
        params: Iterable[Tensor] = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(steps):
            if batch_size is None or batch_size >= len(x):
                xb, yb = x, y
            else:
                idx = torch.randperm(len(x), generator=generator)[:batch_size]
                xb, yb = x[idx], y[idx]
            loss = loss_fn(model(t, xb), yb)
            if hyper:
                loss = loss + model.regularizer()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if after_task is not None:
            after_task(t)


class HyperCLTask(RecurModule):
    """Fits the current (last added) task of a :class:`ContinualHyperNet` through Lightning.

    Consumes batches ``{"inputs": [B, ...], "targets": [B]}``; the loss is cross-entropy plus the
    output regulariser; logs ``train/loss``, ``train/reg``, ``val/loss`` and ``val/acc``. Between
    fits call ``net.snapshot()`` then ``net.add_task()``. Only parameters that require gradients
    (the hypernetwork and the current embedding) are optimised.

    Args:
        net: the continual hypernetwork (with at least one task).
        lr, weight_decay, warmup_steps, scheduler: see :class:`RecurModule`.
    """

    monitor = "val/acc"
    monitor_mode = "max"

    def __init__(self, net: ContinualHyperNet, lr: float = 1e-3, weight_decay: float = 0.0, **kwargs: Any) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay, **kwargs)
        self.net = net

    def setup(self, stage: str) -> None:
        if self.net.num_tasks == 0:
            raise ValueError("the hypernetwork has no task yet; call net.add_task() before fitting")

    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)

    def _step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        logits = self.net(self.net.num_tasks - 1, batch["inputs"])
        loss = F.cross_entropy(logits, batch["targets"])
        if stage == "train":
            reg = self.net.regularizer()
            self.log("train/reg", reg)
            loss = loss + reg
        acc = (logits.argmax(-1) == batch["targets"]).float().mean()
        self.log(f"{stage}/loss", loss, prog_bar=stage != "train")
        self.log(f"{stage}/acc", acc, prog_bar=stage != "train")
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")
