"""A character-level recurrent language model: the local, offline generator of the RecurrentGPT loop.

:class:`CharLM` is core's :class:`~recur_core.models.SequenceModel` over a fixed printable-ASCII vocabulary
(:data:`CHARS`) with a next-character head: embedding → ``n_layers`` × (norm → any core layer → MLP) →
norm → logits over the vocabulary. It is trained by core's engine (:class:`recur_text.lm_task.CharLMTask`,
recipe ``char_lm/stories``) and samples text one character at a time with the layer's recurrent ``step``:

.. math::
    p(c_{t+1} \\mid c_{\\le t}) = \\operatorname{softmax}(W\\, h_t / \\tau), \\qquad
    (h_t, s_t) = f_\\theta(c_t, s_{t-1})

(``τ`` the sampling temperature; ``s`` the layers' states; the prefix is read in one parallel pass).

Text outside :data:`CHARS` is mapped to ``?`` by :func:`encode_text` (documented policy: mapped, not
dropped, so positions stay aligned with the text).

Shapes:
    ids [B, T] int64 -> logits [B, T, V] (V = ``len(CHARS)``).
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from recur_core.models.sequence_model import SequenceModel
from recur_core.registry import register_model

__all__ = ["CHARS", "UNKNOWN", "CharLM", "char_lm", "decode_ids", "encode_text"]

CHARS = "\n ?" + string.ascii_lowercase + string.ascii_uppercase + string.digits + ".,;:!'\"-()"
UNKNOWN = CHARS.index("?")
_TABLE = np.full(128, UNKNOWN, dtype=np.int64)
_TABLE[[ord(c) for c in CHARS]] = np.arange(len(CHARS))


def encode_text(text: str) -> Tensor:
    """Character ids of ``text`` [T] (int64); a character outside :data:`CHARS` becomes ``?``."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)
    ids = np.where(codes < 128, _TABLE[np.minimum(codes, 127)], UNKNOWN)
    return torch.from_numpy(ids)


def decode_ids(ids: Tensor | list[int]) -> str:
    """The text of character ids."""
    values = ids.tolist() if isinstance(ids, Tensor) else ids
    return "".join(CHARS[i] for i in values)


class CharLM(nn.Module):
    """Next-character language model over any registered core layer.

    Args:
        layer: the recurrence, any causal core layer (``--model.layer``); default ``deltanet``, which learned
            to copy a planted fact forward in the probes where ``lstm`` and ``gla`` did not (docs).
        d_model: width of every block.
        n_layers: residual blocks.
        mlp_ratio: MLP width / ``d_model`` (0 removes the MLPs).
        dropout: dropout in the blocks.
        layer_kwargs: passed to the layer (e.g. ``{num_heads: 4}``).

    Shapes:
        ids [B, T] -> logits [B, T, len(CHARS)]; with ``return_state`` also the per-block states.
    """

    def __init__(
        self,
        layer: str = "deltanet",
        d_model: int = 128,
        n_layers: int = 2,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
        layer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.vocab_size = len(CHARS)
        self.net = SequenceModel(
            layer=layer,
            d_model=d_model,
            n_layers=n_layers,
            vocab_size=self.vocab_size,
            output_dim=self.vocab_size,
            readout="token",
            mlp_ratio=mlp_ratio,
            dropout=dropout,
            layer_kwargs=layer_kwargs or {},
        )

    def forward(
        self, ids: Tensor, lengths: Tensor | None = None, state: list | None = None, return_state: bool = False
    ):
        return self.net(ids, lengths=lengths, state=state, return_state=return_state)

    def example_input(self, batch_size: int = 2, seq_len: int = 12) -> tuple[Tensor]:
        return (torch.randint(0, self.vocab_size, (batch_size, seq_len)),)

    @torch.no_grad()
    def sample(
        self,
        prefix: str,
        max_chars: int,
        temperature: float = 0.7,
        generator: torch.Generator | None = None,
        stop: str = "\n",
    ) -> str:
        """Continue ``prefix`` by up to ``max_chars`` characters, stopping before any character in ``stop``.

        The prefix is read in one parallel pass; each new character is one recurrent ``step``.
        ``temperature`` 0 takes the most likely character (greedy).
        """
        if max_chars < 0:
            raise ValueError(f"max_chars must be >= 0, got {max_chars}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        ids = encode_text(prefix or "\n")[None].to(device)
        logits, state = self.net(ids, return_state=True)
        last = logits[:, -1]
        stops = {CHARS.index(c) for c in stop if c in CHARS}
        out: list[int] = []
        for _ in range(max_chars):
            if temperature == 0:
                token = int(last.argmax(-1))
            else:
                probs = torch.softmax(last.float() / temperature, -1)
                token = int(torch.multinomial(probs, 1, generator=generator))
            if token in stops:
                break
            out.append(token)
            last, state = self.net.step(torch.tensor([token], device=device), state)
        self.train(was_training)
        return decode_ids(out)


@register_model("char_lm")
def char_lm(**kwargs: Any) -> CharLM:
    """:class:`CharLM`, the RecurrentGPT loop's local generator (``layer`` any core layer, default ``deltanet``)."""
    return CharLM(**kwargs)
