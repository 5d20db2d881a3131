"""Generated translation-like tasks for the sequence-to-sequence model: a reordering grammar and copy/reverse.

Both give a :class:`TranslationPairs` (source and target id sequences, each target ending in EOS, the two
vocabularies, and a word-by-word lexicon for the monotone baseline). Ids 0, 1, 2 are padding, BOS and EOS
on both sides. Every split is drawn at once with numpy from ``(seed, split)``, so the same seed gives the
same data anywhere and the splits never overlap by construction of their streams.

**grammar** (:func:`generate_grammar`): an English-like SVO source translated into a head-final SOV target
with agreement, so the order changes over long distances and the verb's agreement marker depends on a
subject read many words earlier::

    source   DET ADJ* NOUN   VERB   DET ADJ* NOUN   [PREP DET ADJ* NOUN]
    target   NOUN [PL] ADJ*(reversed) DET   [NOUN [PL] ADJ*(rev) DET POSTP]   NOUN [PL] ADJ*(rev) DET OBJ   VERB AGR

- a noun is written singular or plural in the source (``dog`` / ``dogs``); the target writes the stem and a
  plural marker ``ta``; the demonstrative agrees in number (``this`` / ``these``, target ``nu`` either way);
- the verb agrees with the subject in the source (``sees`` / ``see``) and, in the target, through the
  final marker ``mi`` (singular subject) or ``mu`` (plural), after the object and the moved PP;
- adjectives (0 to ``max_adjectives`` per noun) follow the noun in reverse order; the prepositional phrase
  moves before the object and its preposition becomes a postposition; the object takes the marker ``o``.

**copy_reverse** (:func:`generate_copy_reverse`): random words; the target is the source reversed
(``mode="reverse"``) or copied (``mode="copy"``). Reading the source reversed (the paper's trick) turns one
into the other, so it isolates the "minimal time lag" the paper credits for its gain.

The monotone baseline (:meth:`TranslationPairs.monotone`) translates word by word with the lexicon and
keeps the source order: right words, wrong order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "SPECIALS",
    "TranslationPairs",
    "compact_rows",
    "generate_copy_reverse",
    "generate_grammar",
    "split_rng",
]

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")
_SPLITS = {"train": 0, "val": 1, "test": 2}

NOUNS = ("dog", "cat", "bird", "horse", "child", "farmer", "king", "girl", "boy", "wolf", "fox", "teacher")
NOUNS_PL = (
    "dogs",
    "cats",
    "birds",
    "horses",
    "children",
    "farmers",
    "kings",
    "girls",
    "boys",
    "wolves",
    "foxes",
    "teachers",
)
ADJECTIVES = ("big", "small", "old", "young", "red", "quiet", "happy", "tired")
VERBS = ("sees", "likes", "follows", "helps", "finds", "calls", "watches", "feeds")
VERBS_PL = ("see", "like", "follow", "help", "find", "call", "watch", "feed")
PREPOSITIONS = ("near", "behind", "with", "under")

T_NOUNS = ("inu", "neko", "tori", "uma", "ko", "nofu", "ou", "sho", "bo", "okami", "kitsu", "sen")
T_ADJECTIVES = ("dai", "sai", "fur", "wak", "aka", "shiz", "ure", "tsuk")
T_VERBS = ("mir", "suk", "tsu", "tas", "mitsu", "yob", "nagam", "kaer")
T_POSTPOSITIONS = ("chika", "ushi", "tomo", "shita")
T_DET_DEFINITE, T_DET_DEMONSTRATIVE, T_PLURAL, T_OBJECT, T_AGREE_SG, T_AGREE_PL = "ka", "nu", "ta", "o", "mi", "mu"


@dataclass(eq=False)
class TranslationPairs(Dataset):
    """Source/target id sequences of a generated task, right-padded, with both vocabularies.

    Args:
        src: [N, S] source ids (padding 0 after ``src_lengths``).
        src_lengths: [N] source lengths (>= 1).
        tgt: [N, T] target ids, each ending in EOS (padding 0 after).
        tgt_lengths: [N] target lengths, the EOS included.
        src_words, tgt_words: the vocabularies (id -> word), the three specials first.
        lexicon: [V_src, W] target ids each source word translates to word by word (0 = none).

    Item ``i`` is ``{"src": [S_i], "tgt": [T_i]}`` (int64, without padding).
    """

    src: Tensor
    src_lengths: Tensor
    tgt: Tensor
    tgt_lengths: Tensor
    src_words: tuple[str, ...]
    tgt_words: tuple[str, ...]
    lexicon: Tensor

    def __len__(self) -> int:
        return self.src.shape[0]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {
            "src": self.src[index, : int(self.src_lengths[index])].long(),
            "tgt": self.tgt[index, : int(self.tgt_lengths[index])].long(),
        }

    def monotone(self, src: Tensor, src_lengths: Tensor) -> Tensor:
        """The word-by-word baseline: each source word through the lexicon, in source order, then EOS.

        Shapes: src [B, S], src_lengths [B] -> [B, S * W + 1] target ids (padding 0 after the EOS).
        """
        return monotone_translation(src, src_lengths, self.lexicon)

    def detokenize(self, ids: Tensor, side: Literal["src", "tgt"] = "tgt") -> list[str]:
        """Space-joined words of each row of ``ids`` [B, L], up to (not including) the first EOS or padding."""
        words = self.tgt_words if side == "tgt" else self.src_words
        return detokenize(ids, words)


def detokenize(ids: Tensor, words: tuple[str, ...]) -> list[str]:
    """Space-joined words of each row of ``ids`` [B, L] up to the first EOS or padding (specials dropped)."""
    out = []
    for row in ids.tolist():
        kept = []
        for i in row:
            if i in (EOS, PAD):
                break
            if i != BOS:
                kept.append(words[i])
        out.append(" ".join(kept))
    return out


def monotone_translation(src: Tensor, src_lengths: Tensor, lexicon: Tensor) -> Tensor:
    """Word-by-word translation in source order (see :meth:`TranslationPairs.monotone`)."""
    valid = torch.arange(src.shape[1], device=src.device) < src_lengths[:, None]
    pieces = lexicon.to(src.device)[src.long()] * valid[..., None]
    flat = pieces.reshape(src.shape[0], -1)
    flat = torch.cat([flat, torch.zeros_like(flat[:, :1])], dim=1)
    out = torch.from_numpy(compact_rows(flat.cpu().numpy())).to(src.device)
    lengths = (out != PAD).sum(1)
    out[torch.arange(out.shape[0]), lengths] = EOS
    return out


def split_rng(seed: int, split: str) -> np.random.Generator:
    """A numpy generator for one split, from ``(seed, split)``; the streams are independent."""
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {', '.join(_SPLITS)}, got {split!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return np.random.default_rng(np.random.SeedSequence([seed, _SPLITS[split], 19]))


def compact_rows(slots: np.ndarray) -> np.ndarray:
    """Move each row's non-zero entries to its front, in order (stable), zeros after: [N, K] -> [N, K]."""
    order = np.argsort(slots == PAD, axis=1, kind="stable")
    return np.take_along_axis(slots, order, axis=1)


def _finish(src_slots: np.ndarray, tgt_slots: np.ndarray) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Compact both sides, trim trailing padding columns, end every target with EOS."""
    src = compact_rows(src_slots)
    tgt = compact_rows(np.concatenate([tgt_slots, np.zeros_like(tgt_slots[:, :1])], axis=1))
    src_lengths = (src != PAD).sum(1)
    tgt_lengths = (tgt != PAD).sum(1)
    tgt[np.arange(len(tgt)), tgt_lengths] = EOS
    tgt_lengths += 1
    src = src[:, : max(1, int(src_lengths.max(initial=1)))]
    tgt = tgt[:, : int(tgt_lengths.max(initial=1))]
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).long()  # noqa: E731
    return as_tensor(src), as_tensor(src_lengths), as_tensor(tgt), as_tensor(tgt_lengths)


class _Vocab:
    """Word -> id with the specials first."""

    def __init__(self) -> None:
        self.words: list[str] = list(SPECIALS)

    def add(self, words: tuple[str, ...] | list[str]) -> np.ndarray:
        start = len(self.words)
        self.words.extend(words)
        return np.arange(start, start + len(words))


def generate_grammar(
    num_samples: int, seed: int = 0, split: str = "train", max_adjectives: int = 2, pp_prob: float = 0.5
) -> TranslationPairs:
    """``num_samples`` SVO -> SOV sentence pairs of the reordering grammar (module docstring).

    Args:
        num_samples: sentence pairs.
        seed, split: the stream they are drawn from (:func:`split_rng`).
        max_adjectives: adjectives per noun phrase, drawn uniformly from 0..max_adjectives.
        pp_prob: probability of a prepositional phrase at the end of the source.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    if max_adjectives < 0:
        raise ValueError(f"max_adjectives must be 0 or more, got {max_adjectives}")
    if not 0.0 <= pp_prob <= 1.0:
        raise ValueError(f"pp_prob must lie in [0, 1], got {pp_prob}")
    rng = split_rng(seed, split)
    s, t = _Vocab(), _Vocab()
    s_noun, s_noun_pl, s_adj = s.add(NOUNS), s.add(NOUNS_PL), s.add(ADJECTIVES)
    s_verb, s_verb_pl, s_prep = s.add(VERBS), s.add(VERBS_PL), s.add(PREPOSITIONS)
    s_the, s_this, s_these = s.add(["the", "this", "these"])
    t_noun, t_adj, t_verb, t_post = t.add(T_NOUNS), t.add(T_ADJECTIVES), t.add(T_VERBS), t.add(T_POSTPOSITIONS)
    t_def, t_dem, t_pl, t_obj, t_sg_agr, t_pl_agr = t.add(
        [T_DET_DEFINITE, T_DET_DEMONSTRATIVE, T_PLURAL, T_OBJECT, T_AGREE_SG, T_AGREE_PL]
    )
    n, a = num_samples, max_adjectives

    def noun_phrase() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Source slots [n, a + 2], target slots [n, a + 3], and the plural flags [n]."""
        noun = rng.integers(0, len(NOUNS), n)
        plural = rng.random(n) < 0.5
        demonstrative = rng.random(n) < 0.4
        count = rng.integers(0, a + 1, n)
        adjectives = rng.integers(0, len(ADJECTIVES), (n, a))
        present = np.arange(a)[None] < count[:, None]
        s_det = np.where(demonstrative, np.where(plural, s_these, s_this), s_the)
        src = np.concatenate(
            [
                s_det[:, None],
                np.where(present, s_adj[adjectives], PAD),
                np.where(plural, s_noun_pl[noun], s_noun[noun])[:, None],
            ],
            axis=1,
        )
        t_adjs = np.where(present, t_adj[adjectives], PAD)[:, ::-1]
        tgt = np.concatenate(
            [
                t_noun[noun][:, None],
                np.where(plural, t_pl, PAD)[:, None],
                t_adjs,
                np.where(demonstrative, t_dem, t_def)[:, None],
            ],
            axis=1,
        )
        return src, tgt, plural

    subj_src, subj_tgt, subj_plural = noun_phrase()
    obj_src, obj_tgt, _ = noun_phrase()
    pp_src, pp_tgt, _ = noun_phrase()
    has_pp = rng.random(n) < pp_prob
    prep = rng.integers(0, len(PREPOSITIONS), n)
    verb = rng.integers(0, len(VERBS), n)
    pp_src = np.where(has_pp[:, None], np.concatenate([s_prep[prep][:, None], pp_src], axis=1), PAD)
    pp_tgt = np.where(has_pp[:, None], np.concatenate([pp_tgt, t_post[prep][:, None]], axis=1), PAD)
    src_verb = np.where(subj_plural, s_verb_pl[verb], s_verb[verb])[:, None]
    src_slots = np.concatenate([subj_src, src_verb, obj_src, pp_src], axis=1)
    tgt_tail = np.stack([np.full(n, t_obj), t_verb[verb], np.where(subj_plural, t_pl_agr, t_sg_agr)], axis=1)
    tgt_slots = np.concatenate([subj_tgt, pp_tgt, obj_tgt, tgt_tail], axis=1)
    src, src_lengths, tgt, tgt_lengths = _finish(src_slots, tgt_slots)

    lexicon = np.zeros((len(s.words), 2), dtype=np.int64)
    lexicon[s_noun, 0] = t_noun
    lexicon[s_noun_pl, 0], lexicon[s_noun_pl, 1] = t_noun, t_pl
    lexicon[s_adj, 0] = t_adj
    lexicon[s_verb, 0], lexicon[s_verb, 1] = t_verb, t_sg_agr
    lexicon[s_verb_pl, 0], lexicon[s_verb_pl, 1] = t_verb, t_pl_agr
    lexicon[s_prep, 0] = t_post
    lexicon[s_the, 0] = t_def
    lexicon[[s_this, s_these], 0] = t_dem
    return TranslationPairs(
        src, src_lengths, tgt, tgt_lengths, tuple(s.words), tuple(t.words), torch.from_numpy(lexicon)
    )


def generate_copy_reverse(
    num_samples: int,
    seed: int = 0,
    split: str = "train",
    lengths: tuple[int, int] = (4, 16),
    num_words: int = 20,
    mode: Literal["reverse", "copy"] = "reverse",
) -> TranslationPairs:
    """``num_samples`` random word sequences and their reversal (``mode="reverse"``) or copy (``"copy"``).

    Args:
        num_samples: pairs.
        seed, split: the stream they are drawn from (:func:`split_rng`).
        lengths: inclusive range of source lengths, drawn uniformly.
        num_words: distinct words ``w0 .. w{num_words-1}`` (the same on both sides).
        mode: ``"reverse"`` or ``"copy"``.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    lo, hi = (int(v) for v in lengths)
    if not 1 <= lo <= hi:
        raise ValueError(f"lengths must be an inclusive range (lo, hi) with 1 <= lo <= hi, got {lengths!r}")
    if num_words < 2:
        raise ValueError(f"num_words must be at least 2, got {num_words}")
    if mode not in ("reverse", "copy"):
        raise ValueError(f"mode must be 'reverse' or 'copy', got {mode!r}")
    rng = split_rng(seed, split)
    vocab = _Vocab()
    ids = vocab.add([f"w{i}" for i in range(num_words)])
    length = rng.integers(lo, hi + 1, num_samples)
    words = ids[rng.integers(0, num_words, (num_samples, hi))]
    src_slots = np.where(np.arange(hi)[None] < length[:, None], words, PAD)
    tgt_slots = src_slots.copy()
    if mode == "reverse":
        steps = np.arange(hi)[None]
        index = np.where(steps < length[:, None], length[:, None] - 1 - steps, steps)
        tgt_slots = np.take_along_axis(src_slots, index, axis=1)
    src, src_lengths, tgt, tgt_lengths = _finish(src_slots, tgt_slots)
    lexicon = np.zeros((len(vocab.words), 1), dtype=np.int64)
    lexicon[ids, 0] = ids
    words_ = tuple(vocab.words)
    return TranslationPairs(src, src_lengths, tgt, tgt_lengths, words_, words_, torch.from_numpy(lexicon))
