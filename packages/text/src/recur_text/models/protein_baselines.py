r"""The classical comparisons of the QTN protein classifiers, at equal (or much larger) parameter count.

Kundu et al. 2024 (https://arxiv.org/abs/2403.06890) compare their ~800-parameter QTN with a classifier on
ESM2 embeddings (8M parameters and more). ESM2 cannot be downloaded here, so recur compares with two
classical sequence models trained from scratch on the same residues, each at the QTN's size and much larger:

- :class:`ProteinRNN`: residue embedding -> a core recurrence (``layer``, default ``lstm``; any registered
  layer) -> the output at the last residue (or the mean over residues) -> one logit.
- :class:`ProteinMPS`: a translation-invariant matrix-product state over the one-hot residues, the classical
  tensor network the chain QTN is the unitary, post-selected form of:
  :math:`h_T \propto A_{x_T}\cdots A_{x_1} h_0`, ``logit = w · h_T / |h_T| + b`` with one real D x D
  matrix per residue (D = ``bond_dim``), a trainable boundary vector h_0 and the product taken as a balanced
  tree with each partial product renormalised (:func:`recur_text.models.qtn.ordered_product`).

Shapes:
    tokens [B, T] long (1..21, 0 = right padding) -> logits [B].
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from recur_core import build_layer
from recur_core.registry import register_model
from recur_text.models.qtn import NUM_RESIDUE_TOKENS, _check_tokens, ordered_product

__all__ = ["ProteinMPS", "ProteinRNN"]


def _example_tokens(batch_size: int) -> tuple[Tensor]:
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, NUM_RESIDUE_TOKENS + 1, (batch_size, 9), generator=generator)
    lengths = torch.randint(1, 10, (batch_size,), generator=generator)
    lengths[0] = 9
    return (tokens.masked_fill(torch.arange(9) >= lengths[:, None], 0),)


@register_model("protein_rnn")
class ProteinRNN(nn.Module):
    """Residue embedding, one core recurrence and a linear logit.

    Args:
        d_model: width of the embedding and the recurrence (8 with ``lstm``: 761 parameters, the QTN's size).
        layer: registered core layer (``--model.layer``), the paper's comparison being an LSTM.
        layer_kwargs: further arguments of ``layer``.
        readout: ``"last"`` (the output at each sequence's last residue) or ``"mean"`` (over its residues).

    Shapes:
        tokens [B, T] long (right padding 0) -> logits [B].
    """

    def __init__(
        self,
        d_model: int = 8,
        layer: str = "lstm",
        layer_kwargs: dict[str, Any] | None = None,
        readout: Literal["last", "mean"] = "last",
    ) -> None:
        super().__init__()
        if readout not in ("last", "mean"):
            raise ValueError(f"readout must be 'last' or 'mean', got {readout!r}")
        self.embedding = nn.Embedding(NUM_RESIDUE_TOKENS + 1, d_model, padding_idx=0)
        self.encoder = build_layer(layer, d_model=d_model, **(layer_kwargs or {}))
        self.head = nn.Linear(d_model, 1)
        self.readout = readout

    def forward(self, tokens: Tensor) -> Tensor:
        mask = _check_tokens(tokens, "ProteinRNN")
        lengths = mask.sum(1)
        outputs, _ = self.encoder(self.embedding(tokens), lengths=lengths)
        if self.readout == "last":
            pooled = outputs[torch.arange(tokens.shape[0]), lengths - 1]
        else:
            pooled = (outputs * mask[..., None]).sum(1) / lengths[:, None]
        return self.head(pooled).squeeze(-1)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """Right-padded random residues, lengths 1..9 (the first full): ([batch, 9] long,)."""
        return _example_tokens(batch_size)


@register_model("protein_mps")
class ProteinMPS(nn.Module):
    """A translation-invariant matrix-product-state classifier over one-hot residues (see the module docstring).

    Args:
        bond_dim: D (6: 769 parameters, the QTN's size).
        init_noise: the residue matrices start at the identity plus Gaussian noise of standard deviation
            ``init_noise / sqrt(bond_dim)`` (a perturbation of about ``init_noise`` in spectral norm, whatever D:
            with a fixed per-entry scale a bond of 24 started so far from the identity that the product over
            100+ residues kept only its top direction and never trained).

    Parameters: 21 D^2 + 2D + 1.

    Shapes:
        tokens [B, T] long (right padding 0) -> logits [B].
    """

    def __init__(self, bond_dim: int = 6, init_noise: float = 0.25) -> None:
        super().__init__()
        if bond_dim < 1:
            raise ValueError(f"bond_dim must be at least 1, got {bond_dim}")
        generator = torch.Generator().manual_seed(0)
        eye = torch.eye(bond_dim).expand(NUM_RESIDUE_TOKENS, bond_dim, bond_dim)
        noise = torch.randn(NUM_RESIDUE_TOKENS, bond_dim, bond_dim, generator=generator)
        self.cores = nn.Parameter(eye + init_noise / bond_dim**0.5 * noise)
        self.boundary = nn.Parameter(torch.randn(bond_dim, generator=generator) / bond_dim**0.5)
        self.head = nn.Linear(bond_dim, 1)

    def forward(self, tokens: Tensor) -> Tensor:
        mask = _check_tokens(tokens, "ProteinMPS")
        product = ordered_product(self.cores[(tokens - 1).clamp_min(0)], mask)
        state = product @ self.boundary
        state = state / state.square().sum(-1, keepdim=True).clamp_min(1e-30).sqrt()
        return self.head(state).squeeze(-1)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor]:
        """Right-padded random residues, lengths 1..9 (the first full): ([batch, 9] long,)."""
        return _example_tokens(batch_size)
