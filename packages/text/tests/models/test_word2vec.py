"""Skip-gram / CBOW with negative sampling: closed-form gradients against float64 autograd, the batched SGD
step against a per-example reference, word2vec's windows and subsampling, and a tiny learning test."""

import math
import random

import numpy as np
import pytest
import torch

from recur_text.data.word_corpus import EncodedCorpus, Vocabulary
from recur_text.models.word2vec import (
    Word2Vec,
    cbow_windows,
    keep_probabilities,
    loss_and_gradients,
    negative_sampling_gradients,
    negative_sampling_loss,
    noise_cumulative,
    sample_negatives,
    skipgram_pairs,
    train_word2vec,
)


def test_closed_form_gradients_match_float64_autograd():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(4, 6, dtype=torch.float64, generator=g).requires_grad_()
    pos = torch.randn(4, 6, dtype=torch.float64, generator=g).requires_grad_()
    neg = torch.randn(4, 3, 6, dtype=torch.float64, generator=g).requires_grad_()
    mask = torch.tensor([[1, 1, 0], [1, 1, 1], [0, 1, 1], [1, 1, 1]], dtype=torch.float64)
    loss = negative_sampling_loss(h, pos, neg, mask)
    # the loss by its definition, term by term
    expected = torch.tensor(
        [
            -math.log(torch.sigmoid(h[b] @ pos[b]).item())
            - sum(mask[b, k].item() * math.log(torch.sigmoid(-(h[b] @ neg[b, k])).item()) for k in range(3))
            for b in range(4)
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-12, atol=1e-12)
    auto = torch.autograd.grad(loss.sum(), (h, pos, neg))
    closed = negative_sampling_gradients(h.detach(), pos.detach(), neg.detach(), mask)
    for a, c in zip(auto, closed):
        torch.testing.assert_close(c, a, rtol=1e-12, atol=1e-12)
    # the SGD steps' single pass gives the same mean loss
    mean, *_ = loss_and_gradients(h.detach(), pos.detach(), neg.detach(), mask)
    assert abs(mean - loss.mean().item()) < 1e-12


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_batched_sgd_step_is_the_sum_of_per_example_steps(architecture):
    # a batch's updates are all computed from the same parameters and summed, as lock-free threads do
    model = Word2Vec(7, 5, architecture, seed=1).double()
    with torch.no_grad():
        model.output_vectors.normal_(generator=torch.Generator().manual_seed(2))
    if architecture == "skipgram":
        inputs = torch.tensor([0, 3, 3])
    else:
        inputs = torch.tensor([[0, 1, -1], [3, 3, 2], [4, -1, -1]])
    targets = torch.tensor([1, 2, 5])
    negatives = torch.tensor([[2, 4], [2, 6], [5, 0]])  # the third example's first negative is its target
    reference = [p.detach().clone() for p in (model.input_vectors, model.output_vectors)]
    lr = 0.1
    for b in range(3):
        params = [
            model.input_vectors.detach().clone().requires_grad_(),
            model.output_vectors.detach().clone().requires_grad_(),
        ]
        probe = Word2Vec(7, 5, architecture).double()
        probe.input_vectors.data, probe.output_vectors.data = params[0].data, params[1].data
        loss = probe(inputs[b : b + 1], targets[b : b + 1], negatives[b : b + 1]).sum()
        grads = torch.autograd.grad(loss, (probe.input_vectors, probe.output_vectors))
        reference[0] -= lr * grads[0]
        reference[1] -= lr * grads[1]
    if architecture == "cbow":
        # word2vec.c / gensim hand the mean's full error to every context word, undivided: autograd divides by n
        counts = (inputs >= 0).sum(1)
        reference[0] = model.input_vectors.detach().clone()
        for b in range(3):
            h = model.hidden(inputs[b : b + 1]).detach()
            mask = (negatives[b : b + 1] != targets[b : b + 1, None]).double()
            grad_h = negative_sampling_gradients(
                h,
                model.output_vectors[targets[b : b + 1]].detach(),
                model.output_vectors[negatives[b : b + 1]].detach(),
                mask,
            )[0]
            for w in inputs[b][: counts[b]]:
                reference[0][w] -= lr * grad_h[0]
    model.sgd_step(inputs, targets, negatives, lr)
    torch.testing.assert_close(model.input_vectors.detach(), reference[0])
    torch.testing.assert_close(model.output_vectors.detach(), reference[1])


def test_skipgram_pairs_follow_the_dynamic_window_within_sentences():
    sentence = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1])
    g = torch.Generator().manual_seed(3)
    centres, contexts = skipgram_pairs(sentence, 2, g)
    reach = torch.randint(1, 3, (8,), generator=torch.Generator().manual_seed(3))
    expected = {
        (i, j) for i in range(8) for j in range(8) if i != j and sentence[i] == sentence[j] and abs(i - j) <= reach[i]
    }
    got = list(zip(centres.tolist(), contexts.tolist()))
    assert len(got) == len(set(got)) and set(got) == expected


def test_cbow_windows_are_the_skipgram_contexts_of_each_centre():
    sentence = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    columns, valid = cbow_windows(sentence, 3, torch.Generator().manual_seed(5))
    reach = torch.randint(1, 4, (7,), generator=torch.Generator().manual_seed(5))
    for i in range(7):
        expected = {j for j in range(7) if j != i and sentence[j] == sentence[i] and abs(i - j) <= reach[i]}
        assert set(columns[i][valid[i]].tolist()) == expected


def test_subsampling_and_noise_distribution_are_word2vecs():
    counts = torch.tensor([1000, 100, 10, 1])
    keep = keep_probabilities(counts, 1e-2)
    total = 1111
    f = counts / total
    expected = ((f / 1e-2).sqrt() + 1) * 1e-2 / f
    torch.testing.assert_close(keep, expected.clamp(max=1.0).double())
    assert keep[0] < 1.0 and keep[-1] == 1.0 and torch.equal(keep_probabilities(counts, 0), torch.ones(4).double())
    cumulative = noise_cumulative(counts)
    draws = sample_negatives(cumulative, (200_000,), torch.Generator().manual_seed(0))
    expected_p = counts.double() ** 0.75 / (counts.double() ** 0.75).sum()
    torch.testing.assert_close(torch.bincount(draws, minlength=4).double() / 200_000, expected_p, atol=5e-3, rtol=0)


def _planted_synonym_corpus(seed: int = 0) -> tuple[list[list[str]], list[tuple[str, str]]]:
    """Sentences from 6 topics of 8 words each; two words of each topic are synonyms: 'a<t>' and 'b<t>' are
    used interchangeably (each occurrence picks one of them)."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(1500):
        topic = rng.randrange(6)
        words = [
            f"w{topic}_{rng.randrange(6)}" if rng.random() < 0.75 else rng.choice(("a", "b")) + str(topic)
            for _ in range(10)
        ]
        sentences.append(words)
    return sentences, [(f"a{t}", f"b{t}") for t in range(6)]


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_planted_synonyms_end_closer_than_random_pairs(one_thread, architecture):
    sentences, synonyms = _planted_synonym_corpus()
    vocabulary = Vocabulary.build(sentences, 1)
    corpus = EncodedCorpus.encode(sentences, vocabulary)
    model = Word2Vec(len(vocabulary), 16, architecture, seed=0)
    stats = train_word2vec(model, corpus, epochs=3, window=3, sample=0.0, alpha=0.05, batch_size=256)
    assert stats["final_loss"] < 2.5
    unit = torch.nn.functional.normalize(model.vectors(), dim=1)
    index = vocabulary.index
    synonym = np.mean([(unit[index[a]] @ unit[index[b]]).item() for a, b in synonyms])
    a_words = [a for a, _ in synonyms]
    other = np.mean([(unit[index[a]] @ unit[index[b]]).item() for a in a_words for b in a_words if a != b])
    assert synonym > 0.6 and synonym > other + 0.4, (synonym, other)
