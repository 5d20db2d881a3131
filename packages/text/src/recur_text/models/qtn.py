r"""Quantum tensor networks (QTN) for protein classification, simulated exactly as state vectors in PyTorch.

Kundu, Ghosh, Ekambaram, Wang, Dokholyan & Ghosh, "Application of Quantum Tensor Networks for Protein
Classification", 2024, https://arxiv.org/abs/2403.06890. The paper reads a protein as a sentence whose words
are residues, turns it with lambeq into a parameterised circuit and trains it noise-free; two shapes: one
inspired by RNNs (PTN, a chain) and one by CNNs (CTN, a tree), with uniform or hierarchical parameter
sharing; the best (hPTN) reaches 94% on a binary subcellular-location task with about 800 parameters.

Here, as lambeq builds such circuits (its stairs and tree readers): every wire carries ``q`` qubits.

- **Residue states** (angle embedding): residue ``a`` (21 tokens: 20 amino acids and X) is the state
  :math:`|w_a\rangle = \prod_{l}\big(\mathrm{CNOT\ ladder}\cdot\bigotimes_k R_Z(\phi_{a,l,k}) R_Y(\theta_{a,l,k})\big)
  |0\rangle^{\otimes q}` with trainable angles per residue (``word_layers`` layers).
- **Block** :math:`B`: a unitary on ``2q`` qubits (two wires) in the layout of circuit 14 of Sim et al. 2019
  (lambeq's ``Sim14Ansatz``): per layer an RY on every qubit, a ring of CRX, an RY on every qubit, a ring of
  CRX the other way (4 angles per qubit per layer; the ring order is ours). Two wires become one by
  post-selecting the second wire's qubits on :math:`|0\rangle` after the block, as lambeq evaluates a box with
  two input wires and one output wire; the state is renormalised.
- **Chain** (:class:`QTNChain`, RNN-inspired): :math:`h_1 = |w_{x_1}\rangle,\;
  h_t \propto (I \otimes \langle 0|) B (h_{t-1} \otimes |w_{x_t}\rangle)` -- the same block as each residue is
  read, the state carried forward. Since post-selection is linear, one step is the matrix
  :math:`M_a = (I\otimes\langle0|)B(I\otimes|w_a\rangle)` [D, D] (D = 2^q) and
  :math:`h_T \propto M_{x_T}\cdots M_{x_2}\,w_{x_1}`: the product is taken as a balanced tree of batched matrix
  products (log T depth), each partial product renormalised (a positive factor, which the final
  normalisation removes), so no Python loop runs over time.
- **Tree** (:class:`QTNTree`, CNN-inspired): leaves are the residue states; each level joins neighbours
  :math:`(l, r) \mapsto (I\otimes\langle0|)B_\ell(l\otimes r)` (an odd last node, or one whose right neighbour
  is padding, goes up unchanged) until one wire is left. ``sharing="uniform"``: one block for every level;
  ``"hierarchical"``: one block per level (``levels`` of them, so at most 2^levels residues).
- **Readout**: :math:`\langle Z\rangle` on the first qubit of the final wire,
  ``logit = scale * <Z> + bias`` (two trainable numbers; lambeq reads the output qubit's probabilities).

Exactness: every state is a complex vector (complex64 for float32 parameters, complex128 after
``.double()``); gates act as tensor contractions on one axis of the state (controlled gates on the control's
``|1>`` slice). :func:`reference_logits` recomputes both circuits with explicit 2^n x 2^n Kronecker-product
matrices, one step at a time, and the tests compare it with the fast path in complex128.

Deviations (stated): the paper's ansatz per box, qubit counts and parsing are lambeq's choices that its text does
not fully pin down [unverified]; here the residue order alone shapes the circuit (no syntax parser), ``q`` = 3
qubits per wire, and the defaults give about 800 parameters as the paper's model. Post-selection is simulated
exactly (a hardware run would discard the unselected shots).

Shapes:
    tokens [B, T] long (1..21, 0 = right padding) -> logits [B] (the positive class).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from recur_core.registry import register_model

__all__ = [
    "QTNChain",
    "QTNTree",
    "apply_controlled",
    "apply_one_qubit",
    "ordered_product",
    "reference_logits",
    "sim14_unitary",
    "word_states",
]

NUM_RESIDUE_TOKENS = 21
_TINY = 1e-30


# --- gates as tensor contractions ----------------------------------------------------------------------------


def _rx(theta: Tensor, dtype: torch.dtype) -> Tensor:
    c, s = torch.cos(theta / 2).to(dtype), torch.sin(theta / 2).to(dtype)
    return torch.stack([torch.stack([c, -1j * s], -1), torch.stack([-1j * s, c], -1)], -2)


def _ry(theta: Tensor, dtype: torch.dtype) -> Tensor:
    c, s = torch.cos(theta / 2).to(dtype), torch.sin(theta / 2).to(dtype)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def _rz(theta: Tensor, dtype: torch.dtype) -> Tensor:
    phase = torch.exp(-0.5j * theta.to(dtype))
    zero = torch.zeros_like(phase)
    return torch.stack([torch.stack([phase, zero], -1), torch.stack([zero, phase.conj()], -1)], -2)


_X = torch.tensor([[0, 1], [1, 0]])


def apply_one_qubit(state: Tensor, gate: Tensor, qubit: int, n: int) -> Tensor:
    """``gate`` on ``qubit`` of ``n``-qubit states (qubit 0 the most significant bit).

    Shapes:
        state [M, 2^n], gate [2, 2] or [M, 2, 2] (one per state) -> [M, 2^n].
    """
    view = state.reshape(state.shape[0], 2**qubit, 2, 2 ** (n - qubit - 1))
    equation = "ij,majb->maib" if gate.ndim == 2 else "mij,majb->maib"
    return torch.einsum(equation, gate, view).reshape(state.shape)


def apply_controlled(state: Tensor, gate: Tensor, control: int, target: int, n: int) -> Tensor:
    """``gate`` on ``target`` where ``control`` is |1> (a controlled gate), states as :func:`apply_one_qubit`."""
    view = state.reshape(state.shape[0], *([2] * n))
    off, on = view.select(control + 1, 0), view.select(control + 1, 1)
    # the target's axis among the n - 1 left once the control's is removed
    axis = target if target < control else target - 1
    on = on.movedim(axis + 1, -1) @ gate.transpose(-1, -2)
    on = on.movedim(-1, axis + 1)
    return torch.stack([off, on], control + 1).reshape(state.shape)


def sim14_unitary(angles: Tensor, n: int, dtype: torch.dtype) -> Tensor:
    """The unitary [2^n, 2^n] of circuit 14 of Sim et al. 2019 with ``angles`` [L, 4, n]:
    per layer RY(a[l,0,k]) on every qubit k, CRX(a[l,1,k]) from qubit k to k+1 (mod n) for k = n-1..0,
    RY(a[l,2,k]), CRX(a[l,3,k]) from qubit k to k-1 (mod n) for k = 0..n-1. Built by applying the gates to the
    identity's columns."""
    dim = 2**n
    state = torch.eye(dim, dtype=dtype, device=angles.device)
    for layer in angles:
        for k in range(n):
            state = apply_one_qubit(state, _ry(layer[0, k], dtype), k, n)
        for k in reversed(range(n)):
            state = apply_controlled(state, _rx(layer[1, k], dtype), k, (k + 1) % n, n)
        for k in range(n):
            state = apply_one_qubit(state, _ry(layer[2, k], dtype), k, n)
        for k in range(n):
            state = apply_controlled(state, _rx(layer[3, k], dtype), k, (k - 1) % n, n)
    # row j holds U e_j
    return state.transpose(0, 1)


def word_states(angles: Tensor, dtype: torch.dtype) -> Tensor:
    """Residue states [V, 2^q] from angles [V, L, q, 2]: per layer RY(a[..,0]) then RZ(a[..,1]) on every qubit,
    then CNOT from qubit k to k+1 for k = 0..q-2."""
    vocab, _, q, _ = angles.shape
    state = torch.zeros(vocab, 2**q, dtype=dtype, device=angles.device)
    state[:, 0] = 1
    cnot = _X.to(dtype=dtype, device=angles.device)
    for layer in angles.unbind(1):
        for k in range(q):
            state = apply_one_qubit(state, _ry(layer[:, k, 0], dtype), k, q)
            state = apply_one_qubit(state, _rz(layer[:, k, 1], dtype), k, q)
        for k in range(q - 1):
            state = apply_controlled(state, cnot, k, k + 1, q)
    return state


def _squared(x: Tensor) -> Tensor:
    # |x|^2 without abs(), whose gradient at 0 is not finite
    return x.real.square() + x.imag.square() if x.is_complex() else x.square()


def _normalise(x: Tensor, dims: tuple[int, ...]) -> Tensor:
    # clamped before the square root: a zero state (a padding node) must give finite gradients, even unselected
    return x / _squared(x).sum(dim=dims, keepdim=True).clamp_min(_TINY).sqrt()


def ordered_product(mats: Tensor, mask: Tensor) -> Tensor:
    """``mats[:, T-1] @ ... @ mats[:, 0]`` per row, masked steps replaced by the identity, as a balanced tree of
    batched products; each partial product is divided by its Frobenius norm (the direction of the final
    vector it is applied to is unchanged).

    Shapes:
        mats [B, T, D, D], mask [B, T] bool -> [B, D, D].
    """
    batch, steps, dim, _ = mats.shape
    eye = torch.eye(dim, dtype=mats.dtype, device=mats.device)
    if steps == 0:
        return eye.expand(batch, dim, dim)
    mats = torch.where(mask[..., None, None], mats, eye)
    while mats.shape[1] > 1:
        if mats.shape[1] % 2:
            mats = torch.cat([mats, eye.expand(batch, 1, dim, dim)], 1)
        # the later step multiplies from the left
        mats = _normalise(mats[:, 1::2] @ mats[:, 0::2], (-2, -1))
    return mats[:, 0]


def _z_expectation(state: Tensor) -> Tensor:
    """<Z> on qubit 0 of normalised-or-not states [B, 2^q] -> [B] real."""
    probs = _squared(state)
    half = probs.shape[-1] // 2
    return (probs[:, :half].sum(-1) - probs[:, half:].sum(-1)) / probs.sum(-1).clamp_min(_TINY)


def _check_tokens(tokens: Tensor, name: str) -> Tensor:
    if tokens.ndim != 2 or tokens.dtype not in (torch.int32, torch.int64):
        raise ValueError(
            f"{name} expects tokens [batch, length] of integer ids, got {tuple(tokens.shape)} {tokens.dtype}"
        )
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) > NUM_RESIDUE_TOKENS):
        raise ValueError(
            f"{name}: token ids must lie in 0..{NUM_RESIDUE_TOKENS} (0 = padding), got {int(tokens.min())}.."
            f"{int(tokens.max())}; tokenise with recur_text.data.proteins.tokenize"
        )
    mask = tokens != 0
    if tokens.shape[1] == 0 or not bool(mask[:, 0].all()):
        raise ValueError(f"{name}: every sequence needs at least one residue (padding only at the end)")
    if bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        raise ValueError(f"{name} expects right padding (id 0 only after the residues), found a residue after it")
    return mask


class _QTN(nn.Module):
    """Shared by the chain and the tree: residue angles, block angles, readout, example input."""

    def __init__(self, wire_qubits: int, word_layers: int, block_layers: int, num_blocks: int) -> None:
        super().__init__()
        if not 1 <= wire_qubits <= 5:
            raise ValueError(f"wire_qubits must be 1..5 (a block acts on 2 x wire_qubits qubits), got {wire_qubits}")
        if word_layers < 1 or block_layers < 1:
            raise ValueError(f"word_layers and block_layers must be at least 1, got {word_layers}, {block_layers}")
        self.q = wire_qubits
        generator = torch.Generator().manual_seed(0)
        self.word_angles = nn.Parameter(
            torch.rand(NUM_RESIDUE_TOKENS, word_layers, wire_qubits, 2, generator=generator) * 2 * math.pi
        )
        # small block angles: the blocks start near the identity, so the first residues are not scrambled away
        self.block_angles = nn.Parameter(
            0.1 * torch.randn(num_blocks, block_layers, 4, 2 * wire_qubits, generator=generator)
        )
        self.scale = nn.Parameter(torch.tensor(2.0))
        self.bias = nn.Parameter(torch.tensor(0.0))

    @property
    def complex_dtype(self) -> torch.dtype:
        return torch.complex128 if self.word_angles.dtype == torch.float64 else torch.complex64

    def selected_blocks(self) -> Tensor:
        """Each block with its second wire post-selected on |0>: [num_blocks, D_out, D_left, D_right]."""
        dim = 2**self.q
        unitaries = torch.stack([sim14_unitary(a, 2 * self.q, self.complex_dtype) for a in self.block_angles])
        return unitaries.reshape(-1, dim, dim, dim, dim)[:, :, 0]

    def readout(self, state: Tensor) -> Tensor:
        return self.scale * _z_expectation(state).to(self.scale.dtype) + self.bias

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """Right-padded random residues, lengths 1..7 (the first full): ([batch, 7] long,)."""
        generator = torch.Generator().manual_seed(0)
        tokens = torch.randint(1, NUM_RESIDUE_TOKENS + 1, (batch_size, 7), generator=generator)
        lengths = torch.randint(1, 8, (batch_size,), generator=generator)
        lengths[0] = 7
        return (tokens.masked_fill(torch.arange(7) >= lengths[:, None], 0),)


@register_model("qtn_chain")
class QTNChain(_QTN):
    """The RNN-inspired QTN (the paper's PTN; see the module docstring for the circuit).

    Args:
        wire_qubits: q, qubits per wire (the block acts on 2q).
        word_layers: layers of each residue's angle embedding (2q angles per layer per residue).
        block_layers: Sim14 layers of the block (8q angles each).

    Parameters: 21 * word_layers * 2q + block_layers * 8q + 2 (the defaults: 794).

    Shapes:
        tokens [B, T] long (right padding 0) -> logits [B].
    """

    def __init__(self, wire_qubits: int = 3, word_layers: int = 4, block_layers: int = 12) -> None:
        super().__init__(wire_qubits, word_layers, block_layers, num_blocks=1)

    def forward(self, tokens: Tensor) -> Tensor:
        mask = _check_tokens(tokens, "QTNChain")
        words = word_states(self.word_angles, self.complex_dtype)
        block = self.selected_blocks()[0]
        # one step per residue: M_a = <0|_2 B (I x |w_a>) [V, D, D]
        steps = torch.einsum("ohw,aw->aoh", block, words)
        index = (tokens[:, 1:] - 1).clamp_min(0)
        product = ordered_product(steps[index], mask[:, 1:])
        state = (product @ words[tokens[:, 0] - 1].unsqueeze(-1)).squeeze(-1)
        return self.readout(state)


@register_model("qtn_tree")
class QTNTree(_QTN):
    """The CNN-inspired QTN (the paper's CTN; see the module docstring for the circuit).

    Args:
        wire_qubits: q, qubits per wire (each block acts on 2q).
        word_layers: layers of each residue's angle embedding.
        block_layers: Sim14 layers per block.
        sharing: ``"uniform"`` (one block for the whole tree) or ``"hierarchical"`` (one block per level).
        levels: tree levels with their own block under ``"hierarchical"``: sequences of at most 2^levels residues.

    Parameters: 21 * word_layers * 2q + blocks * block_layers * 8q + 2, blocks = 1 or ``levels``.

    Shapes:
        tokens [B, T] long (right padding 0) -> logits [B].
    """

    def __init__(
        self,
        wire_qubits: int = 3,
        word_layers: int = 4,
        block_layers: int = 2,
        sharing: Literal["uniform", "hierarchical"] = "hierarchical",
        levels: int = 8,
    ) -> None:
        if sharing not in ("uniform", "hierarchical"):
            raise ValueError(f"sharing must be 'uniform' or 'hierarchical', got {sharing!r}")
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        super().__init__(wire_qubits, word_layers, block_layers, num_blocks=levels if sharing == "hierarchical" else 1)
        self.sharing, self.levels = sharing, levels

    def forward(self, tokens: Tensor) -> Tensor:
        mask = _check_tokens(tokens, "QTNTree")
        length = int(mask.sum(1).max())
        if self.sharing == "hierarchical" and length > 2**self.levels:
            raise ValueError(
                f"QTNTree with {self.levels} levels of blocks reads at most {2**self.levels} residues, got {length}; "
                "truncate (--data.max_len) or build it with more levels"
            )
        tokens, mask = tokens[:, :length], mask[:, :length]
        states = word_states(self.word_angles, self.complex_dtype)[(tokens - 1).clamp_min(0)]
        blocks = self.selected_blocks()
        level = 0
        while states.shape[1] > 1:
            if states.shape[1] % 2:
                states = torch.cat([states, torch.zeros_like(states[:, :1])], 1)
                mask = torch.cat([mask, torch.zeros_like(mask[:, :1])], 1)
            block = blocks[min(level, len(blocks) - 1)]
            left, right = states[:, 0::2], states[:, 1::2]
            joined = _normalise(torch.einsum("ohw,bph,bpw->bpo", block, left, right), (-1,))
            # a node without a right neighbour goes up unchanged
            states = torch.where(mask[:, 1::2, None], joined, left)
            mask = mask[:, 0::2]
            level += 1
        return self.readout(states[:, 0])


# --- the slow reference: explicit matrices -------------------------------------------------------------------


def _kron_gate(gate: Tensor, qubit: int, n: int) -> Tensor:
    eye = torch.eye(2, dtype=gate.dtype)
    full = torch.ones(1, 1, dtype=gate.dtype)
    for k in range(n):
        full = torch.kron(full, gate if k == qubit else eye)
    return full


def _kron_controlled(gate: Tensor, control: int, target: int, n: int) -> Tensor:
    zero = torch.tensor([[1, 0], [0, 0]], dtype=gate.dtype)
    one = torch.tensor([[0, 0], [0, 1]], dtype=gate.dtype)
    eye = torch.eye(2, dtype=gate.dtype)
    off, on = torch.ones(1, 1, dtype=gate.dtype), torch.ones(1, 1, dtype=gate.dtype)
    for k in range(n):
        off = torch.kron(off, zero if k == control else eye)
        on = torch.kron(on, one if k == control else gate if k == target else eye)
    return off + on


def _reference_unitary(angles: Tensor, n: int) -> Tensor:
    dtype = torch.complex128
    u = torch.eye(2**n, dtype=dtype)
    for layer in angles.double():
        gates = [_kron_gate(_ry(layer[0, k], dtype), k, n) for k in range(n)]
        gates += [_kron_controlled(_rx(layer[1, k], dtype), k, (k + 1) % n, n) for k in reversed(range(n))]
        gates += [_kron_gate(_ry(layer[2, k], dtype), k, n) for k in range(n)]
        gates += [_kron_controlled(_rx(layer[3, k], dtype), k, (k - 1) % n, n) for k in range(n)]
        for g in gates:
            u = g @ u
    return u


def _reference_word(angles: Tensor) -> Tensor:
    dtype = torch.complex128
    _, q, _ = angles.shape
    state = torch.zeros(2**q, dtype=dtype)
    state[0] = 1
    for layer in angles.double():
        for k in range(q):
            state = _kron_gate(_rz(layer[k, 1], dtype), k, q) @ (_kron_gate(_ry(layer[k, 0], dtype), k, q) @ state)
        for k in range(q - 1):
            state = _kron_controlled(_X.to(dtype), k, k + 1, q) @ state
    return state


def _reference_join(unitary: Tensor, left: Tensor, right: Tensor, q: int) -> Tensor:
    # the block on |left> x |right>, then the projector onto |0> of the right wire, renormalised
    full = unitary @ torch.kron(left, right)
    projector = torch.kron(torch.eye(2**q, dtype=full.dtype), torch.zeros(2**q, 2**q, dtype=full.dtype))
    projector[torch.arange(0, 4**q, 2**q), torch.arange(0, 4**q, 2**q)] = 1
    selected = (projector @ full).reshape(2**q, 2**q)[:, 0]
    return selected / selected.norm()


@torch.no_grad()
def reference_logits(model: QTNChain | QTNTree, tokens: Tensor) -> Tensor:
    """The model's logits recomputed one sequence and one step at a time with explicit 2^n x 2^n matrices
    (Kronecker products of every gate, an explicit projector), in complex128: the ground truth of the tests."""
    q = model.q
    unitaries = [_reference_unitary(a, 2 * q) for a in model.block_angles]
    words = [_reference_word(a) for a in model.word_angles]
    out = []
    for row in tokens:
        residues = [int(t) - 1 for t in row if int(t) != 0]
        if isinstance(model, QTNChain):
            state = words[residues[0]]
            for a in residues[1:]:
                state = _reference_join(unitaries[0], state, words[a], q)
        else:
            nodes, level = [words[a] for a in residues], 0
            while len(nodes) > 1:
                u = unitaries[min(level, len(unitaries) - 1)]
                paired = [_reference_join(u, nodes[i], nodes[i + 1], q) for i in range(0, len(nodes) - 1, 2)]
                nodes = paired + ([nodes[-1]] if len(nodes) % 2 else [])
                level += 1
            state = nodes[0]
        probs = state.abs() ** 2
        z = (probs[: 2 ** (q - 1)].sum() - probs[2 ** (q - 1) :].sum()) / probs.sum()
        out.append(float(model.scale) * z + float(model.bias))
    return torch.stack(out)
