import torch

from recur_core.layers.conv import CausalConv1d


def _conv():
    torch.manual_seed(0)
    return CausalConv1d(5, kernel_size=4).double()


def test_step_and_split_match_forward():
    conv = _conv()
    x = torch.randn(3, 10, 5, dtype=torch.float64)
    y, state = conv(x)
    s, outs = conv.init_state(3, dtype=torch.float64), []
    for t in range(10):
        y_t, s = conv.step(x[:, t], s)
        outs.append(y_t)
    torch.testing.assert_close(torch.stack(outs, 1), y)
    torch.testing.assert_close(s, state)
    y1, s1 = conv(x[:, :3])
    y2, s2 = conv(x[:, 3:], s1)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y)
    torch.testing.assert_close(s2, state)


def test_lengths_give_each_rows_last_inputs_as_state():
    conv = _conv()
    x = torch.randn(3, 10, 5, dtype=torch.float64)
    lengths = torch.tensor([10, 2, 5])
    y, state = conv(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        y_b, s_b = conv(x[b : b + 1, :n])
        torch.testing.assert_close(y[b : b + 1, :n], y_b)
        torch.testing.assert_close(state[b : b + 1], s_b)


def test_output_depends_only_on_the_last_kernel_size_inputs():
    conv = _conv()
    x = torch.randn(1, 12, 5, dtype=torch.float64, requires_grad=True)
    y, _ = conv(x)
    (grad,) = torch.autograd.grad(y[0, 8].sum(), x)
    touched = grad[0].abs().sum(-1).nonzero().flatten().tolist()
    assert touched == [5, 6, 7, 8]
