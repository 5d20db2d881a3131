"""Caption metrics: the COCO evaluation code against hand-worked numbers, an independent CIDEr-D and torchmetrics."""

import math
from collections import Counter

import numpy as np
import pytest
import torch
from torchmetrics.functional.text import bleu_score

from recur_vision.metrics import (
    CiderD,
    bleu_counts,
    bleu_from_counts,
    caption_scores,
    cider_per_image,
    meteor_score,
    meteor_unavailable,
    normalize_caption,
    paired_caption_bootstrap,
)

REFERENCES = [["a red circle", "there is a red circle"], ["two blue squares", "there are two blue squares"]]
HYPOTHESES = ["a red circle", "two green squares"]


def test_bleu_and_rouge_match_the_hand_worked_case():
    scores = caption_scores(REFERENCES, HYPOTHESES)
    # both hypotheses have 3 words and a 3-word reference (closest length): brevity penalty 1.
    # n-gram matches / counts over the corpus: 1-grams 5/6, 2-grams 2/4, 3-grams 1/2, 4-grams 0/0
    assert scores["bleu1"] == pytest.approx(5 / 6, abs=1e-8)
    assert scores["bleu2"] == pytest.approx(math.sqrt(5 / 6 * 2 / 4), abs=1e-8)
    assert scores["bleu3"] == pytest.approx((5 / 6 * 2 / 4 * 1 / 2) ** (1 / 3), abs=1e-8)
    # the COCO code smooths an empty n-gram count as (0 + 1e-15) / (0 + 1e-9) = 1e-6, so BLEU-4 is not 0
    assert scores["bleu4"] == pytest.approx((5 / 6 * 2 / 4 * 1 / 2 * 1e-6) ** (1 / 4), rel=1e-6)
    # ROUGE-L (beta 1.2) from the best LCS precision and recall over the references:
    # image 0: P = R = 1 -> 1; image 1: "two squares", P = R = 2/3 -> 2/3
    assert scores["rouge_l"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-8)


def _cider_d(references: list[list[str]], hypotheses: list[str], n: int = 4, sigma: float = 6.0) -> float:
    """CIDEr-D (Vedantam et al. 2015) written from its definition: tf-idf n-gram vectors, clipped
    candidate weights, a Gaussian length penalty, mean over n and references, times 10."""
    split = [[r.split() for r in refs] for refs in references]
    # document frequency: in how many images' references an n-gram appears
    df = Counter()
    for refs in split:
        df.update({tuple(w[i : i + k]) for w in refs for k in range(1, n + 1) for i in range(len(w) - k + 1)})
    log_images = math.log(len(references))

    def vectors(words):
        out = []
        for k in range(1, n + 1):
            counts = Counter(tuple(words[i : i + k]) for i in range(len(words) - k + 1))
            out.append({g: c * (log_images - math.log(max(1.0, df[g]))) for g, c in counts.items()})
        return out

    total = 0.0
    for refs, hyp in zip(split, hypotheses):
        words = hyp.split()
        h = vectors(words)
        per_n = [0.0] * n
        for ref in refs:
            r = vectors(ref)
            for k in range(n):
                dot = sum(min(v, r[k].get(g, 0.0)) * r[k].get(g, 0.0) for g, v in h[k].items())
                norms = math.sqrt(sum(v * v for v in h[k].values())) * math.sqrt(sum(v * v for v in r[k].values()))
                sim = dot / norms if norms else dot
                per_n[k] += sim * math.exp(-((len(words) - len(ref)) ** 2) / (2 * sigma**2))
        total += 10.0 * sum(per_n) / n / len(refs)
    return total / len(references)


def test_cider_matches_its_definition():
    assert caption_scores(REFERENCES, HYPOTHESES)["cider"] == pytest.approx(_cider_d(REFERENCES, HYPOTHESES), rel=1e-9)
    references = [
        ["a red circle left of a blue square", "a blue square right of a red circle"],
        ["three green triangles", "there are three green triangles"],
        ["a yellow square above a purple circle", "a purple circle below a yellow square"],
    ]
    hypotheses = ["a red circle left of a green square", "three green triangles", "a purple circle above a square"]
    assert caption_scores(references, hypotheses)["cider"] == pytest.approx(_cider_d(references, hypotheses), rel=1e-9)


def test_bleu_agrees_with_torchmetrics_where_both_define_it():
    references = [
        ["a red circle left of a blue square", "a blue square right of a red circle"],
        ["three green triangles in the picture", "there are three green triangles"],
        ["a yellow square above a purple circle", "a purple circle below a yellow square"],
    ]
    hypotheses = [
        "a red circle left of a green square",
        "there are three green triangles",
        "a purple circle above a square",
    ]
    ours = caption_scores(references, hypotheses)
    for n in range(1, 5):
        theirs = float(bleu_score(hypotheses, references, n_gram=n))
        assert ours[f"bleu{n}"] == pytest.approx(theirs, abs=1e-6), n
    # where an n-gram order has no candidate at all, torchmetrics says 0 and the COCO code smooths (above)
    assert float(bleu_score(HYPOTHESES, REFERENCES, n_gram=4)) == 0.0 < caption_scores(REFERENCES, HYPOTHESES)["bleu4"]


def test_captions_are_normalised_as_the_coco_evaluation():
    assert normalize_caption("Two Squares , all RED .") == "two squares all red"
    same = caption_scores([["two squares , all red"]], ["Two squares all red"])
    assert same["bleu4"] == pytest.approx(1.0) and same["rouge_l"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("references", "hypotheses", "message"),
    [
        ([["a"]], ["a", "b"], "2 hypotheses but 1 reference lists"),
        (["a red circle"], ["a red circle"], "references must be a non-empty list"),
        ([[]], ["a"], "references must be a non-empty list"),
        ([], [], "no captions to score"),
    ],
)
def test_bad_input_is_one_line(references, hypotheses, message):
    with pytest.raises(ValueError, match=message):
        caption_scores(references, hypotheses)


@pytest.mark.slow
def test_meteor_runs_where_java_does():
    reason = meteor_unavailable()
    if reason is not None:
        pytest.skip(reason)
    right = meteor_score(REFERENCES, ["a red circle", "two blue squares"])
    wrong = meteor_score(REFERENCES, ["a green triangle", "one purple shape"])
    assert 0.0 <= wrong < right <= 1.0


def test_meteor_says_why_it_is_skipped(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert "no 'java' is on PATH" in meteor_unavailable()
    with pytest.raises(RuntimeError, match="METEOR skipped"):
        meteor_score(REFERENCES, HYPOTHESES)


def test_mean_average_precision_equals_scikit_learn_with_ties():
    from recur_vision.metrics import mean_average_precision

    metrics = pytest.importorskip("sklearn.metrics")
    generator = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 5, (40, 6), generator=generator).float()
    targets = (torch.rand(40, 6, generator=generator) < 0.3).float()
    targets[:, 5] = 0  # a label without a positive image is left out
    expected = sum(metrics.average_precision_score(targets[:, c], scores[:, c]) for c in range(5)) / 5
    assert mean_average_precision(scores, targets) == pytest.approx(expected, abs=1e-6)
    # a constant score gets the positive rate
    assert mean_average_precision(torch.ones(10, 1), torch.tensor([[1.0]] * 3 + [[0.0]] * 7)) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="must both be"):
        mean_average_precision(scores, targets[:, :3])


def test_cider_d_with_fixed_document_frequencies_equals_pycocoevalcap_on_the_same_references():
    from pycocoevalcap.cider.cider import Cider

    references = [
        ["a red circle left of a blue square", "a blue square right of a red circle", "there is a red circle"],
        ["three green triangles", "there are three green triangles"],
        ["a yellow square above a purple circle", "a purple circle below a yellow square"],
        ["two blue squares", "there are two blue squares"],
    ]
    hypotheses = ["a red circle left of a green square", "three green triangles", "a purple circle above a square", ""]
    mean, per_image = Cider().compute_score(dict(enumerate(references)), {i: [h] for i, h in enumerate(hypotheses)})
    scores = CiderD(references)(references, hypotheses)
    assert scores == pytest.approx(list(per_image), abs=1e-9)
    assert sum(scores) / len(scores) == pytest.approx(mean, abs=1e-9)
    # normalised as the evaluation: case and punctuation tokens do not change a score
    assert CiderD(references)(references[:1], ["A red circle , left of a green square"]) == pytest.approx(scores[:1])


def test_cider_d_hand_case_and_the_corpus_fixes_the_document_frequencies():
    # two corpus images: every n-gram of "a b" is in one of them, idf log 2
    scorer = CiderD([["a b"], ["c d"]])
    assert scorer.score(["a b"], "a b") == pytest.approx(10 * (1 + 1 + 0 + 0) / 4)
    # "a" against "a b": unigram cosine 1/sqrt(2), no bigram; lengths (bigrams) 0 and 1
    assert scorer.score(["a b"], "a") == pytest.approx(10 * (math.exp(-1 / 72) / math.sqrt(2)) / 4)
    # scoring other references keeps the corpus's frequencies: "a" is in one image of two, not in all
    assert scorer.score(["a", "a"], "a") == pytest.approx(10 * 1 / 4)
    with pytest.raises(ValueError, match="one per caption"):
        scorer([["a b"]], ["a", "b"])


def _random_caption(rng):
    words = ["a", "red", "blue", "circle", "square", "two", "there", "is", "above", ","]
    return " ".join(rng.choice(words) for _ in range(int(rng.integers(1, 9))))


def _random_captions(rng, images):
    """``images`` lists of one to three references, and one hypothesis per image."""
    references = [[_random_caption(rng) for _ in range(int(rng.integers(1, 4)))] for _ in range(images)]
    return references, [_random_caption(rng) for _ in range(images)]


def test_per_image_counts_give_the_coco_corpus_bleu_and_per_image_cider_its_cider():
    rng = np.random.default_rng(0)
    references, hypotheses = _random_captions(rng, 40)
    scores = caption_scores(references, hypotheses)
    counts = bleu_counts(references, hypotheses)
    bleu = bleu_from_counts(counts.sum(0))
    assert bleu == pytest.approx([scores[f"bleu{n}"] for n in range(1, 5)], rel=1e-9)
    # any subset's counts give that subset's corpus BLEU
    subset = [3, 3, 7, 20, 31]
    picked = caption_scores([references[i] for i in subset], [hypotheses[i] for i in subset])
    assert bleu_from_counts(counts[subset].sum(0))[3] == pytest.approx(picked["bleu4"], rel=1e-9)
    assert cider_per_image(references, hypotheses).mean() == pytest.approx(scores["cider"], rel=1e-12)


def test_paired_bootstrap_of_a_captioner_against_itself_and_a_worse_one():
    rng = np.random.default_rng(1)
    references, hypotheses = _random_captions(rng, 60)
    same = paired_caption_bootstrap(references, hypotheses, hypotheses, draws=50)
    assert same == {"cider": 0.0, "cider_se": 0.0, "bleu4": 0.0, "bleu4_se": 0.0}
    # the first reference of every image against random captions: a large gap, a positive standard error
    gap = paired_caption_bootstrap(references, [r[0] for r in references], hypotheses, draws=200)
    assert gap["cider"] > 2 * gap["cider_se"] > 0 and gap["bleu4"] > 2 * gap["bleu4_se"] > 0
    with pytest.raises(ValueError, match="give one each per image"):
        paired_caption_bootstrap(references, hypotheses, hypotheses[:-1])
