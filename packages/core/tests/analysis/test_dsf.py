"""recur_core.analysis.dsf: Φu equals every supported layer's own mixing output, Φ is causal, the
normalised ones have rows that sum to 1, and Φ's semiseparable rank respects each layer's state size."""

import pytest
import torch
import torch.nn.functional as F

from recur_core import build_layer
from recur_core.analysis import (
    apply_mixing,
    band_mass,
    decompose,
    mean_distance,
    mixing_matrix,
    plot_mixing,
    semiseparable_rank,
    supported_layers,
    verify,
)
from recur_core.layers import deltanet as deltanet_module
from recur_core.layers import mamba as mamba_module

# small states, so that T = 37 is long enough for the rank bound to show
SMALL = {"mamba": {"d_state": 4}, "mamba2": {"d_state": 8}, "lssl": {"d_state": 8}}
# options that change the mixing matrix or the op the layer calls
VARIANTS = [
    ("linear_attention", {"feature_map": "taylor", "feature_dim": 3}),
    ("retention", {"variant": "vir", "rotary": False}),
    ("deltanet", {"allow_neg_eigval": True, "use_short_conv": False}),
    ("mamba", {"d_state": 4, "allow_neg_eigval": True}),
    ("mamba", {"d_state": 4, "mode": "naive"}),
    ("lssl", {"d_state": 8, "mode": "recurrent", "init": "random"}),
    ("aaren", {"mode": "naive"}),
    ("attention", {"rope": False}),
]
CASES = [(name, SMALL.get(name, {})) for name in supported_layers()] + VARIANTS


def _decompose(name, kwargs, seq_len=37, seed=0):
    torch.manual_seed(seed)
    layer = build_layer(name, 16, **kwargs).double()
    x = torch.randn(2, seq_len, 16, dtype=torch.float64)
    return layer, x, decompose(layer, x)


def _id(case):
    name, kwargs = case
    return "-".join([name, *(f"{k}={v}" for k, v in kwargs.items())])


@pytest.mark.parametrize("case", CASES, ids=[_id(case) for case in CASES])
def test_phi_times_u_is_the_layer_output(case):
    _, _, mixing = _decompose(*case)
    assert mixing.layer == case[0]
    batch, maps, seq_len, _ = mixing.phi.shape
    assert (batch, seq_len) == (2, 37)
    assert mixing.u.shape[:3] == (batch, seq_len, maps)
    assert mixing.y.shape == mixing.u.shape
    assert mixing.phi.dtype == torch.float64
    torch.testing.assert_close(apply_mixing(mixing.phi, mixing.u), mixing.y, atol=1e-8, rtol=0)
    assert mixing.y.abs().max() > 1e-3  # the check is not vacuous


@pytest.mark.parametrize("name", supported_layers())
def test_float32_layers_decompose_to_round_off(name):
    torch.manual_seed(0)
    layer = build_layer(name, 16, **SMALL.get(name, {}))
    mixing = decompose(layer, torch.randn(2, 37, 16))
    assert mixing.phi.dtype == torch.float32
    error = (apply_mixing(mixing.phi, mixing.u) - mixing.y).abs().max() / mixing.y.abs().max()
    assert error < 1e-5


@pytest.mark.parametrize("case", CASES, ids=[_id(case) for case in CASES])
def test_phi_is_causal_and_within_the_state_size(case):
    _, _, mixing = _decompose(*case)
    assert torch.count_nonzero(mixing.phi.triu(1)) == 0
    assert mixing.phi.diagonal(dim1=-2, dim2=-1).abs().amax() > 0
    if mixing.state_size is not None:
        assert semiseparable_rank(mixing.phi).max() <= mixing.state_size


def test_attention_has_no_finite_state():
    """Softmax attention: the off-diagonal blocks are of full rank, beyond every layer's state here."""
    _, _, mixing = _decompose("attention", {}, seq_len=40)
    assert semiseparable_rank(mixing.phi, splits=[20]).min() == 20


@pytest.mark.parametrize("name", ["attention", "aaren"])
def test_softmax_rows_sum_to_one(name):
    _, _, mixing = _decompose(name, {})
    assert mixing.phi.min() >= 0
    torch.testing.assert_close(mixing.phi.sum(-1), torch.ones_like(mixing.phi[..., 0]), atol=1e-12, rtol=0)


def test_normalised_linear_attention_rows_sum_to_almost_one():
    layer, _, mixing = _decompose("linear_attention", {})
    rows = mixing.phi.sum(-1)
    assert (rows < 1).all() and (rows > 1 - 1e-4).all()  # S / (S + eps)
    assert layer.eps == 1e-6


def test_deltanet_entries_are_products_of_householder_like_transitions(monkeypatch):
    r"""Φ_ij = s β_j q_iᵀ (I − β_i k_i k_iᵀ) ⋯ (I − β_{j+1} k_{j+1} k_{j+1}ᵀ) k_j, formed directly."""
    layer, x, mixing = _decompose("deltanet", {"allow_neg_eigval": True}, seq_len=6)
    captured = {}
    original = deltanet_module.chunk_delta_rule

    def spy(q, k, v, beta, **kwargs):
        captured.update(q=q, k=k, beta=beta)
        return original(q, k, v, beta, **kwargs)

    monkeypatch.setattr(deltanet_module, "chunk_delta_rule", spy)
    layer(x)
    q, k, beta = captured["q"], captured["k"], captured["beta"]
    scale = q.shape[-1] ** -0.5
    eye = torch.eye(q.shape[-1], dtype=q.dtype)
    for b, h in [(0, 0), (1, 3)]:
        for i in range(6):
            for j in range(i + 1):
                transition = eye
                for step in range(j + 1, i + 1):
                    key = k[b, step, h]
                    transition = (eye - beta[b, step, h] * torch.outer(key, key)) @ transition
                expected = scale * beta[b, j, h] * q[b, i, h] @ transition @ k[b, j, h]
                torch.testing.assert_close(mixing.phi[b, h, i, j], expected, atol=1e-12, rtol=0)


def test_mamba_products_of_signed_transitions():
    """With allow_neg_eigval the transitions 2e^{ΔA} − 1 may be negative; Φ carries their signs."""
    _, _, mixing = _decompose("mamba", {"d_state": 4, "allow_neg_eigval": True, "dt_min": 0.5, "dt_max": 2.0})
    assert (mixing.phi.tril(-1) < 0).any()
    torch.testing.assert_close(apply_mixing(mixing.phi, mixing.u), mixing.y, atol=1e-8, rtol=0)


def test_verify_and_mixing_matrix():
    layer, x, mixing = _decompose("gla", {})
    assert verify(layer, x) < 1e-12
    torch.testing.assert_close(mixing_matrix(layer, x), mixing.phi, atol=0, rtol=0)


def test_ops_are_restored_after_decompose():
    sdpa = F.scaled_dot_product_attention
    layer, _, _ = _decompose("mamba2", {})
    assert "_ssm_inputs" not in vars(layer)
    _decompose("attention", {})
    assert F.scaled_dot_product_attention is sdpa
    assert mamba_module._MODES["chunk"].__name__ == "chunk_selective_scan"


def test_unsupported_layer_names_the_supported_ones():
    with pytest.raises(ValueError, match=r"supported layers: .*deltanet"):
        decompose(build_layer("lstm", 8), torch.randn(1, 4, 8))


def test_apply_mixing_checks_shapes():
    with pytest.raises(ValueError, match=r"expected u \[B, T, M\]"):
        apply_mixing(torch.zeros(2, 4, 5, 5), torch.zeros(2, 5, 3, 2))


def test_statistics_on_known_matrices():
    eye = torch.eye(6, dtype=torch.float64).expand(1, 2, 6, 6)
    torch.testing.assert_close(band_mass(eye, 1), torch.ones(1, 2, dtype=torch.float64))
    torch.testing.assert_close(mean_distance(eye), torch.zeros(1, 2, dtype=torch.float64))
    first = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    first[..., 0] = 1.0  # every row looks at token 0
    torch.testing.assert_close(mean_distance(first), torch.tensor([[2.5]], dtype=torch.float64))
    torch.testing.assert_close(band_mass(first, 2), torch.tensor([[2 / 6]], dtype=torch.float64))
    assert semiseparable_rank(first).item() == 1
    assert semiseparable_rank(torch.ones(1, 1, 6, 6, dtype=torch.float64).tril()).item() == 1
    assert semiseparable_rank(torch.ones(1, 1, 6, 6).tril(), rtol=1e-5).item() == 1
    with pytest.raises(ValueError, match="splits"):
        semiseparable_rank(eye, splits=[6])


def test_plot_mixing_writes_a_png(tmp_path):
    _, _, mixing = _decompose("retention", {})
    fig = plot_mixing(mixing.phi, tmp_path / "phi.png", maps=3, title="retention head")
    assert (tmp_path / "phi.png").stat().st_size > 1000
    assert len(fig.axes) == 3


def test_non_causal_attention_is_refused():
    layer = build_layer("attention", d_model=8, causal=False)
    with pytest.raises(ValueError, match="causal=True"):
        decompose(layer, torch.randn(1, 5, 8))
