"""The poem-meter classifier: a stacked bidirectional recurrent network over character encodings.

Papers:

- Yousef, Ibrahime, Madbouly & Mahmoud, "Learning Meters of Arabic and English Poems With Recurrent
  Neural Networks: a Step Forward for Language Understanding and Synthesis", arXiv:1905.05700 (2019),
  https://arxiv.org/abs/1905.05700; code https://github.com/hci-lab/LearningMetersPoems (Keras).
  Stacks of (Bi)LSTM/(Bi)GRU layers over the one-hot, binary or two-hot character encoding of a verse,
  dropout 0.2, softmax over the meters. Their grid: 4 or 7 layers of 50 or 82 units (Arabic; best
  BiLSTM 4 x 82), 3-8 layers of 30-60 units (English; best BiGRU 4 x 40).
- Al-shaibani, Alyafeai & Ahmad, "Meter Classification of Arabic Poems Using Deep Bidirectional
  Recurrent Neural Networks", Pattern Recognition Letters 136 (2020): deep bidirectional recurrent
  networks over the characters of a verse, on MetRec (14 meters; 94.32% test accuracy, their abstract).

Each stacked layer runs one copy of the recurrent layer over the verse and, when bidirectional, a
second copy over the verse reversed within its length (:func:`recur_core.layers.reverse_padded`, the
mechanism of :class:`recur_core.layers.Bidirectional`). The verse is read, as in the papers' Keras
``Bidirectional(LSTM(..., return_sequences=False))``, as the last output of each direction: the forward
copy at the verse's last character and the backward copy at its first.

.. math::

    h^{(0)}_t &= W_{in} x_t, \\qquad
    \\overrightarrow{h}^{(l)} = f^{(l)}(h^{(l-1)}), \\quad
    \\overleftarrow{h}^{(l)} = \\mathrm{rev}(b^{(l)}(\\mathrm{rev}(h^{(l-1)}))) \\\\
    h^{(l)}_t &= W^{(l)} [\\overrightarrow{h}^{(l)}_t ; \\overleftarrow{h}^{(l)}_t] \\quad (l < L), \\qquad
    \\mathrm{logits} = W_{out} [\\overrightarrow{h}^{(L)}_{n-1} ; \\overleftarrow{h}^{(L)}_0]

with ``n`` the verse's length and ``f, b`` the registered layer (``--model.layer``). Dropout (0.2, as
the papers) follows every stacked layer.

Where recur differs: every registered layer keeps its width (``[B, T, W] -> [B, T, W]``), so the
encoding enters through a linear map ``W_in`` (D -> W) and the two directions of an inner layer are
merged by a linear map (2W -> W) before the next layer, as :class:`recur_core.layers.Bidirectional`
does; in Keras the next LSTM's input matrix reads the 2W concatenation directly. Both maps are linear,
so they only factor the input matrices of the paper's LSTMs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from recur_core.layers import reverse_padded
from recur_core.registry import build_layer, register_model

__all__ = ["MeterRNN", "MeterRNNConfig", "meter_birnn"]


def _last(y: Tensor, lengths: Tensor) -> Tensor:
    """``y[b, lengths[b] - 1]`` for every row: ``[B, T, W] -> [B, W]``."""
    index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, y.shape[-1])
    return y.gather(1, index).squeeze(1)


class BiRecurrent(nn.Module):
    """One stacked layer: the registered layer forwards and (when ``bidirectional``) a second copy backwards.

    Args:
        width: W, the layer's width.
        layer: registered layer name.
        layer_kwargs: its constructor arguments.
        bidirectional: add the backward copy.

    Shapes:
        x [B, T, W], lengths [B] -> (outputs [B, T, K W], last [B, K W]) with K = 2 directions (1 without);
        ``last`` holds the forward output at step ``lengths - 1`` and the backward output at step 0.
    """

    def __init__(self, width: int, layer: str, layer_kwargs: dict[str, Any], bidirectional: bool) -> None:
        super().__init__()
        self.forward_layer = build_layer(layer, width, **layer_kwargs)
        self.backward_layer = build_layer(layer, width, **layer_kwargs) if bidirectional else None

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        y, _ = self.forward_layer(x, lengths=lengths)
        if self.backward_layer is None:
            return y, _last(y, lengths)
        # the backward copy reads each verse from its last character to its first; padding stays at the end
        y_reversed, _ = self.backward_layer(reverse_padded(x, lengths), lengths=lengths)
        outputs = torch.cat([y, reverse_padded(y_reversed, lengths)], dim=-1)
        return outputs, torch.cat([_last(y, lengths), _last(y_reversed, lengths)], dim=-1)


@dataclass
class MeterRNNConfig:
    """Sizes of :class:`MeterRNN` (defaults: the papers' English setting scaled for a CPU)."""

    # D: width of the character encoding (one-hot 28 English / 181 Arabic, binary 5 / 8, two-hot 41)
    input_dim: int = 28
    # the meters: 4 (EPD), 14 (MetRec), 16 (APCD)
    num_classes: int = 4
    # W: units per direction (papers: 30-82)
    hidden_size: int = 40
    # stacked layers (papers: 3-8)
    n_layers: int = 2
    # the recurrence: any registered layer (papers: lstm, gru)
    layer: str = "lstm"
    layer_kwargs: dict[str, Any] = field(default_factory=dict)
    # the papers' BiLSTM/BiGRU; False gives their unidirectional LSTM/GRU arm
    bidirectional: bool = True
    # after every stacked layer (papers: 0.2)
    dropout: float = 0.2

    def __post_init__(self) -> None:
        self.layer_kwargs = dict(self.layer_kwargs or {})  # None (a recipe's null) means the layer's defaults


class MeterRNN(nn.Module):
    """Stacked (bi)directional recurrent meter classifier (Yousef et al. 2019; Al-shaibani et al. 2020).

    See the module docstring for the update rule and where it differs from the papers' Keras models.

    Args:
        config: :class:`MeterRNNConfig`.

    Shapes:
        verses [B, T, D] (encoded, zero rows after each verse's end), lengths [B] -> logits [B, num_classes].
    """

    def __init__(self, config: MeterRNNConfig) -> None:
        super().__init__()
        for name in ("input_dim", "num_classes", "hidden_size", "n_layers"):
            if getattr(config, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(config, name)}")
        if config.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2 meters, got {config.num_classes}")
        if not 0.0 <= config.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {config.dropout}")
        self.config = config
        width, directions = config.hidden_size, 2 if config.bidirectional else 1
        self.embed = nn.Linear(config.input_dim, width)
        self.layers = nn.ModuleList(
            BiRecurrent(width, config.layer, dict(config.layer_kwargs), config.bidirectional)
            for _ in range(config.n_layers)
        )
        # between stacked layers the directions are merged back to the width W (not after the last one)
        self.merges = nn.ModuleList(nn.Linear(directions * width, width) for _ in range(config.n_layers - 1))
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(directions * width, config.num_classes)

    def forward(self, verses: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Meter logits ``[B, num_classes]`` of ``verses`` ``[B, T, D]`` (``lengths`` [B]; None: all of length T)."""
        if verses.dim() != 3 or verses.shape[-1] != self.config.input_dim:
            raise ValueError(
                f"MeterRNN expects verses [B, T, D] with D = input_dim = {self.config.input_dim}, "
                f"got {tuple(verses.shape)}; set model input_dim to the encoding's width"
            )
        batch, steps = verses.shape[:2]
        if lengths is None:
            lengths = torch.full((batch,), steps, dtype=torch.long, device=verses.device)
        h = self.embed(verses)
        for index, layer in enumerate(self.layers):
            outputs, last = layer(h, lengths)
            if index < len(self.merges):
                h = self.dropout(self.merges[index](outputs))
        return self.classifier(self.dropout(last))

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        """A batch of ``batch_size`` random two-hot-like verses of lengths up to 12 (for ``check_model``)."""
        steps = 12
        lengths = torch.tensor([steps - (3 * b) % (steps - 1) for b in range(batch_size)])
        verses = (torch.rand(batch_size, steps, self.config.input_dim) < 0.1).float()
        verses[torch.arange(steps)[None, :] >= lengths[:, None]] = 0.0
        return verses, lengths


@register_model()
def meter_birnn(**kwargs: Any) -> MeterRNN:
    """:class:`MeterRNN` with :class:`MeterRNNConfig` fields as keyword arguments (``layer="gru"``, ...)."""
    known = set(asdict(MeterRNNConfig()))
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError(f"meter_birnn has no option(s) {', '.join(unknown)}; its options: {', '.join(sorted(known))}")
    return MeterRNN(MeterRNNConfig(**kwargs))
