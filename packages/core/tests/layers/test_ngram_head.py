"""The in-context n-gram head: hand-checked patterns, the loop reference, state passing and padding."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract


def head(n, d_model=4, identity=True):
    layer = build_layer("ngram_head", d_model=d_model, n=n).double()
    if identity:
        with torch.no_grad():
            layer.value.weight.copy_(torch.eye(d_model))
            layer.out.weight.copy_(torch.eye(d_model))
    return layer


def one_hot(text):
    """'abca' -> one-hot rows over the alphabet abcd, [1, T, 4]."""
    return torch.eye(4, dtype=torch.float64)[[ord(c) - ord("a") for c in text]][None]


def naive_pattern(tokens, n):
    """Uniform weights over j <= i with tokens[j-n .. j-1] == tokens[i-n+1 .. i], by explicit loops."""
    size = len(tokens)
    pattern = torch.zeros(size, size, dtype=torch.float64)
    for i in range(n - 1, size):
        matches = [j for j in range(n, i + 1) if tokens[j - n : j] == tokens[i - n + 1 : i + 1]]
        for j in matches:
            pattern[i, j] = 1 / len(matches)
    return pattern


# position:  0 1 2 3 4 5 6 7;  expected {query i: matched positions j}
CASES = {
    1: ("abcabdab", {3: [1], 4: [2], 6: [1, 4], 7: [2, 5]}),
    2: ("abcabdab", {4: [2], 7: [2, 5]}),
    3: ("abcabcdabc", {5: [3], 9: [3, 6]}),
}


@pytest.mark.parametrize("n", [1, 2, 3])
def test_hand_checked_pattern_and_copied_tokens(n):
    text, matches = CASES[n]
    x = one_hot(text)
    layer = head(n)
    expected = torch.zeros(len(text), len(text), dtype=torch.float64)
    for i, js in matches.items():
        expected[i, js] = 1 / len(js)
    torch.testing.assert_close(layer.attention_pattern(x)[0], expected)
    y = layer(x)[0][0]
    for i in range(len(text)):
        copied = sum((x[0, j] for j in matches.get(i, [])), torch.zeros(4, dtype=torch.float64))
        torch.testing.assert_close(y[i], copied / max(1, len(matches.get(i, []))))


def test_no_match_gives_exactly_zero_and_a_repeat_run_matches_itself():
    layer = head(2, identity=False)
    y = layer(one_hot("abcdabcd"[:4]))[0]
    assert torch.equal(y, torch.zeros_like(y))
    # 'aaa': the bigram (a, a) ending at 2 occurred before position 2 itself (j = i is allowed)
    pattern = head(2).attention_pattern(one_hot("aaa"))[0]
    assert pattern[2].tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_matches_the_loop_on_random_tokens_and_continues_from_a_state(n):
    generator = torch.Generator().manual_seed(n)
    table = torch.randn(3, 6, dtype=torch.float64, generator=generator)
    tokens = torch.randint(3, (2, 40), generator=generator)
    x = table[tokens]
    torch.manual_seed(0)
    layer = build_layer("ngram_head", d_model=6, n=n).double()
    pattern = layer.attention_pattern(x)
    for b in range(2):
        torch.testing.assert_close(pattern[b], naive_pattern(tokens[b].tolist(), n))
    y, state = layer(x)
    torch.testing.assert_close(y, layer.out(layer.value(pattern @ x)))
    _, s = layer(x[:, :17])
    y2, s2 = layer(x[:, 17:], state=s)
    torch.testing.assert_close(y2, y[:, 17:])
    for a, b in zip(s2, state):
        torch.testing.assert_close(a, b)
    steps = []
    for t in range(17, 40):
        y_t, s = layer.step(x[:, t], s)
        steps.append(y_t)
    torch.testing.assert_close(torch.stack(steps, 1), y[:, 17:])
    for a, b in zip(s, state):
        torch.testing.assert_close(a, b)


def test_padding_is_skipped_when_continuing():
    """A padded row continues as if the padding were not there: its n-grams run across the call boundary."""
    layer = head(2)
    x = one_hot("abab")
    batch = torch.cat([x, one_hot("abcc")])
    padded, state = layer(batch, lengths=torch.tensor([4, 2]))
    # token ids: the slot of the first occurrence; the padding of row 1 moved to the front (-1)
    assert state[1].tolist() == [[0, 1, 0, 1], [-1, -1, 2, 3]]
    cont = one_hot("ab")
    y = layer(torch.cat([cont, cont]), state=state)[0]
    # row 1 is 'ab' + 'ab': at the final 'b', the bigram (a, b) occurred at 0..1, followed by 'a' at 2
    torch.testing.assert_close(y[1, 1], one_hot("a")[0, 0])
    torch.testing.assert_close(y[1], layer(one_hot("abab"))[0][0, 2:])
    torch.testing.assert_close(padded[1, :2], layer(one_hot("ab"))[0][0])


def test_works_on_embeddings_inside_a_sequence_model():
    """Equal tokens give bit-equal rows after the embedding and LayerNorm, so the first block matches."""
    from recur_core.models import SequenceModel

    torch.manual_seed(0)
    model = SequenceModel(layer="ngram_head", vocab_size=5, d_model=8, n_layers=1, mlp_ratio=0).double()
    tokens = torch.tensor([[1, 2, 3, 1, 2, 4, 1, 2]])
    block = model.blocks[0]
    pattern = block.mixer.attention_pattern(block.norm(model.stem(tokens)))[0]
    torch.testing.assert_close(pattern, naive_pattern(tokens[0].tolist(), 2))


@pytest.mark.parametrize("n", [1, 3])
def test_options_keep_the_contract(n):
    torch.manual_seed(0)
    check_layer_contract(build_layer("ngram_head", d_model=16, n=n))
    check_layer_contract(build_layer("ngram_head", d_model=8, n=n), seq_len=23, seed=2, dtype=torch.float32)


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="n-gram length"):
        build_layer("ngram_head", d_model=8, n=0)
    layer = build_layer("ngram_head", d_model=4)
    history = torch.zeros(1, 3, 4)
    with pytest.raises(ValueError, match="same number of slots"):
        layer(torch.zeros(1, 2, 4), state=(history, torch.zeros(1, 2, dtype=torch.long)))
    with pytest.raises(ValueError, match="D = d_model = 4"):
        layer.attention_pattern(torch.zeros(1, 2, 5))
