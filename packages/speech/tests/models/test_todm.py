"""The TODM supernet: weight slicing per core layer, export == subnet (float64), adaptive dropout, the α-divergence,
the sandwich step's gradients, one-line errors."""

from __future__ import annotations

import itertools

import pytest
import torch

from recur_core import get_model
from recur_core.testing import check_model
from recur_speech.data.vocab import CharVocabulary
from recur_speech.models.rnnt import RNNT, transducer_loss
from recur_speech.models.todm import (
    SLICEABLE_LAYERS,
    SubnetConfig,
    TODMSupernet,
    adaptive_alpha_divergence,
    alpha_divergence,
    slice_weight,
    subnet_summary,
)
from recur_speech.todm import TODMTask

TINY = {"input_dim": 8, "vocab_size": 6, "time_reduction": 2, "d_model": 32, "n_layers": 3, "mlp_ratio": 2.0}
TINY |= {"pred_dim": 16, "joiner_dim": 16, "dropout": 0.1}
SPACE = {"depths": [1, 2, 3], "widths": [16, 24, 32], "min_dropout": 0.0}


def supernet(layer: str = "lstm", **kwargs) -> TODMSupernet:
    torch.manual_seed(0)
    return get_model("todm", **{**TINY, **SPACE, "layer": layer, **kwargs}).double()


def batch(net: RNNT, seed: int = 0):
    torch.manual_seed(seed)
    features, lengths, targets, target_lengths = net.example_input(3)
    return features.double(), lengths, targets, target_lengths


def test_slice_weight_keeps_the_leading_part_of_every_group():
    weight = torch.arange(24.0).reshape(8, 3)  # 4 stacked gates of 2 rows each
    sliced = slice_weight(weight, [((4, 2, 1),), ((1, 3, 2),)])
    assert sliced.tolist() == [[0, 1], [6, 7], [12, 13], [18, 19]]
    # segments: a stacked block, then a block kept whole; an empty axis is kept whole
    assert slice_weight(torch.arange(6.0), [((2, 2, 1), (1, 2, 2))]).tolist() == [0, 2, 4, 5]
    assert slice_weight(weight, [(), ((1, 3, 1),)]).shape == (8, 1)
    with pytest.raises(ValueError, match="covers 6 entries of axis 0, the weight has 8"):
        slice_weight(weight, [((3, 2, 1),)])


def test_the_registered_supernet_is_an_rnnt_and_trains():
    net = supernet()
    assert isinstance(net, RNNT) and net.largest == SubnetConfig(3, 32) and net.smallest == SubnetConfig(1, 16)
    check_model(net.float())
    # the supernet's state dict is its largest subnet's, key for key
    assert list(net.state_dict()) == list(net.export(net.largest).state_dict())


@pytest.mark.parametrize("layer", ["lstm", "mamba2", "attention", "gla"])
def test_slicing_shapes_and_parameter_counts(layer):
    net = supernet(layer)
    counts = {}
    for config in net.subnets():
        template = net.subnet(config).template
        weights = net.sliced_weights(config)
        assert {k: tuple(v.shape) for k, v in weights.items()} == {
            k: tuple(v.shape) for k, v in template.named_parameters()
        }
        exported = net.export(config)
        assert exported.config.d_model == config.width and exported.config.n_layers == config.depth
        counts[config] = net.parameter_count(config)
        assert counts[config] == sum(p.numel() for p in exported.parameters())
    assert counts[net.largest] == sum(p.numel() for p in net.parameters())
    # more depth or width, more parameters; the predictor and the joiner (but its encoder projection) are shared
    for config in net.subnets():
        deeper = SubnetConfig(config.depth + 1, config.width)
        assert deeper not in counts or counts[deeper] > counts[config]
    weights = net.sliced_weights(net.smallest)
    assert weights["predictor.lstm.weight_hh_l0"].data_ptr() == net.predictor.lstm.weight_hh_l0.data_ptr()


@pytest.mark.parametrize("layer", ["lstm", "mamba2", "attention", "gla"])
def test_export_gives_the_subnets_logits_in_float64(layer):
    net = supernet(layer).eval()
    inputs = batch(net)
    full, _ = net(*inputs)
    for config in net.subnets():
        logits, lengths = net.subnet(config)(*inputs)
        exported, exported_lengths = net.export(config)(*inputs)
        torch.testing.assert_close(logits, exported, rtol=0, atol=1e-12)
        assert torch.equal(lengths, exported_lengths)
        if config == net.largest:
            torch.testing.assert_close(logits, full, rtol=0, atol=1e-12)
    # a narrower subnet is a different function, not the supernet's output
    narrow, _ = net.subnet(SubnetConfig(3, 16))(*inputs)
    assert (narrow - full).abs().max() > 1e-3


def test_the_exported_model_decodes_on_its_own():
    net = supernet("mamba2").eval()
    exported = net.export(SubnetConfig(2, 16))
    features, lengths, _, _ = batch(net)
    hyps = exported.greedy(features, lengths)
    assert len(hyps) == 3
    assert exported.streaming_greedy(features, lengths, chunk_frames=3)[0].tokens == hyps[0].tokens


def test_adaptive_dropout_grows_with_the_subnet_size():
    net = supernet(min_dropout=0.02)
    rows = subnet_summary(net)
    by_size = sorted(rows, key=lambda r: r["parameters"])
    assert by_size[0]["dropout"] == pytest.approx(0.02) and by_size[-1]["dropout"] == pytest.approx(0.1)
    assert all(a["dropout"] <= b["dropout"] for a, b in itertools.pairwise(by_size))
    template = net.subnet(net.smallest).template
    rates = [m.p for m in template.modules() if isinstance(m, torch.nn.Dropout)]
    assert rates and rates == pytest.approx([0.02] * len(rates))


def _direct(student, teacher, alpha):
    q, p = student.softmax(-1), teacher.softmax(-1)
    if alpha == 1:
        return (p * (p.log() - q.log())).sum(-1)
    return ((q ** (1 - alpha) * p**alpha).sum(-1) - 1) / (alpha * (alpha - 1))


@pytest.mark.parametrize("alpha", [-1.0, 1.0, 0.5])
def test_alpha_divergence_against_the_direct_formula(alpha):
    generator = torch.Generator().manual_seed(0)
    student = (0.5 * torch.randn(4, 5, generator=generator, dtype=torch.float64)).requires_grad_(True)
    teacher = 0.5 * torch.randn(4, 5, generator=generator, dtype=torch.float64)
    value = alpha_divergence(student, teacher, alpha, iw_clip=1e6)
    direct = _direct(student, teacher, alpha)
    torch.testing.assert_close(value, direct)
    assert (value > 0).all()
    # unclipped, AlphaNet's gradient is the exact gradient of D_alpha
    (grad,) = torch.autograd.grad(value.sum(), student)
    (expected,) = torch.autograd.grad(direct.sum(), student)
    torch.testing.assert_close(grad, expected)
    # zero, with a zero gradient, when the student is the teacher
    same = teacher.clone().requires_grad_(True)
    zero = alpha_divergence(same, teacher, alpha)
    torch.testing.assert_close(zero, torch.zeros(4, dtype=torch.float64))
    (grad,) = torch.autograd.grad(zero.sum(), same)
    torch.testing.assert_close(grad, torch.zeros_like(grad))


def test_alpha_divergence_clips_the_importance_weight():
    student = torch.tensor([[4.0, 0.0, 0.0]], dtype=torch.float64)
    teacher = torch.tensor([[0.0, 4.0, 0.0]], dtype=torch.float64)
    q, p = student.softmax(-1), teacher.softmax(-1)
    # alpha = -1: the weight (p/q)^-1 = q/p is 54.6 at the first symbol, clipped to 5
    clipped = (q * (torch.clamp(q / p, max=5.0) - 1)).sum(-1) / 2
    torch.testing.assert_close(alpha_divergence(student, teacher, -1.0), clipped)
    assert alpha_divergence(student, teacher, -1.0, iw_clip=1e6) > clipped
    with pytest.raises(ValueError, match="alpha = 0"):
        alpha_divergence(student, teacher, 0.0)


def test_adaptive_divergence_keeps_the_larger_per_utterance_over_valid_cells():
    generator = torch.Generator().manual_seed(1)
    student = torch.randn(2, 4, 3, 5, generator=generator, dtype=torch.float64)
    teacher = torch.randn(2, 4, 3, 5, generator=generator, dtype=torch.float64)
    logit_lengths, target_lengths = torch.tensor([4, 2]), torch.tensor([2, 1])
    result = adaptive_alpha_divergence(student, teacher, logit_lengths, target_lengths)
    for b in range(2):
        cells = (slice(0, int(logit_lengths[b])), slice(0, int(target_lengths[b]) + 1))
        s, t = student[b][cells], teacher[b][cells]
        low, high = (alpha_divergence(s, t, a).mean() for a in (-1.0, 1.0))
        torch.testing.assert_close(result[b], torch.maximum(low, high))
    # padding cells do not count
    noisy = teacher.clone()
    noisy[1, 2:] += 10.0
    torch.testing.assert_close(adaptive_alpha_divergence(student, noisy, logit_lengths, target_lengths), result)
    with pytest.raises(ValueError, match="one shape"):
        adaptive_alpha_divergence(student, teacher[:, :2], logit_lengths, target_lengths)


def _task(**options) -> TODMTask:
    kwargs = {k: v for k, v in TINY.items() if k not in ("input_dim", "vocab_size")}
    task = TODMTask(input_dim=8, layer="lstm", model_kwargs=kwargs, spec_augment=False, **SPACE, **options)
    torch.manual_seed(0)
    task._set_vocabulary(CharVocabulary(list("ABCD ")))
    return task


def test_the_sandwich_step_sums_every_subnets_loss_and_reaches_their_weights():
    task = _task(random_subnets=2)
    net = task.net.double().train()
    assert task.sandwich(7) == task.sandwich(7) and task.sandwich(7) != task.sandwich(8)
    # the draws of step 0: the task is not attached to a trainer
    assert task.global_step == 0
    largest, smallest, *drawn = task.sandwich(0)
    assert largest == net.largest and smallest == net.smallest and len(drawn) == 2
    features, lengths, targets, target_lengths = batch(net)
    targets = targets.clamp(max=4)
    prepared = {"features": features, "lengths": lengths, "targets": targets, "target_lengths": target_lengths}
    torch.manual_seed(3)
    task.compute_loss(prepared).backward()
    together = {n: p.grad.clone() for n, p in net.named_parameters()}
    # the same losses one subnet at a time, from the same dropout draws
    net.zero_grad()
    torch.manual_seed(3)
    inputs = (features, lengths, targets, target_lengths)
    teacher, enc_lengths = net(*inputs)
    loss = transducer_loss(teacher, targets, enc_lengths, target_lengths, net.blank, 1.0, backend=task.loss_backend)
    loss.backward()
    for config in [smallest, *drawn]:
        logits, _ = net.subnet(config)(*inputs)
        rnnt = transducer_loss(logits, targets, enc_lengths, target_lengths, net.blank, 1.0, backend=task.loss_backend)
        distill = adaptive_alpha_divergence(logits, teacher.detach(), enc_lengths, target_lengths).mean()
        (rnnt + distill).backward()
    for name, param in net.named_parameters():
        torch.testing.assert_close(together[name], param.grad, msg=name)
        assert param.grad.abs().max() > 0, name
    # the smallest subnet's slice of the first block gets more than the largest's gradient alone
    net.zero_grad()
    torch.manual_seed(3)
    teacher, _ = net(*inputs)
    transducer_loss(teacher, targets, enc_lengths, target_lengths, net.blank, 1.0, backend=task.loss_backend).backward()
    first = "encoder.blocks.0.mixer.rnn.weight_hh_l0"
    assert not torch.allclose(dict(net.named_parameters())[first].grad, together[first])


def test_evaluation_scores_the_largest_subnet_only():
    task = _task()
    net = task.net.double().eval()
    task.eval()
    features, lengths, targets, target_lengths = batch(net)
    prepared = {
        "features": features,
        "lengths": lengths,
        "targets": targets.clamp(max=4),
        "target_lengths": target_lengths,
    }
    logits, enc_lengths = net(features, lengths, prepared["targets"], target_lengths)
    expected = transducer_loss(
        logits, prepared["targets"], enc_lengths, target_lengths, net.blank, 1.0, backend=task.loss_backend
    )
    torch.testing.assert_close(task.compute_loss(prepared), expected)


def test_bad_subnets_and_layers_are_one_line_errors():
    net = supernet()
    for config, message in (
        ((4, 16), "does not fit in the supernet (depth 1..3, width 1..32)"),
        ((2, 48), "does not fit in the supernet"),
    ):
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
            net.subnet(config)
        assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="cannot slice in width") as error:
        supernet("lssl")
    assert "\n" not in str(error.value) and "lstm" in str(error.value)
    # a layer without a slicing rule still slices in depth
    depth_only = supernet("lssl", widths=[32])
    assert depth_only.parameter_count((1, 32)) < depth_only.parameter_count((3, 32))
    assert "lssl" not in SLICEABLE_LAYERS
    with pytest.raises(ValueError, match="must be divisible by num_heads"):
        supernet("attention", widths=[30, 32])
    with pytest.raises(ValueError, match="include it"):
        supernet(widths=[16, 24])
    with pytest.raises(ValueError, match="min_dropout must lie"):
        supernet(min_dropout=0.5)
    with pytest.raises(ValueError, match="trains the 'todm' supernet"):
        TODMTask(model="rnnt")
