"""RecurrentGPT's recurrent generation loop, with its memories on disk (Zhou et al. 2023).

Paper: Zhou, Jiang, Cui, Wang, Xiao, Hou, Cotterell, Sachan, "RecurrentGPT: Interactive Generation of
(Arbitrarily) Long Text", 2023, https://arxiv.org/abs/2305.13304; official code aiwaves-cn/RecurrentGPT.

RecurrentGPT simulates an LSTM in natural language. Its state at step ``t`` is

- the paragraph ``C_t`` written last,
- the plan ``x_t`` for the next paragraph (one of the candidate plans step ``t - 1`` proposed),
- the short-term memory ``h_t``: a summary of recent content, rewritten every step,
- the long-term memory: every earlier paragraph ``C_1 .. C_{t-1}`` with a sentence embedding each.

A step retrieves the ``top_k`` long-term entries whose embeddings are closest in cosine similarity to
the plan's, gives the generator the instruction (the premise), ``x_t``, ``C_t``, ``h_t`` and the retrieved
paragraphs, and parses its answer into ``C_{t+1}``, ``h_{t+1}`` and candidate plans; then ``C_t`` joins the
long-term memory and the first candidate (or the one an ``edit`` hook picks) becomes ``x_{t+1}``:

.. math::
    m_t = \\operatorname{top}_k\\, \\cos\\big(e(x_t), e(C_i)\\big)_{i < t}, \\qquad
    (C_{t+1}, h_{t+1}, \\{x^{(j)}_{t+1}\\}) = \\mathrm{LM}(\\text{premise}, x_t, C_t, h_t, m_t)

As the official code: the long-term memory holds whole paragraphs (the paper's text speaks of summaries),
the query is the plan, ``top_k = 2``, three candidate plans, and the answer is read from labelled sections
(``Output Paragraph:``, ``Output Memory:`` with ``Updated Memory:``, ``Output Instruction:`` with
``Instruction 1:`` ...). The official code embeds with a SentenceTransformer (``multi-qa-mpnet-base-cos-v1``);
recur works offline, so the default :class:`HashedNgramEmbedder` is a deterministic hashed bag of words and
word bigrams; :class:`WordVectorEmbedder` uses the package's own skip-gram vectors (``--embedder word_vectors``),
and any callable ``texts -> [N, D]`` with a ``name`` can replace either (:class:`Embedder`).

On disk (``state_dir``), everything a person may read or edit is text:

- ``state.json``: the premise, the step, the plan and candidate plans, the last paragraph, the short-term
  memory, the long-term memory entries (``{"step", "text"}``), every paragraph written and the settings;
- ``embeddings.npz``: a cache of the long-term embeddings keyed by each text's digest and the embedder's
  name, so an entry a person edited is embedded again and a stale cache is harmless;
- ``story.md``: the paragraphs so far, for reading; ``responses/step_NNNN.txt``: each raw generator answer.

Every file is written to a temporary file in the same folder and renamed into place (``os.replace``), and
``state.json`` is written last: it is the commit of a step. A generation stopped at any point (an
exception in the generator, a timeout, a kill) resumes from the last completed step with its memories
intact; a rerun of that step overwrites the files it had written.

.. code-block:: bash

    recur-text generate --state runs/story --premise "A story about Mia and her kite." \\
        --steps 5 --backend scripted
    recur-text generate --state runs/story --steps 5 --backend openai \\
        --base_url http://127.0.0.1:8000/v1 --model my-model --edit
    recur-text generate --state runs/story2 --premise "Mia's day." --steps 5 --backend scripted \\
        --embedder word_vectors   # the package's skip-gram vectors of the generated stories (--vectors stories)
    recur-text show --state runs/story
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import pickle
import re
import shlex
import subprocess
import sys
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from recur_text.data.word_corpus import Vocabulary

__all__ = [
    "STATE_FILE",
    "Embedder",
    "GeneratorError",
    "HashedNgramEmbedder",
    "LongTermMemory",
    "MalformedOutput",
    "MemoryEntry",
    "RecurrentGPT",
    "StepInput",
    "StepOutput",
    "StoryState",
    "WordVectorEmbedder",
    "atomic_write",
    "format_output",
    "main",
    "parse_output",
    "render_prompt",
    "retrieve",
]

STATE_FILE = "state.json"
EMBEDDINGS_FILE = "embeddings.npz"
STORY_FILE = "story.md"
RESPONSES_DIR = "responses"
STATE_VERSION = 1
# the --vectors value that names the package's own skip-gram vectors of the generated stories
STORY_VECTORS = "stories"


class GeneratorError(RuntimeError):
    """A generator could not produce an answer (timeout, HTTP error, malformed reply); one line."""


class MalformedOutput(ValueError):
    """A generator's answer lacks a labelled section or leaves one empty; one line."""


# --- atomic files -------------------------------------------------------------------------------------------


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    A process killed meanwhile leaves the previous file whole (and at worst a hidden ``.tmp`` file, which
    nothing reads). The data is flushed and fsynced before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open(tmp, "xb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


# --- sentence embeddings ------------------------------------------------------------------------------------


class Embedder(Protocol):
    """Sentence embeddings for the long-term memory: ``embedder(texts)`` -> ``[N, D]`` float32.

    ``name`` identifies the embedding (the model and its size): cached vectors made under another name
    are recomputed. Rows need not be normalised; retrieval uses cosine similarity.
    """

    name: str

    def __call__(self, texts: Sequence[str]) -> Tensor: ...


_WORD = re.compile(r"[^\W_]+")


class HashedNgramEmbedder:
    """A deterministic bag of hashed word n-grams (lower-cased words, their bigrams), L2-normalised.

    Each n-gram adds ``±1`` at ``crc32(ngram) mod dim`` (the sign from another bit of the same hash), the
    "hashing trick"; words are runs of letters and digits, so ``Mia's`` gives ``mia`` and ``s``. It needs
    no training and no download; two texts sharing rare words are close. Swap in a learned embedding by
    passing any :class:`Embedder`.

    Args:
        dim: width ``D`` of the vectors.
        ngrams: the n-gram orders counted (1: words, 2: word bigrams).

    Shapes:
        texts (N strings) -> [N, dim] float32.
    """

    def __init__(self, dim: int = 1024, ngrams: Sequence[int] = (1, 2)) -> None:
        if dim < 2:
            raise ValueError(f"dim must be at least 2, got {dim}")
        if not ngrams or any(n < 1 for n in ngrams):
            raise ValueError(f"ngrams must be positive orders, got {list(ngrams)}")
        self.dim = dim
        self.ngrams = tuple(sorted(set(ngrams)))
        self.name = f"hashed_ngrams(dim={dim}, ngrams={list(self.ngrams)})"

    def _grams(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        return [" ".join(words[i : i + n]) for n in self.ngrams for i in range(len(words) - n + 1)]

    def __call__(self, texts: Sequence[str]) -> Tensor:
        rows, hashes = [], []
        for row, text in enumerate(texts):
            grams = self._grams(text)
            hashes.extend(zlib.crc32(g.encode("utf-8")) for g in grams)
            rows.extend([row] * len(grams))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if hashes:
            h = np.asarray(hashes, dtype=np.int64)
            np.add.at(out, (np.asarray(rows), h % self.dim), np.where((h >> 20) & 1, 1.0, -1.0).astype(np.float32))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return torch.from_numpy(out / np.maximum(norms, 1e-12))


class WordVectorEmbedder:
    """Sentence embeddings from the package's own word vectors (:class:`~recur_text.models.word2vec.Word2Vec`,
    skip-gram or CBOW): the weighted mean of a text's word vectors, L2-normalised.

    Each word ``w`` weighs :math:`a / (a + p(w))` with :math:`p(w)` its frequency in the corpus the vectors were
    trained on (the smooth inverse frequency of Arora et al. 2017), so that frequent words such as names shared
    by many paragraphs count less than the rare ones that tell paragraphs apart. Words outside the vocabulary
    are skipped; a text with none gets the zero vector.

    Args:
        vectors: ``[V, D]`` word vectors (``Word2Vec.vectors()``).
        vocabulary: the :class:`~recur_text.data.word_corpus.Vocabulary` of ``vectors``' rows, with its counts.
        label: what the vectors are (e.g. the checkpoint), part of :attr:`name` so that a cache made with other
            vectors is recomputed.
        smoothing: ``a``.

    Shapes:
        texts (N strings) -> [N, D] float32.
    """

    def __init__(self, vectors: Tensor, vocabulary: Vocabulary, label: str, smoothing: float = 1e-3) -> None:
        if vectors.dim() != 2 or vectors.shape[0] != len(vocabulary):
            raise ValueError(
                f"vectors must be [V, D] with one row per vocabulary word ({len(vocabulary)}), "
                f"got shape {tuple(vectors.shape)}"
            )
        counts = torch.as_tensor(np.asarray(vocabulary.counts), dtype=torch.float32)
        self.counts = torch.as_tensor(np.asarray(vocabulary.counts), dtype=torch.int64)
        self.weights = smoothing / (smoothing + counts / counts.sum())
        self.vectors = vectors.detach().float()
        self.index = vocabulary.index
        self.label = label
        self.name = f"word_vectors({label}, V={vectors.shape[0]}, D={vectors.shape[1]}, a={smoothing})"

    def save(self, path: str | Path) -> Path:
        """Write the vectors, their words and counts and the label to ``path`` (``torch.save``, atomically), the
        file :meth:`load` and ``recur-text generate --embedder word_vectors --vectors PATH`` read."""
        words = [""] * len(self.index)
        for word, row in self.index.items():
            words[row] = word
        payload = {"words": words, "counts": self.counts, "vectors": self.vectors, "label": self.label}
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return atomic_write(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path, smoothing: float = 1e-3) -> WordVectorEmbedder:
        """The embedder :meth:`save` wrote to ``path``; a missing or malformed file is a one-line error."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"word vectors {path} do not exist; write them with WordVectorEmbedder(Word2Vec.vectors(), "
                f"vocabulary, label).save(path) (recur_text.recurrent_gpt), or use --vectors {STORY_VECTORS} "
                "(skip-gram trained here on the generated stories)"
            )
        try:
            payload = torch.load(path, weights_only=True)
            words, counts, vectors = payload["words"], payload["counts"], payload["vectors"]
            vocabulary = Vocabulary(tuple(words), np.asarray(counts, dtype=np.int64))
            return cls(vectors, vocabulary, str(payload.get("label", path.name)), smoothing)
        except (OSError, RuntimeError, KeyError, TypeError, AttributeError, ValueError, pickle.UnpicklingError) as err:
            message = " ".join(str(err).split())[:200]
            raise ValueError(
                f"{path} is not a word-vector file written by WordVectorEmbedder.save ({message}); write it again"
            ) from None

    @classmethod
    def from_stories(
        cls, dim: int = 32, stories: int = 2000, epochs: int = 5, seed: int = 0, smoothing: float = 1e-3
    ) -> WordVectorEmbedder:
        """Skip-gram vectors (:func:`~recur_text.models.word2vec.train_word2vec`, window 5, 5 negatives) trained
        on ``stories`` generated stories (:func:`~recur_text.data.stories.generate_stories`, seed ``seed``:
        the register the local LM writes in), every word kept. Trained once (a few seconds) and cached under
        the generated-data cache."""
        from recur_core.data.generated import generated_cache, write_once
        from recur_text.data.stories import generate_stories
        from recur_text.data.word_corpus import EncodedCorpus
        from recur_text.models.word2vec import Word2Vec, train_word2vec

        options = {"format": 1, "dim": dim, "stories": stories, "epochs": epochs, "seed": seed}
        key = hashlib.sha1(json.dumps(options, sort_keys=True).encode()).hexdigest()[:10]
        label = f"skipgram on {stories} generated stories (seed {seed}, {epochs} epochs)"

        def write(tmp: Path) -> None:
            documents = [_WORD.findall(s.text.lower()) for s in generate_stories(stories, seed=seed)]
            vocabulary = Vocabulary.build(documents, min_count=1)
            model = Word2Vec(len(vocabulary), dim, "skipgram", seed=seed)
            train_word2vec(model, EncodedCorpus.encode(documents, vocabulary), epochs=epochs, seed=seed)
            cls(model.vectors(), vocabulary, label, smoothing).save(tmp / "vectors.pt")

        folder = write_once(generated_cache() / f"text-story-skipgram-{key}", options, "from_stories", write)
        return cls.load(folder / "vectors.pt", smoothing)

    def __call__(self, texts: Sequence[str]) -> Tensor:
        rows, ids = [], []
        for row, text in enumerate(texts):
            found = [self.index[w] for w in _WORD.findall(text.lower()) if w in self.index]
            ids.extend(found)
            rows.extend([row] * len(found))
        out = torch.zeros(len(texts), self.vectors.shape[1])
        if ids:
            ids_t = torch.tensor(ids)
            out.index_add_(0, torch.tensor(rows), self.vectors[ids_t] * self.weights[ids_t, None])
        return out / out.norm(dim=1, keepdim=True).clamp(min=1e-12)


def retrieve(query: Tensor, keys: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` rows of ``keys`` most similar to ``query`` in cosine similarity, best first.

    Ties keep the earlier row first (a stable sort), so retrieval is deterministic.

    Shapes:
        query [D], keys [N, D] -> (indices [min(k, N)] int64, scores [min(k, N)]).
    """
    if k < 0:
        raise ValueError(f"top_k must be >= 0, got {k}")
    if keys.shape[0] == 0 or k == 0:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0)
    scores = torch.nn.functional.cosine_similarity(keys.float(), query.float()[None], dim=-1, eps=1e-12)
    order = torch.sort(scores, descending=True, stable=True).indices[:k]
    return order, scores[order]


# --- the state -------------------------------------------------------------------------------------------------


@dataclass
class MemoryEntry:
    """One long-term memory entry: the paragraph written at ``step`` (1-based), as text."""

    step: int
    text: str


@dataclass
class StoryState:
    """Everything a generation is, as ``state.json`` holds it (see the module docstring).

    ``step`` counts completed steps; ``paragraphs[i]`` was written at step ``i + 1`` and
    ``paragraph == paragraphs[-1]`` (empty before the first step); ``long_memory`` holds the paragraphs
    of steps ``1 .. step - 1`` (those a person has not deleted or edited).
    """

    premise: str
    plan: str
    step: int = 0
    paragraph: str = ""
    short_memory: str = ""
    plans: list[str] = field(default_factory=list)
    long_memory: list[MemoryEntry] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    top_k: int = 2
    version: int = STATE_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = STATE_FILE) -> StoryState:
        """Parse and check ``state.json``; a bad file (say, after a hand edit) is one line naming the problem."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}: not valid JSON ({err.msg} at line {err.lineno}); fix the file") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(raw).__name__}")
        missing = [name for name in ("premise", "plan", "step") if name not in raw]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}; restore them (see recur_text.recurrent_gpt)")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(
                f"{where}: unknown field(s) {', '.join(unknown)}; valid fields: {', '.join(sorted(known))}"
            )
        if raw.get("version", STATE_VERSION) != STATE_VERSION:
            raise ValueError(f"{where}: state version {raw['version']} is not {STATE_VERSION}")
        try:
            raw["long_memory"] = [MemoryEntry(int(e["step"]), str(e["text"])) for e in raw.get("long_memory", [])]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{where}: long_memory must be a list of {{'step': int, 'text': str}}") from None
        state = cls(**raw)
        text_fields = ("premise", "plan", "paragraph", "short_memory")
        if not isinstance(state.step, int) or state.step < 0:
            raise ValueError(f"{where}: step must be a non-negative integer, got {state.step!r}")
        if any(not isinstance(getattr(state, name), str) for name in text_fields):
            raise ValueError(f"{where}: {', '.join(text_fields)} must be strings")
        for name in ("plans", "paragraphs"):
            if not isinstance(getattr(state, name), list) or any(not isinstance(p, str) for p in getattr(state, name)):
                raise ValueError(f"{where}: {name} must be a list of strings")
        if len(state.paragraphs) != state.step:
            raise ValueError(
                f"{where}: step is {state.step} but {len(state.paragraphs)} paragraphs are stored; make them agree"
            )
        if not isinstance(state.top_k, int) or state.top_k < 0:
            raise ValueError(f"{where}: top_k must be a non-negative integer, got {state.top_k!r}")
        return state


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class LongTermMemory:
    """The long-term memory's vectors: one row per entry, cached in ``embeddings.npz`` by text digest.

    Args:
        embedder: the sentence embedding (:class:`Embedder`).
        path: the cache file (None: no cache).
    """

    def __init__(self, embedder: Embedder, path: Path | None = None) -> None:
        self.embedder = embedder
        self.path = path
        self._cache: dict[str, np.ndarray] = {}
        if path is not None and path.is_file():
            self._cache = self._read(path)

    def _read(self, path: Path) -> dict[str, np.ndarray]:
        try:
            with np.load(path, allow_pickle=False) as f:
                if str(f["embedder"]) != self.embedder.name:
                    return {}
                return dict(zip(f["digests"].tolist(), f["vectors"]))
        except (OSError, ValueError, KeyError, zlib.error):
            # a damaged cache costs a re-embedding, nothing else
            return {}

    def vectors(self, texts: Sequence[str]) -> Tensor:
        """``[N, D]`` vectors of ``texts``, embedding only those the cache lacks."""
        digests = [_digest(t) for t in texts]
        todo = [i for i, d in enumerate(digests) if d not in self._cache]
        if todo:
            fresh = self.embedder([texts[i] for i in todo]).detach().float().cpu().numpy()
            self._cache.update({digests[i]: row for i, row in zip(todo, fresh)})
        if not texts:
            return torch.zeros(0, 1)
        return torch.from_numpy(np.stack([self._cache[d] for d in digests]))

    def save(self, texts: Sequence[str]) -> None:
        """Write the cache of ``texts`` (and nothing else) atomically."""
        if self.path is None:
            return
        digests = [_digest(t) for t in texts]
        vectors = np.stack([self._cache[d] for d in digests]) if texts else np.zeros((0, 1), np.float32)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, embedder=np.array(self.embedder.name), digests=np.array(digests, dtype="U40"), vectors=vectors
        )
        atomic_write(self.path, buffer.getvalue())


# --- one step: what goes in, what comes out -----------------------------------------------------------------


@dataclass(frozen=True)
class StepInput:
    """What the generator sees at a step (the prompt, structured).

    Attributes:
        premise: the user's instruction for the whole text.
        plan: ``x_t``, the plan of the paragraph to write.
        paragraph: ``C_t``, the last paragraph ("" at the first step).
        short_memory: ``h_t``.
        retrieved: the long-term entries retrieved for the plan, best first.
        step: the number of the paragraph to write (1-based).
    """

    premise: str
    plan: str
    paragraph: str
    short_memory: str
    retrieved: tuple[str, ...]
    step: int


@dataclass(frozen=True)
class StepOutput:
    """A generator's parsed answer: ``C_{t+1}``, ``h_{t+1}`` and the candidate plans ``x_{t+1}``."""

    paragraph: str
    short_memory: str
    plans: tuple[str, ...]


_SECTIONS = ("Output Paragraph:", "Output Memory:", "Output Instruction:")
_HEADER = re.compile(r"^[ \t*#]*(Output Paragraph|Output Memory|Output Instruction)[ \t*]*:[ \t*]*", re.I | re.M)
_INSTRUCTION = re.compile(r"^[ \t*#-]*Instruction\s*(\d+)[ \t*]*:[ \t*]*", re.I | re.M)
_UPDATED = re.compile(r"^[ \t*#-]*Updated Memory[ \t*]*:[ \t*]*", re.I | re.M)


def render_prompt(step: StepInput, num_plans: int = 3) -> str:
    """The instruction text a chat model gets for ``step``, asking for the three labelled sections."""
    related = "\n".join(f"Related paragraph {i + 1}: {text}" for i, text in enumerate(step.retrieved)) or "(none)"
    plans = "\n".join(f"Instruction {i + 1}: <a possible next paragraph, in a few sentences>" for i in range(num_plans))
    return (
        "You are writing a long text one paragraph at a time. You keep a short memory (a summary of what "
        "matters so far, at most 20 sentences) and are shown related earlier paragraphs.\n\n"
        f"Overall instruction:\n{step.premise}\n\n"
        f"Input memory:\n{step.short_memory or '(empty)'}\n\n"
        f"Input paragraph:\n{step.paragraph or '(this is the first paragraph)'}\n\n"
        f"Input instruction (what to write now):\n{step.plan}\n\n"
        f"Input related paragraphs:\n{related}\n\n"
        "Write the next paragraph following the input instruction and consistent with the memory and the related "
        "paragraphs; then rewrite the memory, dropping what no longer matters and adding what the new paragraph "
        f"makes important; then propose {num_plans} different plans for the paragraph after it. "
        "Answer in exactly this format:\n\n"
        "Output Paragraph:\n<the paragraph>\n\n"
        "Output Memory:\nUpdated Memory: <the rewritten memory>\n\n"
        f"Output Instruction:\n{plans}\n"
    )


def format_output(output: StepOutput) -> str:
    """``output`` in the labelled format :func:`parse_output` reads (what a well-behaved model answers)."""
    plans = "\n".join(f"Instruction {i + 1}: {plan}" for i, plan in enumerate(output.plans))
    return (
        f"Output Paragraph:\n{output.paragraph}\n\n"
        f"Output Memory:\nUpdated Memory: {output.short_memory}\n\n"
        f"Output Instruction:\n{plans}\n"
    )


def parse_output(text: str) -> StepOutput:
    """Read the three labelled sections of a generator's answer.

    ``Output Paragraph:`` is the paragraph; in ``Output Memory:`` the text after ``Updated Memory:`` (the
    whole section without it) is the short-term memory; ``Output Instruction:`` is split at ``Instruction
    N:`` into plans (the whole section is one plan without them). Labels are matched at line starts, in any
    case, with markdown ``**``/``#`` around them tolerated.

    Raises:
        MalformedOutput: a section is missing, repeated or empty.
    """
    headers = list(_HEADER.finditer(text))
    found: dict[str, str] = {}
    for i, match in enumerate(headers):
        name = match.group(1).lower()
        if name in found:
            raise MalformedOutput(f"the generator's answer has two '{match.group(1)}:' sections; expected one each")
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        found[name] = text[match.end() : end].strip()
    for label in _SECTIONS:
        body = found.get(label[:-1].lower())
        if body is None:
            snippet = " ".join(text.split())[:80]
            raise MalformedOutput(f"the generator's answer has no '{label}' section (it begins {snippet!r})")
        if not body:
            raise MalformedOutput(f"the generator's answer has an empty '{label}' section")
    memory = found["output memory"]
    updated = list(_UPDATED.finditer(memory))
    if updated:
        memory = memory[updated[-1].end() :].strip()
    if not memory:
        raise MalformedOutput("the generator's answer has an empty 'Updated Memory:'")
    section = found["output instruction"]
    marks = list(_INSTRUCTION.finditer(section))
    if marks:
        plans = [
            section[m.end() : (marks[i + 1].start() if i + 1 < len(marks) else len(section))]
            for i, m in enumerate(marks)
        ]
    else:
        plans = [section]
    plans = [" ".join(p.split()) for p in plans]
    plans = [p for p in plans if p]
    if not plans:
        raise MalformedOutput("the generator's answer has no non-empty 'Instruction N:' plan")
    return StepOutput(paragraph=found["output paragraph"], short_memory=memory, plans=tuple(plans))


Generator = Callable[[StepInput], str]
# the human-in-the-loop hook: sees the proposed output and the state before the step, returns the output to keep
EditHook = Callable[[StepOutput, StoryState], StepOutput]


# --- the loop ------------------------------------------------------------------------------------------------


class RecurrentGPT:
    """The loop over a state folder: ``propose`` a step, ``step`` (propose and commit), ``run`` N steps.

    Create a generation with :meth:`create`, reopen one (to resume, or after a person edited
    ``state.json``) with :meth:`open`.

    Args:
        state_dir: the folder of ``state.json`` and the other files.
        state: the state to continue from.
        generator: ``StepInput -> str``, the labelled answer (:mod:`recur_text.generators`).
        embedder: the long-term memory's sentence embedding (default :class:`HashedNgramEmbedder`).
        edit: optional human-in-the-loop hook ``(proposed StepOutput, state) -> StepOutput`` applied
            before a step is committed (choose or rewrite a plan, fix the paragraph or the memory).
    """

    def __init__(
        self,
        state_dir: str | Path,
        state: StoryState,
        generator: Generator,
        embedder: Embedder | None = None,
        edit: EditHook | None = None,
    ) -> None:
        self.dir = Path(state_dir)
        self.state = state
        self.generator = generator
        self.embedder = embedder or HashedNgramEmbedder()
        self.edit = edit
        self.memory = LongTermMemory(self.embedder, self.dir / EMBEDDINGS_FILE)

    @classmethod
    def create(
        cls,
        state_dir: str | Path,
        premise: str,
        generator: Generator,
        plan: str | None = None,
        top_k: int = 2,
        embedder: Embedder | None = None,
        edit: EditHook | None = None,
    ) -> RecurrentGPT:
        """Start a generation in ``state_dir`` (absent or empty); the first plan defaults to the premise."""
        folder = Path(state_dir)
        if (folder / STATE_FILE).exists():
            raise FileExistsError(
                f"{folder} already holds a generation ({STATE_FILE}); resume it or choose another --state"
            )
        if not premise.strip():
            raise ValueError("the premise is empty; say what to write (--premise)")
        if top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 turns the long-term memory off), got {top_k}")
        state = StoryState(premise=premise.strip(), plan=(plan or premise).strip(), top_k=top_k)
        loop = cls(folder, state, generator, embedder, edit)
        loop._commit()
        return loop

    @classmethod
    def open(
        cls,
        state_dir: str | Path,
        generator: Generator,
        embedder: Embedder | None = None,
        edit: EditHook | None = None,
    ) -> RecurrentGPT:
        """Reopen the generation in ``state_dir`` at its last completed step."""
        path = Path(state_dir) / STATE_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no generation there; start one with --premise")
        return cls(
            state_dir, StoryState.from_json(path.read_text(encoding="utf-8"), str(path)), generator, embedder, edit
        )

    def step_input(self, plan: str | None = None) -> StepInput:
        """The generator's input for the next step (``plan`` replaces the state's plan, e.g. for a probe)."""
        s = self.state
        plan = s.plan if plan is None else plan
        texts = [e.text for e in s.long_memory]
        retrieved: tuple[str, ...] = ()
        if texts and s.top_k > 0:
            keys = self.memory.vectors(texts)
            index, _ = retrieve(self.embedder([plan])[0], keys, s.top_k)
            retrieved = tuple(texts[i] for i in index.tolist())
        return StepInput(s.premise, plan, s.paragraph, s.short_memory, retrieved, s.step + 1)

    def propose(self, plan: str | None = None) -> tuple[StepOutput, str]:
        """Run the generator for the next step without writing anything: ``(parsed output, raw answer)``.

        Raises:
            GeneratorError, MalformedOutput: the backend failed or answered without the sections.
        """
        raw = self.generator(self.step_input(plan))
        if not isinstance(raw, str):
            raise GeneratorError(f"the generator returned {type(raw).__name__}, expected the answer as a string")
        return parse_output(raw), raw

    def step(self) -> StepOutput:
        """One step: generate, parse, apply the ``edit`` hook, then commit it to disk."""
        output, raw = self.propose()
        if self.edit is not None:
            output = self.edit(output, replace(self.state))
            if not output.paragraph.strip() or not output.plans:
                raise ValueError("the edit left no paragraph or no plan; each step needs both")
        s = self.state
        atomic_write(self.dir / RESPONSES_DIR / f"step_{s.step + 1:04d}.txt", raw)
        long_memory = list(s.long_memory)
        if s.paragraph.strip():
            long_memory.append(MemoryEntry(s.step, s.paragraph))
        self.state = replace(
            s,
            step=s.step + 1,
            paragraph=output.paragraph,
            short_memory=output.short_memory,
            plans=list(output.plans),
            plan=output.plans[0],
            long_memory=long_memory,
            paragraphs=[*s.paragraphs, output.paragraph],
        )
        self._commit()
        return output

    def run(self, steps: int, on_step: Callable[[RecurrentGPT, StepOutput], None] | None = None) -> StoryState:
        """Take ``steps`` more steps (each committed before the next); ``on_step`` runs after each commit."""
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        for _ in range(steps):
            output = self.step()
            if on_step is not None:
                on_step(self, output)
        return self.state

    def reload(self) -> None:
        """Read ``state.json`` again (after a person edited it)."""
        path = self.dir / STATE_FILE
        self.state = StoryState.from_json(path.read_text(encoding="utf-8"), str(path))

    def _commit(self) -> None:
        # embeddings first, state last: state.json is what says a step happened
        texts = [e.text for e in self.state.long_memory]
        self.memory.vectors(texts)
        self.memory.save(texts)
        atomic_write(self.dir / STATE_FILE, self.state.to_json())
        story = "\n\n".join(self.state.paragraphs)
        atomic_write(self.dir / STORY_FILE, f"<!-- {self.state.premise} -->\n\n{story}\n")


# --- command line ----------------------------------------------------------------------------------------------


def _edit_in_editor(state_dir: Path, editor: str) -> None:
    """Open a copy of ``state.json`` in ``editor``; a valid edit replaces the state atomically."""
    path = state_dir / STATE_FILE
    draft = state_dir / "state.edit.json"
    atomic_write(draft, path.read_bytes())
    subprocess.run([*shlex.split(editor), str(draft)], check=True)
    text = draft.read_text(encoding="utf-8")
    StoryState.from_json(text, str(draft))
    atomic_write(path, text)
    draft.unlink()


def _build_generator(args: argparse.Namespace) -> Generator:
    from recur_text import generators

    if args.backend == "openai":
        if not args.base_url or not args.model:
            raise ValueError("--backend openai needs --base_url (e.g. http://127.0.0.1:8000/v1) and --model")
        return generators.OpenAIChatGenerator(
            args.base_url, args.model, timeout=args.timeout, retries=args.retries, temperature=args.temperature
        )
    if args.backend == "local":
        if not args.checkpoint:
            raise ValueError(
                "--backend local needs --checkpoint: train one with recur-text fit --config char_lm/stories "
                "and pass its runs/.../checkpoints/best.ckpt"
            )
        return generators.LocalLMGenerator.from_checkpoint(
            args.checkpoint, temperature=args.temperature, seed=args.seed
        )
    return generators.ScriptedGenerator(seed=args.seed)


def _build_embedder(args: argparse.Namespace) -> Embedder:
    if args.embedder == "hashed":
        return HashedNgramEmbedder()
    if args.vectors == STORY_VECTORS:
        return WordVectorEmbedder.from_stories()
    return WordVectorEmbedder.load(args.vectors)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recur-text", description="RecurrentGPT's recurrent generation loop")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="start or resume a generation in --state")
    gen.add_argument("--state", required=True, help="the generation's folder (state.json, embeddings.npz, story.md)")
    gen.add_argument("--premise", help="what to write (starts a new generation; omit to resume)")
    gen.add_argument("--plan", help="the first plan (default: the premise)")
    gen.add_argument("--steps", type=int, default=1, help="steps to take now")
    gen.add_argument("--top_k", type=int, default=2, help="long-term entries retrieved per step (0: none)")
    gen.add_argument("--backend", choices=("local", "openai", "scripted"), default="local")
    gen.add_argument("--checkpoint", help="local: a char_lm checkpoint (recur-text fit --config char_lm/stories)")
    gen.add_argument("--base_url", help="openai: the API root, e.g. http://127.0.0.1:8000/v1")
    gen.add_argument("--model", help="openai: the model name the server expects")
    gen.add_argument("--timeout", type=float, default=120.0, help="openai: seconds per request")
    gen.add_argument("--retries", type=int, default=2, help="openai: retries after a timeout or a 5xx/429")
    gen.add_argument(
        "--embedder",
        choices=("hashed", "word_vectors"),
        default="hashed",
        help="the long-term memory's sentence embedding: hashed word n-grams (no training), or the mean of word "
        "vectors weighted by smooth inverse frequency (--vectors); resume with the same choice (another one "
        "re-embeds the memory)",
    )
    gen.add_argument(
        "--vectors",
        default=STORY_VECTORS,
        help=f"word_vectors: {STORY_VECTORS!r} (default: the package's skip-gram vectors of the generated "
        "stories, trained here once in seconds and cached) or a file written by WordVectorEmbedder.save",
    )
    gen.add_argument("--temperature", type=float, default=0.7)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument(
        "--edit", action="store_true", help="after each step, open state.json in $EDITOR (human in the loop)"
    )
    gen.add_argument("--editor", default=os.environ.get("EDITOR", "vi"), help="the editor command for --edit")
    show = commands.add_parser("show", help="print a generation's step, plan, memories and last paragraph")
    show.add_argument("--state", required=True)
    return parser


def run_command(argv: Sequence[str] | None = None, out=None) -> int:
    """Run the command line ``argv``, printing to ``out`` (stdout); errors raise (``main`` makes them one line)."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    folder = Path(args.state)
    if args.command == "show":
        loop = RecurrentGPT.open(folder, generator=lambda _: "")
        s = loop.state
        print(f"step {s.step}; long-term memory {len(s.long_memory)} entries; top_k {s.top_k}", file=out)
        print(f"plan: {s.plan}\nshort-term memory: {s.short_memory}\nlast paragraph: {s.paragraph}", file=out)
        return 0
    if args.steps < 0:
        raise ValueError(f"--steps must be >= 0, got {args.steps}")
    generator = _build_generator(args)
    embedder = _build_embedder(args)
    if args.premise is not None:
        loop = RecurrentGPT.create(folder, args.premise, generator, plan=args.plan, top_k=args.top_k, embedder=embedder)
    else:
        loop = RecurrentGPT.open(folder, generator, embedder=embedder)

    def after(loop: RecurrentGPT, output: StepOutput) -> None:
        print(f"step {loop.state.step}: {output.paragraph[:100]!r}", file=out)
        if args.edit:
            _edit_in_editor(folder, args.editor)
            loop.reload()

    loop.run(args.steps, on_step=after)
    print(f"{folder / STATE_FILE}: step {loop.state.step}, {len(loop.state.long_memory)} long-term entries", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry: a user's mistake or a backend failure ends in one line (``RECUR_DEBUG=1``: traceback)."""
    try:
        return run_command(argv)
    except (GeneratorError, MalformedOutput, ValueError, FileNotFoundError, FileExistsError, OSError) as err:
        if os.environ.get("RECUR_DEBUG"):
            raise
        message = " ".join(str(err).split())
        print(
            f"recur-text generate: error: {message} (the state folder keeps its last completed step)", file=sys.stderr
        )
        return 2
    except subprocess.CalledProcessError as err:
        print(
            f"recur-text generate: error: the editor exited with {err.returncode}; state.json unchanged",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
