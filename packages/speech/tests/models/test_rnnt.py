"""The RNN-T model: registry contract, core layers, time reduction, padding, greedy/beam/streaming decoding, errors."""

from __future__ import annotations

import pytest
import torch

from recur_core import get_model, list_models
from recur_core.testing import check_model
from recur_speech.models.rnnt import RNNT, GreedyStream, rnnt_loss, stack_frames

TINY = {"input_dim": 8, "vocab_size": 5, "time_reduction": 2, "d_model": 16, "n_layers": 2, "mlp_ratio": 2.0}
TINY |= {"pred_dim": 16, "joiner_dim": 16, "dropout": 0.0}


def tiny(layer: str = "lstm", blank_bias: float = 1.0, logit_scale: float = 6.0, **kwargs) -> RNNT:
    """A float64 model in eval mode whose untrained joiner emits a mix of blanks and labels.

    ``logit_scale`` widens the joiner's logits (at init they are nearly flat) and ``blank_bias`` favours the blank.
    """
    torch.manual_seed(0)
    model = get_model("rnnt", **{**TINY, "layer": layer, **kwargs}).double().eval()
    with torch.no_grad():
        model.joiner.out.weight.mul_(logit_scale)
        model.joiner.out.bias[model.blank] += blank_bias
    return model


def mixed(hyps, lengths, max_symbols: int = 10) -> bool:
    """Whether decoding emitted some labels but did not hit the cap on every frame."""
    total = sum(len(h.tokens) for h in hyps)
    return 0 < total < max_symbols * int((lengths // TINY["time_reduction"]).sum())


def utterances(lengths=(23, 16, 7), dim: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(len(lengths), max(lengths), dim, generator=generator, dtype=torch.float64)
    return features, torch.tensor(lengths)


def test_registered_and_passes_the_model_contract(one_thread):
    assert "rnnt" in list_models("speech")
    model = get_model("rnnt")
    assert model.config.layer == "mamba2" and model.config.time_reduction == 4 and model.config.input_dim == 80
    check_model(model)
    logits, enc_lengths = model(*model.example_input(3))
    assert logits.shape == (3, 6, 5, 32) and enc_lengths.tolist() == [6, 6, 5]


@pytest.mark.parametrize("layer", ["lstm", "gla", "attention"])
def test_runs_with_core_layers(layer, one_thread):
    model = get_model("rnnt", **{**TINY, "layer": layer})
    assert all(block.mixer.layer_name == layer for block in model.encoder.blocks)
    check_model(model)


def test_stack_frames_concatenates_consecutive_frames_and_drops_the_tail():
    x = torch.arange(2 * 7 * 3, dtype=torch.float32).reshape(2, 7, 3)
    stacked, lengths = stack_frames(x, torch.tensor([7, 5]), 3)
    assert stacked.shape == (2, 2, 9) and lengths.tolist() == [2, 1]
    torch.testing.assert_close(stacked[0, 1], torch.cat([x[0, 3], x[0, 4], x[0, 5]]))


def test_a_padded_row_gives_the_logits_of_the_row_alone():
    model = tiny("mamba2")
    features, lengths = utterances()
    targets = torch.tensor([[1, 2, 3], [4, 1, 0], [2, 0, 0]])
    target_lengths = torch.tensor([3, 2, 1])
    # garbage in the padding must not leak into the valid frames
    features[1, 16:] = 1e3
    logits, enc_lengths = model(features, lengths, targets, target_lengths)
    alone, alone_lengths = model(features[1:2, :16], lengths[1:2], targets[1:2, :2], target_lengths[1:2])
    assert enc_lengths.tolist() == [11, 8, 3] and alone_lengths.tolist() == [8]
    torch.testing.assert_close(logits[1:2, :8, :3], alone)


def test_loss_backends_agree_on_the_model(one_thread):
    torch.manual_seed(0)
    model = get_model("rnnt", **TINY)
    features, lengths = utterances()
    targets = torch.tensor([[1, 2, 3], [4, 1, 0], [2, 0, 0]])
    target_lengths = torch.tensor([3, 2, 1])
    args = (features.float(), lengths, targets, target_lengths)
    a = model.loss(*args, reduction="sum", backend="torchaudio")
    b = model.loss(*args, reduction="sum", backend="pytorch")
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)
    grads = [
        torch.autograd.grad(v, model.joiner.out.weight)[0]
        for v in (model.loss(*args), model.loss(*args, backend="pytorch"))
    ]
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-5)


def test_greedy_is_batched_and_equals_each_utterance_alone():
    model = tiny("lstm")
    features, lengths = utterances()
    batched = model.greedy(features, lengths)
    assert mixed(batched, lengths)
    for b, hyp in enumerate(batched):
        alone = model.greedy(features[b : b + 1, : int(lengths[b])])[0]
        assert alone.tokens == hyp.tokens
        assert alone.score == pytest.approx(hyp.score, abs=1e-9)
    assert all(t != model.blank for h in batched for t in h.tokens)


def test_greedy_emits_at_most_max_symbols_per_frame():
    model = tiny("lstm", blank_bias=-100.0)
    features, lengths = utterances()
    hyps = model.greedy(features, lengths, max_symbols=3)
    assert [len(h.tokens) for h in hyps] == (3 * (lengths // 2)).tolist()


@pytest.mark.parametrize("layer", ["lstm", "mamba2", "attention"])
@pytest.mark.parametrize("chunk_frames", [1, 5])
def test_streaming_greedy_equals_offline_greedy(layer, chunk_frames):
    model = tiny(layer)
    features, lengths = utterances()
    offline = model.greedy(features, lengths)
    streamed = model.streaming_greedy(features, lengths, chunk_frames=chunk_frames)
    assert [h.tokens for h in streamed] == [h.tokens for h in offline]
    assert [h.score for h in streamed] == pytest.approx([h.score for h in offline], abs=1e-9)
    assert mixed(offline, lengths)


def test_a_stream_emits_labels_as_frames_complete():
    model = tiny("lstm")
    features, _ = utterances((18,))
    stream = model.stream(batch_size=1)
    pieces = [stream.accept(features[:, i : i + 3]) for i in range(0, 18, 3)]
    assert [t for piece in pieces for t in piece[0]] == stream.tokens[0] == model.greedy(features)[0].tokens
    # a chunk of 1 frame with time_reduction 2 completes no encoder frame: no labels yet
    assert GreedyStream(model).accept(features[:, :1]) == [[]]


def test_beam_search_scores_are_exact_log_probabilities_without_pruning():
    # 2 labels, 3 encoder frames, at most 2 labels per frame; a beam of 200 prunes nothing, so every
    # hypothesis of at most 2 labels (all its alignments fit the cap) scores log p(y | x) exactly
    model = tiny("gla", vocab_size=3, blank_bias=0.0, logit_scale=1.0)
    features, _ = utterances((6,))
    beam = model.beam_search(features, beam_size=200, max_symbols=2)[0]
    assert [h.score for h in beam] == sorted((h.score for h in beam), reverse=True)
    short = [h for h in beam if len(h.tokens) <= 2]
    assert len(short) == 1 + 2 + 4
    targets = torch.tensor([h.tokens + [1] * (2 - len(h.tokens)) for h in short])
    target_lengths = torch.tensor([len(h.tokens) for h in short])
    with torch.no_grad():
        batch = features.expand(len(short), -1, -1)
        logits, enc_lengths = model(batch, None, targets, target_lengths)
        exact = -rnnt_loss(logits, targets, enc_lengths, target_lengths, blank=model.blank, reduction="none")
    assert [h.score for h in short] == pytest.approx(exact.tolist(), abs=1e-9)


def test_beam_search_keeps_the_beam_and_finds_the_likeliest_hypothesis():
    model = tiny("lstm")
    features, lengths = utterances()
    beams = model.beam_search(features, lengths, beam_size=3)
    assert len(beams) == 3 and all(1 <= len(b) <= 3 for b in beams)
    for beam in model.beam_search(features, lengths, beam_size=3, length_norm=True):
        keys = [h.score / (len(h.tokens) + 1) for h in beam]
        assert keys == sorted(keys, reverse=True)
    # the beam's best, scored by the exact loss, is at least as likely as greedy's labels
    greedy = model.greedy(features, lengths)
    assert mixed(greedy, lengths)
    for b in range(3):
        f = features[b : b + 1, : int(lengths[b])]
        scores = []
        for tokens in (beams[b][0].tokens, greedy[b].tokens):
            y = torch.tensor([tokens or [1]])
            with torch.no_grad():
                logits, enc_lengths = model(f, None, y, torch.tensor([len(tokens)]))
                scores.append(-float(rnnt_loss(logits, y, enc_lengths, torch.tensor([len(tokens)]), blank=0)))
        assert scores[0] >= scores[1] - 1e-9


def test_bad_input_is_one_line():
    model = tiny("lstm")
    features, lengths = utterances()
    targets, target_lengths = torch.tensor([[1], [2], [3]]), torch.tensor([1, 1, 1])
    cases = {
        r"features must be \[B, T, input_dim=8\]": lambda: model.greedy(features[..., :4]),
        "shorter than time_reduction = 2": lambda: model.greedy(features, torch.tensor([23, 16, 1])),
        "lengths must be at most T = 23": lambda: model.greedy(features, torch.tensor([24, 16, 7])),
        "outside 0..4": lambda: model(features, lengths, targets + 4, target_lengths),
        "beam_size must be at least 1": lambda: model.beam_search(features, beam_size=0),
        "max_symbols": lambda: model.greedy(features, max_symbols=0),
        "chunk_frames must be at least 1": lambda: model.streaming_greedy(features, chunk_frames=0),
        "vocab_size must be at least 2": lambda: RNNT(vocab_size=1),
        "blank must be a symbol id in 0..4": lambda: RNNT(**TINY, blank=5),
        "joiner_activation": lambda: RNNT(**TINY, joiner_activation="gelu"),
        "streaming needs causal encoder layers": lambda: RNNT(**{**TINY, "layer": "bidirectional"}).stream(),
        r"chunk must be \[B=1, C, input_dim=8\]": lambda: model.stream().accept(features),
    }
    for message, call in cases.items():
        with pytest.raises(ValueError, match=message):
            call()
    stream = model.stream(batch_size=3)
    stream.accept(features[:, :4], torch.tensor([4, 4, 2]))
    with pytest.raises(ValueError, match="has ended"):
        stream.accept(features[:, 4:8])


def spoken_labels(generator: torch.Generator, batch: int, patterns: torch.Tensor):
    """A toy "speech": each label is 4 frames of its own pattern, with 2 silent frames around, plus noise."""
    sequences = [
        torch.randint(1, len(patterns), (int(torch.randint(1, 4, (1,), generator=generator)),), generator=generator)
        for _ in range(batch)
    ]
    silence = torch.zeros(2, patterns.shape[1])
    utterances = [
        torch.cat([silence, *(torch.cat([patterns[y].expand(4, -1), silence]) for y in s)]) for s in sequences
    ]
    lengths = torch.tensor([len(u) for u in utterances])
    features = torch.nn.utils.rnn.pad_sequence(utterances, batch_first=True)
    features = features + 0.3 * torch.randn(features.shape, generator=generator)
    targets = torch.nn.utils.rnn.pad_sequence(sequences, batch_first=True)
    return features, lengths, targets, torch.tensor([len(s) for s in sequences]), [s.tolist() for s in sequences]


def test_learns_to_transcribe_a_toy_speech_and_every_decoder_reads_it(one_thread):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    patterns = torch.randn(4, 8, generator=generator)
    model = get_model(
        "rnnt", **{**TINY, "vocab_size": 4, "d_model": 32, "n_layers": 1, "pred_dim": 32, "joiner_dim": 32}
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(80):
        features, lengths, targets, target_lengths, _ = spoken_labels(generator, 16, patterns)
        loss = model.loss(features, lengths, targets, target_lengths)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    features, lengths, _, _, truth = spoken_labels(generator, 32, patterns)
    greedy = [h.tokens for h in model.greedy(features, lengths)]
    beam = [b[0].tokens for b in model.beam_search(features, lengths, beam_size=3)]
    streamed = [h.tokens for h in model.streaming_greedy(features, lengths, chunk_frames=3)]
    # every utterance has a label, so a blank-only decoder gets none right
    assert sum(g == t for g, t in zip(greedy, truth)) >= 28
    assert sum(b == t for b, t in zip(beam, truth)) >= 28
    assert streamed == greedy
