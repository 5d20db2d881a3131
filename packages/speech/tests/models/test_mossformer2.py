"""MossFormer2 and the separation baselines: registry contract, core layers, the FSMN (official form, T = 1),
the chunked attention against a per-chunk reference, rotary embedding, sizes, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from recur_core import get_model, list_models
from recur_core.testing import check_model
from recur_speech.models import mossformer2 as mf2
from recur_speech.models import separation_baselines

SEPARATORS = ["mossformer2", "mossformer", "conv_tasnet"]


@pytest.mark.parametrize("name", SEPARATORS)
def test_registered_separator_trains_and_keeps_the_length(name):
    assert name in list_models("speech")
    model = get_model(name, n_src=3)
    check_model(model)
    for length in (16, 123, 800):
        assert model(torch.randn(2, length)).shape == (2, 3, length)


@pytest.mark.parametrize("layer", ["lstm", "gla", "bidirectional"])
def test_recurrent_module_takes_any_core_layer(layer):
    model = mf2.mossformer2(layer=layer, n_layers=1)
    memory = model.recurrent[0].gated_fsmn.memory
    assert isinstance(memory, mf2.CoreMemory) and memory.layer.layer_name == layer
    check_model(model)


def test_ablation_has_no_recurrent_module():
    full, ablation = mf2.mossformer2(), mf2.mossformer()
    assert len(full.recurrent) == full.config.n_layers and len(ablation.recurrent) == 0
    assert isinstance(full.recurrent[0].gated_fsmn.memory, mf2.DilatedDenseFSMN)
    with pytest.raises(ValueError, match="use mossformer2"):
        mf2.mossformer(recurrent=True)


def test_paper_sizes_match_the_papers_parameter_counts():
    # MossFormer2: 55.7 M (paper, Table 1); Conv-TasNet: 5.1 M in its paper, here with MossFormer2's encoder
    paper = mf2.mossformer2("paper")
    assert round(sum(p.numel() for p in paper.parameters()) / 1e6, 1) == 55.7
    assert paper.recurrent[0].gated_fsmn.memory.convs[1].kernel_size == (39,)
    assert [c.dilation[0] for c in paper.recurrent[0].gated_fsmn.memory.convs] == [1, 2]
    tasnet = separation_baselines.conv_tasnet("paper")
    assert 4.9e6 < sum(p.numel() for p in tasnet.parameters()) < 5.2e6


def official_dilated_dense_fsmn(fsmn: mf2.DilatedDenseFSMN, u: torch.Tensor) -> torch.Tensor:
    """``UniDeepFsmn_dilated.forward`` of ClearerVoice (Conv2d on [B, C, T, 1], nn.InstanceNorm2d, the
    ``.squeeze()`` dropped), with ``fsmn``'s weights."""
    x = fsmn.project(F.relu(fsmn.linear(u)))[:, None].permute(0, 3, 2, 1)
    skip = x
    for conv, norm, activation in zip(fsmn.convs, fsmn.norms, fsmn.activations):
        pad = conv.padding[0]
        out = F.conv2d(
            F.pad(skip, (0, 0, pad, pad)), conv.weight[..., None], dilation=(conv.dilation[0], 1), groups=conv.groups
        )
        instance = torch.nn.InstanceNorm2d(out.shape[1], affine=True).double()
        with torch.no_grad():
            instance.weight.copy_(norm.weight[:, 0])
            instance.bias.copy_(norm.bias[:, 0])
        out = activation(instance(out))
        skip = torch.cat([out, skip], dim=1)
    return u + out.permute(0, 3, 2, 1)[:, 0]


def test_fsmn_equals_the_official_conv2d_form():
    torch.manual_seed(0)
    fsmn = mf2.DilatedDenseFSMN(6, lorder=4).double()
    with torch.no_grad():
        for norm in fsmn.norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    u = torch.randn(3, 37, 6, dtype=torch.float64)
    torch.testing.assert_close(fsmn(u), official_dilated_dense_fsmn(fsmn, u))


def test_fsmn_at_one_frame_keeps_its_shape_and_batch_rows():
    # the official `input + out.squeeze()` makes [B, 1, C] + [B, C] -> [B, B, C] at T = 1
    torch.manual_seed(0)
    fsmn = mf2.DilatedDenseFSMN(8).eval()
    u = torch.randn(3, 1, 8)
    out = fsmn(u)
    assert out.shape == (3, 1, 8)
    torch.testing.assert_close(out[1:2], fsmn(u[1:2]))
    model = mf2.mossformer2().eval()
    # 16 samples: one encoder frame through every module
    assert model(torch.randn(3, 16)).shape == (3, 2, 16)


def naive_attention(module: mf2.MossFormerModule, quad_q, lin_q, quad_k, lin_k, v, u):
    """The official cal_attention, one chunk at a time in a loop (the ground truth of ``attend``)."""
    length, g = v.shape[1], module.group_size
    values = torch.cat((v, u), dim=-1)
    global_kv = lin_k.transpose(1, 2) @ values / length
    outputs = []
    for start in range(0, length, g):
        chunk = slice(start, start + g)
        weights = F.relu(quad_q[:, chunk] @ quad_k[:, chunk].transpose(1, 2) / g) ** 2
        outputs.append(weights @ values[:, chunk] + lin_q[:, chunk] @ global_kv)
    return torch.cat(outputs, dim=1).chunk(2, dim=-1)


@pytest.mark.parametrize("length", [5, 8, 19])
def test_chunked_attention_matches_the_per_chunk_loop(length):
    torch.manual_seed(0)
    module = mf2.MossFormerModule(4, group_size=8, query_key_dim=6, rotary_dim=4).double().eval()
    q1, q2, k1, k2 = (torch.randn(2, length, 6, dtype=torch.float64) for _ in range(4))
    v, u = (torch.randn(2, length, 8, dtype=torch.float64) for _ in range(2))
    for fast, slow in zip(module.attend(q1, q2, k1, k2, v, u), naive_attention(module, q1, q2, k1, k2, v, u)):
        torch.testing.assert_close(fast, slow)


def test_rotary_is_relative_and_leaves_the_rest():
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 10, dtype=torch.float64), torch.randn(1, 1, 10, dtype=torch.float64)
    rq = mf2.apply_rotary(q.expand(1, 12, 10), dim=6)
    rk = mf2.apply_rotary(k.expand(1, 12, 10), dim=6)
    scores = rq[0] @ rk[0].T
    # <R_m q, R_n k> depends on m - n only
    torch.testing.assert_close(
        torch.diagonal(scores, offset=3), torch.full((9,), float(scores[0, 3]), dtype=torch.float64)
    )
    torch.testing.assert_close(rq[0, :, 6:], q[0, :, 6:].expand(12, 4))
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1).expand(1, 12))


def test_bad_options_and_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="unknown MossFormer2 option"):
        mf2.mossformer2(heads=4)
    with pytest.raises(ValueError, match="size must be"):
        mf2.mossformer2("huge")
    with pytest.raises(ValueError, match="fsmn_lorder"):
        mf2.mossformer2(layer_kwargs={"lorder": 3})
    with pytest.raises(ValueError, match="T >= kernel_size"):
        mf2.mossformer2()(torch.randn(2, 10))
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        separation_baselines.conv_tasnet()(torch.randn(2, 1, 100))
