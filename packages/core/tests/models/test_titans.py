"""Titans MAC / MAG / MAL: causal, padding-safe, the window, and the memory carries what attention cannot see."""

import pytest
import torch

from recur_core import get_model
from recur_core.models.titans import PersistentAttention, TitansModel, window_mask

VARIANTS = ["titans_mac", "titans_mag", "titans_mal"]


def small(name, **kwargs):
    torch.manual_seed(0)
    kwargs = {"d_model": 16, "input_dim": 3, "window": 2, "memory_kwargs": {"chunk_size": 4}, **kwargs}
    return get_model(name, **kwargs).double().eval()


@pytest.mark.parametrize("name", VARIANTS)
def test_causal_and_memory_reaches_beyond_the_window(name):
    model = small(name, n_layers=1)
    x = torch.randn(2, 21, 3, dtype=torch.float64, requires_grad=True)
    out = model(x)
    assert out.shape == (2, 21, 2)
    (grad,) = torch.autograd.grad(out[:, 12].sum(), x)
    assert grad[:, 13:].abs().max() == 0, "output depends on future inputs"
    # token 0 is outside the window (2), the convolution (4) and MAC's segment (4): only the memory links them
    assert grad[:, 0].abs().max() > 0


@pytest.mark.parametrize("name", VARIANTS)
def test_padding_does_not_change_pooled_outputs(name):
    model = small(name, vocab_size=7, input_dim=None, readout="last")
    x = torch.randint(1, 7, (2, 13))
    padded = x.clone()
    padded[1, 6:] = 0
    out = model(padded, lengths=torch.tensor([13, 6]))
    torch.testing.assert_close(out[1], model(x[1:2, :6])[0])
    torch.testing.assert_close(out[0], model(x[:1])[0])


def test_window_mask():
    mask = window_mask(5, 2)
    assert mask.tolist()[3] == [False, False, True, True, False]
    assert mask.diagonal().all() and not mask.triu(1).any()


def test_persistent_tokens_are_always_seen():
    torch.manual_seed(0)
    attn = PersistentAttention(8, num_heads=2, num_persistent=3).double()
    x = torch.randn(1, 6, 8, dtype=torch.float64)
    y = attn(x, x, window_mask(6, 1))
    (grad,) = torch.autograd.grad(y[0, 5].sum(), attn.persistent)
    assert (grad.abs().sum(-1) > 0).all()
    # with a window of 1 and no persistent tokens each position only sees itself
    alone = PersistentAttention(8, num_heads=2, num_persistent=0).double()
    z = alone(x, x, window_mask(6, 1))
    torch.testing.assert_close(z[:, 2:3], alone(x[:, 2:3], x[:, 2:3], window_mask(1, 1)))


def test_mac_segments_follow_the_memory_chunk():
    model = small("titans_mac", memory_kwargs={"chunk_size": 5}, n_layers=1)
    x = torch.randn(1, 12, 3, dtype=torch.float64, requires_grad=True)
    out = model(x)
    # token 6 is in the second segment (5..9): within it attention sees token 5 directly
    (grad,) = torch.autograd.grad(out[0, 6].sum(), x)
    assert grad[0, 5].abs().max() > 0 and grad[0, 7:].abs().max() == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"variant": "mat"}, "variant"),
        ({"window": 0}, "window"),
        ({"num_heads": 3}, "divisible"),
        ({"readout": "first"}, "readout"),
    ],
)
def test_bad_configuration_is_explained(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TitansModel(vocab_size=5, d_model=16, **kwargs)


def test_token_inputs_are_checked():
    model = get_model("titans_mag", d_model=16)
    with pytest.raises(ValueError, match=r"token ids \[B, T\]"):
        model(torch.randn(2, 4, 3))
