"""ViR and its ViT baseline: the registry contract, two core layers, the three forms equal in float64,
the class token, flat memory in the chunkwise form, the token-count scale, the paper's sizes and bad input."""

import math

import pytest
import torch

from recur_core import get_model, list_models
from recur_core.testing import check_model
from recur_vision.models.vir import SIZES, resample_positions, vir, vit


@pytest.mark.parametrize(
    "name, kwargs", [("vir", {}), ("vir", {"bidirectional": True}), ("vir", {"pool": "avg"}), ("vit", {})]
)
def test_registered_and_pass_the_model_contract(name, kwargs, one_thread):
    assert name in list_models("vision")
    model = get_model(name, **kwargs)
    check_model(model)
    assert model(*model.example_input(3)).shape == (3, 10)


def _pair(bidirectional=False, layer="retention", pool="token", **kwargs):
    """A ViR in float64 with LayerScale 1 (so the mixers matter) and images for it."""
    torch.manual_seed(0)
    model = vir(bidirectional=bidirectional, layer_scale=1.0, layer=layer, pool=pool, **kwargs).double().eval()
    images = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    return model, images


@pytest.mark.parametrize("bidirectional, pool", [(False, "token"), (True, "token"), (False, "avg"), (True, "avg")])
def test_parallel_chunkwise_and_recurrent_forms_agree_in_float64(bidirectional, pool, one_thread):
    model, images = _pair(bidirectional, pool=pool)
    parallel = model(images)
    assert parallel.abs().max() > 1e-2
    if pool == "avg":
        torch.testing.assert_close(model.head(model.features(images).mean(1)), parallel)
    for form, chunk in (("chunkwise", 5), ("chunkwise", 16), ("recurrent", 1)):
        torch.testing.assert_close(model(images, form=form, chunk_size=chunk), parallel, rtol=1e-9, atol=1e-12)
    # the attention-like form: one (QK^T ⊙ D)V block over the whole sequence in every layer
    tokens = 16 * (2 if bidirectional else 1) + (pool == "token")
    whole = vir(bidirectional=bidirectional, layer_scale=1.0, layer_kwargs={"chunk_size": tokens}, pool=pool)
    whole = whole.double().eval()
    whole.load_state_dict(model.state_dict())
    torch.testing.assert_close(whole(images), parallel, rtol=1e-9, atol=1e-12)


def test_parallel_retention_is_the_decay_mask_alone_with_no_softmax(one_thread):
    # the authors' parallel() applies a softmax after the mask, so it disagrees with their recurrent form
    model, _ = _pair()
    mixer = model.blocks[0].mixer
    x = torch.randn(2, 17, 64, dtype=torch.float64)
    heads, dim = mixer.num_heads, 64 // mixer.num_heads
    q, k = mixer.qk(x).view(2, 17, 2, heads, dim).permute(2, 0, 3, 1, 4)
    v = mixer.v(x).view(2, 17, heads, dim).transpose(1, 2)
    n = torch.arange(17.0, dtype=torch.float64)
    log_gamma = mixer.log_gamma.double()[:, None, None]
    decay = torch.where(n[:, None] >= n, (log_gamma * (n[:, None] - n)).exp(), 0.0)  # D[h, n, m] = γ_h^(n−m), n ≥ m
    scores = q @ k.transpose(-1, -2) / math.sqrt(dim)

    def output(weights):
        return mixer.out((weights @ v).transpose(1, 2).flatten(2))

    got, _ = mixer(x)
    torch.testing.assert_close(got, output(scores * decay), rtol=1e-10, atol=1e-12)
    softmaxed = output(torch.softmax(scores * decay + torch.where(decay > 0, 0.0, -torch.inf), -1))
    assert (got - softmaxed).abs().max() > 1e-2


@pytest.mark.parametrize("layer", ["gla", "lstm"])
def test_any_causal_core_layer_mixes_and_streams(layer, one_thread):
    model = get_model("vir", layer=layer)
    assert model.blocks[0].mixer.layer_name == layer
    check_model(model)
    model, images = _pair(layer=layer)
    torch.testing.assert_close(model(images, form="chunkwise", chunk_size=3), model(images), rtol=1e-9, atol=1e-12)


def _input_gradient(model, images, output):
    images = images.clone().requires_grad_(True)
    out = output(model, images)
    # a random projection: the sum of a LayerNorm's outputs is constant
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(0), dtype=out.dtype)
    (grad,) = torch.autograd.grad((out * weights).sum(), images)
    # per-patch gradient mass: [grid_h, grid_w]
    return grad.abs().sum((0, 1)).unfold(0, 16, 16).unfold(1, 16, 16).sum((-1, -2))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_class_token_comes_last_and_sees_every_patch(bidirectional, one_thread):
    model, images = _pair(bidirectional)
    assert (_input_gradient(model, images, lambda m, x: m(x)) > 0).all()
    features = model.features(images)
    assert features.shape == (2, 16 * (2 if bidirectional else 1) + 1, 64)
    torch.testing.assert_close(model.head(features[:, -1]), model(images))
    torch.testing.assert_close(model.pooled_features(images), features[:, -1])
    if not bidirectional:
        # causal retention: the first patch's token reads nothing after it, so a class token first would be blind
        reach = _input_gradient(model, images, lambda m, x: m.features(x)[:, 0])
        assert reach[0, 0] > 0 and reach.flatten()[1:].max() == 0


def test_the_class_token_reads_the_patches_from_the_start(one_thread):
    # a 1e-6 class token (the authors' init, no position) is all LayerNorm epsilon: a ~0 query that, with no
    # softmax, reads nothing, and the model stays at chance; at std 0.02 its retention output is a patch's size
    torch.manual_seed(0)
    model = vir(size="mini", patch_size=8, image_size=64)
    outputs = []
    model.blocks[0].mixer.register_forward_hook(lambda _, __, out: outputs.append(out[0]))
    model(torch.rand(4, 3, 64, 64) * 2 - 1)
    sizes = outputs[0].norm(dim=-1)
    assert sizes[:, -1].mean() > 0.3 * sizes[:, :-1].mean()


def test_vit_class_token_comes_first_and_attention_is_not_causal(one_thread):
    torch.manual_seed(0)
    model = vit(layer_scale=1.0).double().eval()
    images = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    torch.testing.assert_close(model.head(model.features(images)[:, 0]), model(images))
    mixer = model.blocks[0].mixer
    assert mixer.layer_name == "attention" and not mixer.causal and not mixer.rope and mixer.qkv.bias is not None
    reach = _input_gradient(model, images, lambda m, x: m.features(x)[:, 1])
    assert (reach > 0).all(), "the first patch's token reads every patch in a ViT"


def test_positions_on_patches_only_layer_scale_and_the_authors_decays():
    model = vir()
    assert model.pos_embed.shape == (1, 16, 64) and model.cls_token.shape == (1, 1, 64)
    block = model.blocks[0]
    assert torch.equal(block.ls1.scale, torch.full((64,), 1e-5)) and torch.equal(block.ls2.scale, block.ls1.scale)
    mixer = block.mixer
    assert mixer.variant == "vir" and not mixer.rotary and mixer.gate is None and mixer.norm is None
    # the authors' qkv and proj have biases; layer_kwargs can take them away
    assert all(p.bias is not None for p in (mixer.qk, mixer.v, mixer.out))
    assert vir(layer_kwargs={"bias": False}).blocks[0].mixer.qk.bias is None
    gammas = mixer.log_gamma.double().exp()
    expected = [1 - math.exp(math.log(1 / 32) + i * (math.log(1 / 512) - math.log(1 / 32)) / 3) for i in range(4)]
    torch.testing.assert_close(gammas, torch.tensor(expected, dtype=torch.float64), rtol=1e-6, atol=0)
    assert isinstance(vit().blocks[0].ls1, torch.nn.Identity)


def test_the_paper_sizes_and_the_same_size_vit(one_thread):
    assert SIZES["S"] == (384, 12, 6) and SIZES["B"] == (768, 12, 12) and SIZES["L"] == (1024, 24, 16)
    retention, attention = vir(1000, "S", 16, 224), vit(1000, "S", 16, 224)
    assert len(retention.blocks) == 12 and retention.blocks[0].mixer.num_heads == 6
    assert retention.pos_embed.shape == (1, 14 * 14, 384)
    counts = [sum(p.numel() for p in m.parameters()) for m in (retention, attention)]
    # ViT-S/16's 22 million; both have q/k/v/out biases; ViR has LayerScale (2 x 384 a block), the ViT a class position
    assert round(counts[0] / 1e6) == 22 and counts[0] - counts[1] == 12 * 2 * 384 - 384
    assert vir(patch_size=14, image_size=224).pos_embed.shape == (1, 16 * 16, 64)


def test_no_classes_is_a_backbone_with_no_head(one_thread):
    model, images = _pair(pool="avg", num_classes=0)
    assert isinstance(model.head, torch.nn.Identity)
    torch.testing.assert_close(model(images), model.pooled_features(images))
    torch.testing.assert_close(model(images, form="chunkwise", chunk_size=5), model(images), rtol=1e-9, atol=1e-12)


def test_chunkwise_memory_is_flat_in_the_token_count(one_thread):
    model = vir(image_size=64).eval()
    seen = {"tokens": 0, "rows": 0}

    def tokens(_, args):
        seen["tokens"] = max(seen["tokens"], args[0].shape[1])

    def rows(_, args):
        seen["rows"] = max(seen["rows"], args[0].shape[2])

    for block in model.blocks:
        block.mixer.register_forward_pre_hook(tokens)
    model.patch_embed.register_forward_pre_hook(rows)
    with torch.no_grad():
        for side in (64, 256):
            model(torch.randn(1, 3, side, side), form="chunkwise", chunk_size=8)
    # 256 tokens at 256 x 256, yet no block sees more than a chunk nor the embedding more than 2 patch rows
    assert seen == {"tokens": 8, "rows": 32}


def test_other_resolutions_resample_the_position_table(one_thread):
    model, _ = _pair()
    images = torch.randn(1, 3, 96, 128, dtype=torch.float64)
    torch.testing.assert_close(model(images, form="chunkwise", chunk_size=7), model(images), rtol=1e-9, atol=1e-12)
    table = torch.arange(4.0).view(1, 4, 1)
    assert resample_positions(table, (2, 2), (2, 2)) is table
    assert resample_positions(table, (2, 2), (4, 6)).shape == (1, 24, 1)


@pytest.mark.parametrize("pool", ["token", "avg"])
def test_token_count_scale_is_the_queries_scaled_by_the_trained_over_the_given_tokens(pool, one_thread):
    model, images = _pair(pool=pool, token_count_scale=True)
    plain = vir(layer_scale=1.0, pool=pool).double().eval()
    plain.load_state_dict(model.state_dict())
    # the trained size (64 px, 16 tokens): unchanged
    torch.testing.assert_close(model(images), plain(images), rtol=1e-9, atol=1e-12)
    large = torch.randn(2, 3, 128, 128, dtype=torch.float64)
    unscaled = plain(large)
    # 128 px, 64 tokens: the reading S^T q scaled by 16 / 64, as the queries (weights and bias) scaled by 1/4
    for block in plain.blocks:
        queries = block.mixer.qk.weight.shape[0] // 2
        block.mixer.qk.weight.data[:queries] /= 4
        block.mixer.qk.bias.data[:queries] /= 4
    expected = plain(large)
    assert (expected - unscaled).abs().max() > 1e-4
    for form, chunk in (("parallel", 64), ("chunkwise", 5), ("recurrent", 1)):
        torch.testing.assert_close(model(large, form=form, chunk_size=chunk), expected, rtol=1e-9, atol=1e-12)


def test_bad_input_is_one_line():
    model = vir()
    with pytest.raises(ValueError, match=r"ViR expects images \[B, 3, H, W\].*multiples of patch_size = 16"):
        model(torch.randn(1, 3, 60, 64))
    with pytest.raises(ValueError, match=r"ViT expects images \[B, 3, H, W\]"):
        vit()(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match="unknown form 'fft'"):
        model(torch.randn(1, 3, 64, 64), form="fft")
    with pytest.raises(ValueError, match="chunk_size"):
        model(torch.randn(1, 3, 64, 64), form="chunkwise", chunk_size=0)
    with pytest.raises(ValueError, match="unknown pool 'max'"):
        vir(pool="max")
    with pytest.raises(ValueError, match="unknown size 'XL'"):
        vir(size="XL")
    with pytest.raises(ValueError, match="needs a causal layer"):
        vir(layer="bidirectional")
    with pytest.raises(ValueError, match="multiple of patch_size"):
        vir(image_size=70)
    with pytest.raises(ValueError, match="token_count_scale scales the plain retention"):
        vir(token_count_scale=True, layer_kwargs={"variant": "retnet"})
