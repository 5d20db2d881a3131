"""GloVe: the weighting function, co-occurrence counts of a hand-built sentence, the loss's gradients, and a fit."""

import torch

from recur_text.data.word_corpus import EncodedCorpus, Vocabulary
from recur_text.models.glove import GloVe, cooccurrence_counts, glove_weight, train_glove


def test_weighting_function():
    x = torch.tensor([0.5, 1.0, 50.0, 100.0, 1000.0], dtype=torch.float64)
    expected = torch.tensor([(0.5 / 100) ** 0.75, (1 / 100) ** 0.75, 0.5**0.75, 1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(glove_weight(x), expected)
    torch.testing.assert_close(glove_weight(torch.tensor([2.0]), x_max=4.0, alpha=1.0), torch.tensor([0.5]))


def _corpus(sentences):
    vocabulary = Vocabulary(("a", "b", "c"), torch.ones(3, dtype=torch.long).numpy())
    return EncodedCorpus.encode(sentences, vocabulary)


def _dense(counts, v=3):
    rows, cols, values = counts
    dense = torch.zeros(v, v, dtype=torch.float64)
    dense[rows, cols] = values
    return dense


def test_cooccurrence_counts_of_a_hand_built_sentence():
    # "a b c a" with window 2: distances a-b 1, a-c 2, b-c 1, c-a 1, b-a(second) 2, a-a 3 (outside)
    counts = cooccurrence_counts(_corpus([["a", "b", "c", "a"]]), window=2)
    expected = torch.tensor(
        [
            [0.0, 1.0 + 0.5, 0.5 + 1.0],
            [1.0 + 0.5, 0.0, 1.0],
            [0.5 + 1.0, 1.0, 0.0],
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(_dense(counts), expected)
    # the pairs are sorted by (row, column) and hold no zeros
    rows, cols, values = counts
    assert (values > 0).all() and torch.equal(rows * 3 + cols, (rows * 3 + cols).sort().values)
    # left-only counting: word i and the words before it; a window never crosses a sentence
    left = _dense(cooccurrence_counts(_corpus([["a", "b"], ["c", "a"]]), window=3, symmetric=False))
    assert left[1, 0] == 1.0 and left[0, 2] == 1.0 and left.sum() == 2.0


def test_loss_gradients_are_glove_c_updates():
    torch.manual_seed(0)
    model = GloVe(3, 4, seed=1).double()
    rows, cols = torch.tensor([0, 1]), torch.tensor([1, 2])
    x = torch.tensor([3.0, 150.0], dtype=torch.float64)
    loss = model(rows, cols, x).sum()
    loss.backward()
    diff = model.residual(rows, cols, x).detach()
    f = glove_weight(x)
    # d/dw_i of f * diff^2 = 2 f diff w~_j
    expected = torch.zeros(3, 4, dtype=torch.float64)
    expected.index_add_(0, rows, 2 * (f * diff)[:, None] * model.context_vectors.detach()[cols])
    torch.testing.assert_close(model.word_vectors.grad, expected)


def test_fit_brings_the_dot_products_to_the_log_counts():
    sentences = [["a", "b", "c", "a", "b"]] * 30 + [["c", "c", "a"]] * 10
    counts = cooccurrence_counts(_corpus(sentences), window=2)
    model = GloVe(3, 4, seed=0)
    before = train_glove(GloVe(3, 4, seed=0), counts, epochs=1, batch_size=2)["final_loss"]
    after = train_glove(model, counts, epochs=300, batch_size=4, lr=0.1)["final_loss"]
    assert after < 0.05 * before
    rows, cols, values = counts
    residual = model.residual(rows, cols, values).detach()
    assert residual.abs().max() < 0.2
    assert model.vectors().shape == (3, 4)
