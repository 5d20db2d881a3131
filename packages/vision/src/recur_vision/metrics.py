"""Metrics of recur_vision: pure functions of predictions and references.

- Captions: BLEU-1..4, CIDEr (CIDEr-D, as the COCO server) and ROUGE-L by the COCO caption
  evaluation code itself (``pycocoevalcap``, pinned), and METEOR where Java runs (:func:`caption_scores`);
  :class:`CiderD`, each caption's CIDEr-D with document frequencies fixed once from a corpus (the reward of
  self-critical training); :func:`paired_caption_bootstrap`, the standard error of the gap between two
  captioners on the same images (per-image CIDEr-D, and corpus BLEU-4 from per-image counts).
- Visual concepts (multi-label): the mean over labels of the average precision (:func:`mean_average_precision`).
"""

from __future__ import annotations

import math
import operator
import shutil
from collections import Counter
from collections.abc import Sequence
from functools import reduce

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "PTB_PUNCTUATION",
    "CiderD",
    "bleu_counts",
    "bleu_from_counts",
    "caption_scores",
    "cider_per_image",
    "mean_average_precision",
    "meteor_score",
    "meteor_scores",
    "meteor_unavailable",
    "normalize_caption",
    "paired_caption_bootstrap",
]

# the punctuation tokens the COCO evaluation drops after its PTB tokenizer (pycocoevalcap/tokenizer/ptbtokenizer.py)
PTB_PUNCTUATION = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)


def normalize_caption(text: str) -> str:
    """A caption as the COCO evaluation scores it: lower-case, whitespace tokens, its punctuation tokens dropped.

    The COCO code runs Stanford's PTB tokenizer (Java) first; recur's captions are already token
    lists (Karpathy's ``tokens``, or decoded word ids), so they are only lower-cased and split on
    whitespace, and the tokens the evaluation drops after tokenizing (:data:`PTB_PUNCTUATION`) are
    dropped here too.
    """
    return " ".join(w for w in text.lower().split() if w not in PTB_PUNCTUATION)


def _as_coco(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> tuple[dict, dict]:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists; give one per image")
    if not hypotheses:
        raise ValueError("no captions to score: give at least one hypothesis with its references")
    gts, res = {}, {}
    for i, (refs, hyp) in enumerate(zip(references, hypotheses)):
        if isinstance(refs, str) or not refs:
            raise ValueError(f"image {i}: references must be a non-empty list of captions, got {refs!r}")
        gts[i] = [normalize_caption(r) for r in refs]
        res[i] = [normalize_caption(hyp)]
    return gts, res


def caption_scores(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> dict[str, float]:
    """BLEU-1..4, CIDEr and ROUGE-L of ``hypotheses`` (one caption per image) against ``references``.

    Computed by ``pycocoevalcap`` 1.2 (the COCO caption evaluation code): corpus BLEU with the
    closest reference length, CIDEr-D (σ = 6, clipped counts, ×10; document frequencies from the
    references of the scored images) and ROUGE-L (β = 1.2, best precision and recall over the
    references). Captions are normalised with :func:`normalize_caption`.

    Returns:
        ``{"bleu1", "bleu2", "bleu3", "bleu4", "cider", "rouge_l"}``, each a float (BLEU and ROUGE in
        [0, 1]; CIDEr in [0, 10]).
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    gts, res = _as_coco(references, hypotheses)
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    cider, _ = Cider().compute_score(gts, res)
    rouge, _ = Rouge().compute_score(gts, res)
    scores = {f"bleu{n}": float(b) for n, b in enumerate(bleu, start=1)}
    return {**scores, "cider": float(cider), "rouge_l": float(rouge)}


class CiderD:
    """CIDEr-D (Vedantam, Zitnick & Parikh, CVPR 2015, https://arxiv.org/abs/1411.5726) of single captions, with
    the document frequencies of a fixed ``corpus`` of reference lists, computed once.

    pycocoevalcap's ``Cider`` takes the document frequencies from the references of the images it scores;
    self-critical training (Rennie et al. 2017, https://arxiv.org/abs/1612.00563) scores a few images per batch,
    so, as its code does, they come from the training references instead and a caption's reward does not depend
    on which images share its batch. Given the same corpus, each score equals pycocoevalcap's. For a caption
    ``c`` with references ``S = {s_1..s_m}``:

    .. math::
        g_k(x) = \\mathrm{tf}_k(x) \\, (\\log |D| - \\log \\max(1, \\mathrm{df}_k)), \\qquad
        \\mathrm{CIDEr\\text{-}D}(c, S) = \\frac{10}{N m} \\sum_{n=1}^{N} \\sum_{j=1}^{m}
            e^{-\\frac{(\\ell(c) - \\ell(s_j))^2}{2 \\sigma^2}}
            \\frac{\\min(g^n(c), g^n(s_j)) \\cdot g^n(s_j)}{\\lVert g^n(c) \\rVert \\, \\lVert g^n(s_j) \\rVert}

    ``tf_k``: the n-gram's count in the caption; ``df_k``: the corpus images whose references contain it; ``|D|``:
    the corpus's images; ``g^n``: the vector over n-grams of length n (a dot product of 0 when either norm is 0);
    ``ℓ``: the caption's bigram count (pycocoevalcap's length); N = ``n``, σ = ``sigma``. Captions are normalised
    with :func:`normalize_caption` first.

    Args:
        corpus: a reference list per image (the training references).
        n: longest n-gram (4).
        sigma: width of the length penalty (6).
    """

    def __init__(self, corpus: Sequence[Sequence[str]], n: int = 4, sigma: float = 6.0) -> None:
        if not corpus:
            raise ValueError("CiderD needs a corpus of at least one image's references for its document frequencies")
        self.n, self.sigma = n, sigma
        self.document_frequency: Counter = Counter()
        for refs in corpus:
            self.document_frequency.update({g for ref in refs for g in self._counts(normalize_caption(ref))})
        self.log_images = math.log(len(corpus))
        # references repeat (templates, and every sample of an image has the same ones): their vectors are made
        # once; a hypothesis's each time (sampled captions are many and mostly new, a cache of them only grows)
        self._reference_vectors: dict[str, tuple[list[dict], list[float], int]] = {}

    def _counts(self, caption: str) -> Counter:
        words = caption.split()
        return Counter(tuple(words[i : i + k]) for k in range(1, self.n + 1) for i in range(len(words) - k + 1))

    def _vector(self, caption: str) -> tuple[list[dict], list[float], int]:
        """The tf-idf vector per n-gram length, its norms and the caption's bigram count."""
        counts = self._counts(caption)
        vector: list[dict] = [{} for _ in range(self.n)]
        for gram, count in counts.items():
            idf = self.log_images - math.log(max(1.0, self.document_frequency[gram]))
            vector[len(gram) - 1][gram] = count * idf
        norms = [math.sqrt(sum(v * v for v in grams.values())) for grams in vector]
        return vector, norms, sum(c for g, c in counts.items() if len(g) == 2)

    def _reference_vector(self, caption: str) -> tuple[list[dict], list[float], int]:
        if caption not in self._reference_vectors:
            self._reference_vectors[caption] = self._vector(caption)
        return self._reference_vectors[caption]

    def score(self, references: Sequence[str], hypothesis: str) -> float:
        """CIDEr-D of one caption against its image's references."""
        vector, norms, length = self._vector(normalize_caption(hypothesis))
        total = 0.0
        for ref in references:
            ref_vector, ref_norms, ref_length = self._reference_vector(normalize_caption(ref))
            penalty = math.exp(-((length - ref_length) ** 2) / (2 * self.sigma**2))
            for grams, ref_grams, norm, ref_norm in zip(vector, ref_vector, norms, ref_norms):
                dot = sum(min(v, ref_grams.get(g, 0.0)) * ref_grams.get(g, 0.0) for g, v in grams.items())
                total += penalty * (dot / (norm * ref_norm) if norm and ref_norm else dot)
        return 10.0 * total / self.n / len(references)

    def __call__(self, references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> list[float]:
        """CIDEr-D of each hypothesis against its own reference list."""
        if len(references) != len(hypotheses):
            raise ValueError(
                f"{len(hypotheses)} hypotheses but {len(references)} reference lists; give one per caption"
            )
        return [self.score(refs, hyp) for refs, hyp in zip(references, hypotheses)]


def cider_per_image(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> np.ndarray:
    """Each image's CIDEr-D ``[N]`` as :func:`caption_scores` computes it (their mean is its ``cider``)."""
    from pycocoevalcap.cider.cider import Cider

    gts, res = _as_coco(references, hypotheses)
    return np.asarray(Cider().compute_score(gts, res)[1], dtype=np.float64)


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[k : k + n]) for k in range(len(tokens) - n + 1))


def bleu_counts(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> np.ndarray:
    """BLEU's sufficient statistics per image ``[N, 10]``: clipped n-gram matches (n = 1..4), the hypothesis's
    n-grams (n = 1..4), its length and the reference length closest to it (ties: the shorter), as the COCO code.

    Summed over any subset of images, :func:`bleu_from_counts` gives that subset's corpus BLEU, which is
    what a bootstrap over images needs.
    """
    gts, res = _as_coco(references, hypotheses)
    rows = []
    for i in range(len(res)):
        hyp = res[i][0].split()
        refs = [r.split() for r in gts[i]]
        # an n-gram counts up to as often as the reference that has it most often
        matches = [
            sum((_ngrams(hyp, n) & reduce(operator.or_, (_ngrams(ref, n) for ref in refs))).values())
            for n in range(1, 5)
        ]
        guesses = [max(0, len(hyp) - n + 1) for n in range(1, 5)]
        closest = min((len(ref) for ref in refs), key=lambda length: (abs(length - len(hyp)), length))
        rows.append([*matches, *guesses, len(hyp), closest])
    return np.asarray(rows, dtype=np.float64)


def bleu_from_counts(counts: np.ndarray) -> np.ndarray:
    """Corpus BLEU-1..4 ``[..., 4]`` from :func:`bleu_counts` summed over images (``[..., 10]``), as pycocoevalcap:
    the geometric mean of the n-gram precisions (each with its tiny smoothing) times the brevity penalty."""
    tiny, small = 1e-15, 1e-9
    precisions = (counts[..., :4] + tiny) / (counts[..., 4:8] + small)
    bleu = np.cumprod(precisions, axis=-1) ** (1.0 / np.arange(1, 5))
    ratio = (counts[..., 8] + tiny) / (counts[..., 9] + small)
    penalty = np.where(ratio < 1, np.exp(1 - 1 / np.minimum(ratio, 1)), 1.0)
    return bleu * penalty[..., None]


def paired_caption_bootstrap(
    references: Sequence[Sequence[str]],
    first: Sequence[str],
    second: Sequence[str],
    draws: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """The gap ``first - second`` in CIDEr-D and BLEU-4 between two captioners of the same images, and its
    bootstrap standard error: ``draws`` resamples of the images with replacement, the same for both.

    CIDEr-D is the mean of per-image scores whose document frequencies come from all the images'
    references (fixed over the resamples); BLEU-4 is the corpus BLEU of each resample.

    Returns:
        ``{"cider", "cider_se", "bleu4", "bleu4_se"}``: the gaps on all the images and their standard errors.
    """
    if len(first) != len(second):
        raise ValueError(f"the two captioners give {len(first)} and {len(second)} captions; give one each per image")
    cider = cider_per_image(references, first) - cider_per_image(references, second)
    counts_first, counts_second = bleu_counts(references, first), bleu_counts(references, second)
    picks = np.random.default_rng(seed).integers(0, len(first), size=(draws, len(first)))
    bleu_gaps = bleu_from_counts(counts_first[picks].sum(1))[:, 3] - bleu_from_counts(counts_second[picks].sum(1))[:, 3]
    return {
        "cider": float(cider.mean()),
        "cider_se": float(cider[picks].mean(1).std()),
        "bleu4": float(bleu_from_counts(counts_first.sum(0))[3] - bleu_from_counts(counts_second.sum(0))[3]),
        "bleu4_se": float(bleu_gaps.std()),
    }


def meteor_unavailable() -> str | None:
    """Why METEOR cannot run here (no ``java`` on PATH), or None when it can."""
    if shutil.which("java") is None:
        return "METEOR skipped: it runs pycocoevalcap's meteor-1.5.jar, and no 'java' is on PATH (install a JRE)"
    return None


def meteor_score(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> float:
    """METEOR 1.5 (``-l en -norm``) by the COCO evaluation's jar; needs Java (see :func:`meteor_unavailable`).

    Raises:
        RuntimeError: Java is missing or the METEOR process failed; the message says which.
    """
    return meteor_scores(references, {"": hypotheses})[""]


def meteor_scores(references: Sequence[Sequence[str]], systems: dict[str, Sequence[str]]) -> dict[str, float]:
    """:func:`meteor_score` of several captioners' ``hypotheses`` (by name) against the same references,
    from one METEOR process (starting Java is most of its cost)."""
    reason = meteor_unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    from pycocoevalcap.meteor.meteor import Meteor

    scored = {name: _as_coco(references, hypotheses) for name, hypotheses in systems.items()}
    try:
        scorer = Meteor()
        return {name: float(scorer.compute_score(gts, res)[0]) for name, (gts, res) in scored.items()}
    except (OSError, ValueError) as err:
        raise RuntimeError(f"METEOR failed ({type(err).__name__}: {err}); check that 'java -jar' runs") from None


def mean_average_precision(scores: Tensor, targets: Tensor) -> float:
    """The mean over labels of each label's average precision: ``scores`` and 0/1 ``targets`` ``[N, C]``.

    A label's AP is ``sum_k (R_k - R_{k-1}) P_k`` over its distinct score thresholds, from the highest
    (``P_k``, ``R_k``: precision and recall of calling every image with a score at or above the k-th
    threshold positive); tied scores enter together, as scikit-learn's ``average_precision_score``, so a
    constant score gets the label's positive rate. Labels without a positive image are left out of the
    mean. All labels are scored at once (one sort per column).
    """
    if scores.shape != targets.shape or scores.dim() != 2:
        raise ValueError(
            f"scores and targets must both be [N, C], got {tuple(scores.shape)} and {tuple(targets.shape)}"
        )
    scores, order = scores.detach().float().sort(dim=0, descending=True)
    hits = targets.detach().float().gather(0, order)
    positives = hits.sum(0)
    true_pos = hits.cumsum(0)
    ranks = torch.arange(1, len(scores) + 1, dtype=torch.float32, device=scores.device)[:, None]
    # the last row of each run of tied scores is where a threshold's precision and recall are read
    ends = torch.ones_like(hits, dtype=torch.bool)
    ends[:-1] = scores[1:] != scores[:-1]
    at_ends = torch.where(ends, true_pos, torch.zeros_like(true_pos))
    # true positives at the previous threshold: true_pos is non-decreasing, so a running max of the shifted ends
    before = torch.cat([torch.zeros_like(at_ends[:1]), at_ends[:-1]]).cummax(0).values
    precision_gain = torch.where(ends, (true_pos - before) * true_pos / ranks, torch.zeros_like(hits))
    ap = precision_gain.sum(0) / positives.clamp_min(1)
    scored = positives > 0
    if not bool(scored.any()):
        raise ValueError("no label has a positive image; average precision is undefined")
    return float(ap[scored].mean())
