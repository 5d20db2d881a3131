"""Output vocabularies for transducers: characters, and BPE pieces through sentencepiece.

Both put the RNN-T blank **last** (``blank == size - 1``), as torchaudio's Emformer RNN-T LibriSpeech
recipe does (4096 BPE pieces + blank = 4097 outputs, ``blank=4096``); ``size`` counts the blank.

- :class:`CharVocabulary`: the characters of the training transcripts (LibriSpeech: 26 upper-case
  letters, apostrophe and space). A character outside it is a one-line error, never silently dropped.
- :class:`SentencePieceVocabulary`: BPE (Sennrich et al. 2016, https://arxiv.org/abs/1508.07909) trained
  with sentencepiece (Kudo and Richardson 2018, https://arxiv.org/abs/1808.06226), the library and model
  type of the recipe's ``spm_bpe_4096.model``; trained in memory from the transcripts and kept as the
  ``.model`` bytes. Id 0 is ``<unk>`` (characters never seen in training); there is no BOS/EOS.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = [
    "CharVocabulary",
    "SentencePieceVocabulary",
    "Vocabulary",
    "output_tokens",
    "vocabulary_from_state",
    "vocabulary_state",
]


class CharVocabulary:
    """One output per character, then the blank.

    Args:
        symbols: the characters, each a single character, no repeats (their order gives the ids).
    """

    def __init__(self, symbols: Sequence[str]) -> None:
        symbols = list(symbols)
        bad = [s for s in symbols if len(s) != 1]
        if bad:
            raise ValueError(f"CharVocabulary symbols must be single characters, got {bad[0]!r}")
        if len(set(symbols)) != len(symbols):
            raise ValueError("CharVocabulary symbols repeat a character; give each character once")
        if not symbols:
            raise ValueError("CharVocabulary needs at least one character")
        self.symbols = symbols
        self._ids = {s: i for i, s in enumerate(symbols)}

    @classmethod
    def build(cls, texts: Iterable[str]) -> CharVocabulary:
        """The sorted characters of ``texts`` (the training transcripts)."""
        return cls(sorted({c for text in texts for c in text}))

    @property
    def size(self) -> int:
        """Outputs of the joiner: the characters and the blank."""
        return len(self.symbols) + 1

    @property
    def blank(self) -> int:
        return len(self.symbols)

    def encode(self, text: str) -> list[int]:
        """Ids of the characters of ``text``; a character outside the vocabulary is a ValueError."""
        try:
            return [self._ids[c] for c in text]
        except KeyError as err:
            raise ValueError(
                f"character {err.args[0]!r} of {text[:40]!r} is not in the vocabulary; normalise the text "
                "or build the vocabulary from transcripts that contain it"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` (blanks skipped); an id outside ``[0, size)`` is a ValueError."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < self.size:
                raise ValueError(f"token id {i} is outside the vocabulary [0, {self.size})")
            if i != self.blank:
                out.append(self.symbols[i])
        return "".join(out)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"kind": "char", "symbols": self.symbols}, ensure_ascii=False) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> CharVocabulary:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: cannot read a character vocabulary ({type(err).__name__})") from None
        if not isinstance(data, dict) or data.get("kind") != "char" or not isinstance(data.get("symbols"), list):
            raise ValueError(f"{path}: not a character vocabulary; expected JSON {{'kind': 'char', 'symbols': [...]}}")
        return cls(data["symbols"])


class SentencePieceVocabulary:
    """BPE pieces of a sentencepiece model, then the blank.

    Args:
        model_proto: the serialised sentencepiece model (the bytes of a ``.model`` file).
    """

    def __init__(self, model_proto: bytes) -> None:
        import sentencepiece

        self.model_proto = bytes(model_proto)
        self.processor = sentencepiece.SentencePieceProcessor()
        try:
            self.processor.LoadFromSerializedProto(self.model_proto)
        except (RuntimeError, OSError) as err:
            raise ValueError(f"not a sentencepiece model ({str(err).splitlines()[0][:80]})") from None

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, model_type: str = "bpe") -> SentencePieceVocabulary:
        """Train a sentencepiece model of ``vocab_size`` pieces (``<unk>`` included) on ``texts``.

        Raises ValueError when ``vocab_size`` is more than the texts allow (the message gives the maximum).
        """
        import sentencepiece

        if model_type not in ("bpe", "unigram"):
            raise ValueError(f"model_type must be 'bpe' or 'unigram', got {model_type!r}")
        texts = [t for t in texts if t.strip()]
        if not texts:
            raise ValueError("SentencePieceVocabulary.train got no text; pass the training transcripts")
        writer = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=iter(texts),
                model_writer=writer,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=1.0,
                bos_id=-1,
                eos_id=-1,
                unk_id=0,
                minloglevel=2,
            )
        except RuntimeError as err:
            reason = str(err).split("]")[-1].strip() or type(err).__name__
            raise ValueError(f"cannot train a {vocab_size}-piece {model_type} vocabulary: {reason}") from None
        return cls(writer.getvalue())

    @property
    def size(self) -> int:
        """Outputs of the joiner: the pieces and the blank."""
        return self.processor.get_piece_size() + 1

    @property
    def blank(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return list(self.processor.encode(text))

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` (blanks skipped); an id outside ``[0, size)`` is a ValueError."""
        pieces = []
        for i in ids:
            i = int(i)
            if not 0 <= i < self.size:
                raise ValueError(f"token id {i} is outside the vocabulary [0, {self.size})")
            if i != self.blank:
                pieces.append(i)
        return self.processor.decode(pieces)

    def save(self, path: str | Path) -> Path:
        """Write the ``.model`` file (readable by any sentencepiece)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.model_proto)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SentencePieceVocabulary:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"sentencepiece model not found: {path}")
        try:
            return cls(path.read_bytes())
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None


Vocabulary = CharVocabulary | SentencePieceVocabulary


def vocabulary_state(vocabulary: Vocabulary) -> dict:
    """The vocabulary as plain data a checkpoint holds (``torch.load(weights_only=True)`` reads it back):
    ``{"kind": "char", "symbols": [...]}`` or ``{"kind": "sentencepiece", "model": <the .model bytes>}``."""
    if isinstance(vocabulary, CharVocabulary):
        return {"kind": "char", "symbols": list(vocabulary.symbols)}
    if isinstance(vocabulary, SentencePieceVocabulary):
        return {"kind": "sentencepiece", "model": vocabulary.model_proto}
    raise TypeError(f"expected a CharVocabulary or SentencePieceVocabulary, got {type(vocabulary).__name__}")


def output_tokens(vocabulary: Vocabulary) -> list[str]:
    """The token of every joiner output, by id: the characters or pieces, then ``"<blank>"``."""
    if isinstance(vocabulary, CharVocabulary):
        tokens = list(vocabulary.symbols)
    else:
        tokens = [vocabulary.processor.id_to_piece(i) for i in range(vocabulary.blank)]
    return [*tokens, "<blank>"]


def vocabulary_from_state(state: dict) -> Vocabulary:
    """The vocabulary :func:`vocabulary_state` described."""
    kind = state.get("kind") if isinstance(state, dict) else None
    if kind == "char":
        return CharVocabulary(state["symbols"])
    if kind == "sentencepiece":
        return SentencePieceVocabulary(state["model"])
    raise ValueError(f"not a saved vocabulary (kind {kind!r}); expected kind 'char' or 'sentencepiece'")
