"""The embedded text corpus of the embedding models: documentation strings that ship with installed packages.

The thesis (Lai 2016) trains its embeddings on Wikipedia and newswire and classifies 20 Newsgroups, Fudan,
ACL and SST documents; none of those can be downloaded here. What a fresh clone does have is prose written
by people: the documentation strings of the Python standard library, the language reference that ships as
``pydoc_data.topics``, and the docstrings of the pinned scientific packages (numpy, scipy, scikit-learn).

- :func:`extract_documents`: every module, class and function docstring of a source, read with :mod:`ast`
  from the ``.py`` files (nothing is imported, so no module runs), test folders left out; the language
  reference topics as they are. Identical texts are kept once (the first in path order).
- :func:`docstring_corpus`: those documents written once as ``documents.jsonl`` under
  :func:`recur_core.data.generated_cache` (keyed by the sources, the Python version and the packages'
  versions) and read back as a :class:`DocstringCorpus`.
- The **labelled set** (document classification): standard-library docstrings of at least
  ``min_label_tokens`` tokens from the :data:`TOPIC_PACKAGES` top-level packages, labelled by that
  package (``tkinter``, ``asyncio``, ``email``, ...). Each lands in train / val / test by a hash of its
  module and qualified name (70 / 10 / 20), so the split does not depend on what else is in the corpus.
- The **embedding corpus**: every document except the labelled val and test documents, so that the
  document vectors of those are inferred, never trained, and no evaluation text is seen while training.
- :func:`swap_adjacent_words`: the same words with local word order broken (a share of adjacent word pairs
  swapped), the negatives of the word-order task of :class:`recur_text.documents.DocstringTopicData`.

The corpus depends on the Python version (the standard library's docstrings change between releases) and
on the pinned package versions; both are part of the cache key and of :attr:`DocstringCorpus.options`.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import json
import random
import re
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from recur_core.data.generated import generated_cache, write_once

__all__ = [
    "SOURCES",
    "TOPIC_PACKAGES",
    "DocstringCorpus",
    "Document",
    "docstring_corpus",
    "extract_documents",
    "swap_adjacent_words",
    "tokenize",
]

# what can be read: the standard library, its language reference, and pinned packages' docstrings
SOURCES: tuple[str, ...] = ("stdlib", "pydoc_topics", "numpy", "scipy", "sklearn")
_PACKAGES = {"numpy": "numpy", "scipy": "scipy", "sklearn": "scikit-learn"}
_SKIP_PARTS = {"test", "tests", "idle_test", "site-packages", "__pycache__"}

# the labelled set's classes: standard-library packages with >= ~150 docstrings of >= 8 words each
TOPIC_PACKAGES: tuple[str, ...] = (
    "asyncio",
    "distutils",
    "email",
    "idlelib",
    "importlib",
    "lib2to3",
    "logging",
    "tkinter",
    "turtle",
    "unittest",
    "xml",
    "_pydecimal",
)
_FORMAT = 1
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
# doctest lines (">>> x = 1", "... more") are code, not prose
_DOCTEST = re.compile(r"^\s*(>>>|\.\.\.)(\s|$).*$", re.MULTILINE)


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text``: runs of letters (inner apostrophes kept); doctest lines dropped.

    Identifiers split at underscores, dots and digits (``os.path_join2`` -> ``os``, ``path``, ``join``).
    """
    return _WORD.findall(_DOCTEST.sub("", text).lower())


def swap_adjacent_words(tokens: list[str], rate: float, key: str) -> list[str]:
    """``tokens`` with ``max(1, round(rate * len(tokens)))`` adjacent pairs of different words swapped.

    The pairs do not overlap (no word moves by more than one place) and are drawn by a generator seeded with
    ``key``, so the same key always gives the same result. Fewer pairs are swapped when fewer fit; ``tokens``
    with no two different neighbours come back unchanged.
    """
    if not 0.0 < rate <= 0.5:
        raise ValueError(f"rate must be in (0, 0.5] (a share of adjacent pairs), got {rate}")
    out = list(tokens)
    candidates = [i for i in range(len(out) - 1) if out[i] != out[i + 1]]
    random.Random(key).shuffle(candidates)
    wanted, taken = max(1, round(rate * len(out))), set()
    for i in candidates:
        if len(taken) == wanted:
            break
        if not taken.intersection((i - 1, i, i + 1)):
            taken.add(i)
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


@dataclass(frozen=True)
class Document:
    """One documentation string.

    Attributes:
        source: which of :data:`SOURCES` it came from.
        module: the dotted module it is in (``email.message``); for a language-reference topic, ``topics``.
        name: qualified name in the module (``Message.get_payload``; ``""`` for the module docstring), or the topic.
        text: the docstring as :func:`ast.get_docstring` cleans it.
    """

    source: str
    module: str
    name: str
    text: str

    @property
    def package(self) -> str:
        """The top-level package (``email`` for ``email.message``)."""
        return self.module.split(".")[0]


def _python_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        if not _SKIP_PARTS.intersection(path.relative_to(root).parts):
            yield path


def _docstrings(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """``(qualified name, docstring)`` of the module and every class and function in it, in source order."""
    text = ast.get_docstring(tree)
    if text:
        yield "", text
    stack: list[tuple[str, ast.AST]] = [("", tree)]
    while stack:
        prefix, node = stack.pop()
        children = [
            c
            for c in ast.iter_child_nodes(node)
            if isinstance(c, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        for child in reversed(children):
            name = f"{prefix}.{child.name}" if prefix else child.name
            stack.append((name, child))
        if prefix:
            text = ast.get_docstring(node)  # type: ignore[arg-type]
            if text:
                yield prefix, text


def _source_root(source: str) -> tuple[Path, str]:
    if source == "stdlib":
        return Path(sysconfig.get_paths()["stdlib"]), ""
    spec = importlib.util.find_spec(source)
    if spec is None or spec.origin is None:
        raise ValueError(
            f"corpus source {source!r} needs the package {_PACKAGES[source]}, which is not installed; "
            f"pip install {_PACKAGES[source]} (pinned in requirements.txt) or leave {source!r} out of sources"
        )
    return Path(spec.origin).parent, source


def extract_documents(source: str) -> list[Document]:
    """Every docstring of ``source`` (one of :data:`SOURCES`) as a :class:`Document`, in path order.

    Files that do not parse (a few standard-library files are Python-2 test fixtures) are skipped.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown corpus source {source!r}; valid sources: {', '.join(SOURCES)}")
    if source == "pydoc_topics":
        import pydoc_data.topics

        return [Document(source, "topics", k, v) for k, v in sorted(pydoc_data.topics.topics.items())]
    root, prefix = _source_root(source)
    documents = []
    for path in _python_files(root):
        relative = path.relative_to(root).with_suffix("")
        parts = [p for p in relative.parts if p != "__init__"] if relative.name == "__init__" else list(relative.parts)
        module = ".".join([prefix, *parts] if prefix else parts) or prefix
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        documents.extend(Document(source, module, name, text) for name, text in _docstrings(tree))
    return documents


def _split_of(document: Document) -> str:
    digit = int(hashlib.sha1(f"{document.module}:{document.name}".encode()).hexdigest(), 16) % 10
    return "train" if digit < 7 else "val" if digit == 7 else "test"


@dataclass
class DocstringCorpus:
    """The documents, the labelled set and the embedding corpus (module docstring).

    Attributes:
        documents: every document (duplicates removed), in source then path order.
        tokens: ``tokenize(document.text)`` for each document.
        labelled: per split, indices into ``documents`` of the labelled set.
        labels: per split, the class index (into ``classes``) of each labelled document.
        classes: the labelled set's class names (:data:`TOPIC_PACKAGES` present in this Python).
        options: what the corpus was built from (sources, versions), as in the cache key.
    """

    documents: list[Document]
    tokens: list[list[str]]
    labelled: dict[str, list[int]]
    labels: dict[str, list[int]]
    classes: tuple[str, ...]
    options: dict = field(default_factory=dict)

    def embedding_documents(self) -> list[int]:
        """Indices of the documents embeddings train on: all but the labelled val and test documents."""
        held = set(self.labelled["val"]) | set(self.labelled["test"])
        return [i for i in range(len(self.documents)) if i not in held and self.tokens[i]]

    def split_tokens(self, split: str) -> list[list[str]]:
        """Token lists of the labelled documents of ``split``."""
        return [self.tokens[i] for i in self.labelled[split]]


def _versions(sources: tuple[str, ...]) -> dict[str, str]:
    versions = {"python": ".".join(map(str, sys.version_info[:3]))}
    for source in sources:
        if source in _PACKAGES:
            try:
                versions[source] = importlib.metadata.version(_PACKAGES[source])
            except importlib.metadata.PackageNotFoundError:
                _source_root(source)  # raises the one-line error naming the package
    return versions


def docstring_corpus(
    sources: tuple[str, ...] | list[str] = SOURCES,
    min_label_tokens: int = 8,
    folder: str | Path | None = None,
) -> DocstringCorpus:
    """The corpus of ``sources``, extracted once into ``folder`` (default: under the generated-data cache).

    Args:
        sources: any of :data:`SOURCES`; ``"stdlib"`` must be among them (the labelled set is drawn from it).
        min_label_tokens: a standard-library docstring joins the labelled set from this many tokens on.
        folder: where ``documents.jsonl`` is written (default
            ``generated_cache() / "text-docstrings-<key>"``).
    """
    sources = tuple(sources)
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or "stdlib" not in sources:
        raise ValueError(
            f"sources must be a subset of {', '.join(SOURCES)} that includes 'stdlib' (the labelled set's "
            f"source), got {list(sources)}"
        )
    if min_label_tokens < 1:
        raise ValueError(f"min_label_tokens must be at least 1, got {min_label_tokens}")
    options = {"format": _FORMAT, "sources": list(sources), "versions": _versions(sources)}
    key = hashlib.sha1(json.dumps(options, sort_keys=True).encode()).hexdigest()[:10]
    folder = Path(folder) if folder is not None else generated_cache() / f"text-docstrings-{key}"

    def write(tmp: Path) -> None:
        seen: set[str] = set()
        with (tmp / "documents.jsonl").open("w") as f:
            for source in sources:
                for document in extract_documents(source):
                    if document.text in seen:
                        continue
                    seen.add(document.text)
                    f.write(json.dumps([document.source, document.module, document.name, document.text]) + "\n")

    write_once(folder, options, "recur_text.data.docstrings.docstring_corpus", write)
    with (folder / "documents.jsonl").open() as f:
        documents = [Document(*json.loads(line)) for line in f]
    tokens = [tokenize(d.text) for d in documents]
    present = {d.package for d in documents if d.source == "stdlib"}
    classes = tuple(p for p in TOPIC_PACKAGES if p in present)
    index = {c: i for i, c in enumerate(classes)}
    labelled: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    labels: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for i, document in enumerate(documents):
        if document.source == "stdlib" and document.package in index and len(tokens[i]) >= min_label_tokens:
            split = _split_of(document)
            labelled[split].append(i)
            labels[split].append(index[document.package])
    return DocstringCorpus(documents, tokens, labelled, labels, classes, {**options, "folder": str(folder)})
