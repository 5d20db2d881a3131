"""PV-DM and PV-DBOW: the hidden vector, inference that changes only the new document vectors, and a learning test."""

import random

import numpy as np
import pytest
import torch

from recur_text.data.word_corpus import EncodedCorpus, Vocabulary
from recur_text.models.doc2vec import ParagraphVectors, infer_document_vectors, train_paragraph_vectors


def _topic_documents(n: int, seed: int) -> tuple[list[list[str]], list[int]]:
    """Documents of 30 words, each mostly from one of 3 topics' 10 words, plus shared filler words."""
    rng = random.Random(seed)
    documents, topics = [], []
    for _ in range(n):
        topic = rng.randrange(3)
        documents.append(
            [f"t{topic}w{rng.randrange(10)}" if rng.random() < 0.6 else f"f{rng.randrange(5)}" for _ in range(30)]
        )
        topics.append(topic)
    return documents, topics


def test_pv_dm_hidden_is_the_mean_of_document_and_window():
    model = ParagraphVectors(5, 2, 3, "dm").double()
    h = model.hidden(torch.tensor([1]), torch.tensor([[0, 4, -1]]))
    expected = (model.document_vectors[1] + model.word_vectors[0] + model.word_vectors[4]) / 3
    torch.testing.assert_close(h[0], expected)
    dbow = ParagraphVectors(5, 2, 3, "dbow")
    assert torch.equal(dbow.hidden(torch.tensor([0]), None), dbow.document_vectors[:1])
    assert not dbow.word_vectors.requires_grad
    with pytest.raises(ValueError, match="PV-DM needs windows"):
        model.hidden(torch.tensor([0]), None)


@pytest.mark.parametrize("mode", ["dm", "dbow"])
def test_inference_changes_only_the_new_document_vectors(one_thread, mode):
    documents, _ = _topic_documents(60, 0)
    vocabulary = Vocabulary.build(documents, 1)
    model = ParagraphVectors(len(vocabulary), len(documents), 8, mode)
    train_paragraph_vectors(model, EncodedCorpus.encode(documents, vocabulary), epochs=2, sample=0.0, batch_size=128)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    new, _ = _topic_documents(4, 1)
    inferred = infer_document_vectors(model, EncodedCorpus.encode(new, vocabulary), 4, epochs=3, sample=0.0, seed=5)
    start = infer_document_vectors(model, EncodedCorpus.encode([[]] * 4, vocabulary), 4, epochs=3, seed=5)
    for name, p in model.named_parameters():
        assert torch.equal(p.detach(), before[name]), f"inference changed {name}"
    assert inferred.shape == (4, 8) and not torch.allclose(inferred, start)


@pytest.mark.parametrize("mode", ["dm", "dbow"])
def test_inferred_vectors_land_near_their_topic(one_thread, mode):
    documents, topics = _topic_documents(150, 0)
    vocabulary = Vocabulary.build(documents, 1)
    model = ParagraphVectors(len(vocabulary), len(documents), 16, mode)
    # a 35-word vocabulary: a batch of 256 windows of 2 x 5 words would sum ~70 updates into each word vector at
    # once, which diverges; real vocabularies spread a batch over thousands of words
    options = {"window": 2, "sample": 0.0, "alpha": 0.05}
    train_paragraph_vectors(model, EncodedCorpus.encode(documents, vocabulary), epochs=10, batch_size=256, **options)
    new, new_topics = _topic_documents(30, 1)
    inferred = infer_document_vectors(model, EncodedCorpus.encode(new, vocabulary), 30, epochs=20, **options)
    trained = torch.nn.functional.normalize(model.vectors(), dim=1)
    centroids = torch.nn.functional.normalize(
        torch.stack([trained[np.array(topics) == t].mean(0) for t in range(3)]), dim=1
    )
    predicted = (torch.nn.functional.normalize(inferred, dim=1) @ centroids.T).argmax(1)
    accuracy = (predicted == torch.tensor(new_topics)).float().mean().item()
    assert accuracy >= 0.8, accuracy


def test_bad_sizes_are_one_line():
    with pytest.raises(ValueError, match="mode must be"):
        ParagraphVectors(mode="concat")
    documents = [["a", "b"]] * 3
    vocabulary = Vocabulary.build(documents, 1)
    with pytest.raises(ValueError, match="num_documents = the number of token lists"):
        train_paragraph_vectors(ParagraphVectors(2, 1, 4), EncodedCorpus.encode(documents, vocabulary))
