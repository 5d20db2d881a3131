"""The QTN circuits: the fast state-vector path against explicit 2^n x 2^n matrices in complex128, unitarity,
parameter counts, padding and the registry's contract; the classical comparisons' contract and sizes."""

import pytest
import torch

from recur_core.registry import get_model
from recur_core.testing import check_model
from recur_text.models.protein_baselines import ProteinMPS, ProteinRNN
from recur_text.models.qtn import (
    QTNChain,
    QTNTree,
    _reference_unitary,
    ordered_product,
    reference_logits,
    sim14_unitary,
    word_states,
)


def _tokens(lengths: list[int], seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, 22, (len(lengths), max(lengths)), generator=generator)
    return tokens.masked_fill(torch.arange(max(lengths)) >= torch.tensor(lengths)[:, None], 0)


def _scrambled(model):
    # random block angles of order one, so the reference comparison exercises every gate
    model = model.double()
    with torch.no_grad():
        model.block_angles.normal_(generator=torch.Generator().manual_seed(1))
        model.scale.fill_(1.3)
        model.bias.fill_(-0.2)
    return model


@pytest.mark.parametrize(
    "model",
    [
        QTNChain(wire_qubits=2, word_layers=2, block_layers=2),
        QTNChain(wire_qubits=1, word_layers=1, block_layers=3),
        QTNTree(wire_qubits=2, word_layers=2, block_layers=2, sharing="hierarchical", levels=3),
        QTNTree(wire_qubits=2, word_layers=1, block_layers=2, sharing="uniform"),
    ],
    ids=["chain-q2", "chain-q1", "tree-hierarchical", "tree-uniform"],
)
def test_circuits_match_the_explicit_matrix_reference_in_complex128(model):
    model = _scrambled(model)
    tokens = _tokens([8, 5, 1, 7, 2, 3], seed=2)
    fast = model(tokens)
    assert fast.dtype == torch.float64
    torch.testing.assert_close(fast, reference_logits(model, tokens), rtol=1e-10, atol=1e-10)


def test_padding_changes_nothing_and_the_batch_is_independent():
    model = _scrambled(QTNTree(wire_qubits=2, word_layers=1, block_layers=1, sharing="hierarchical", levels=4))
    chain = _scrambled(QTNChain(wire_qubits=2, word_layers=1, block_layers=1))
    tokens = _tokens([9, 4, 6], seed=5)
    for net in (model, chain):
        together = net(tokens)
        alone = torch.cat([net(row[row != 0][None]) for row in tokens])
        torch.testing.assert_close(together, alone, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["qtn_chain", "qtn_tree", "protein_mps", "protein_rnn"])
def test_gradients_are_finite_with_padding(name):
    model = get_model(name)
    model(_tokens([13, 1, 6, 2, 9], seed=4)).sum().backward()
    for parameter_name, parameter in model.named_parameters():
        assert torch.isfinite(parameter.grad).all(), parameter_name


def test_the_block_is_unitary_and_preserves_the_norm():
    angles = torch.randn(3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    u = sim14_unitary(angles, 4, torch.complex128)
    torch.testing.assert_close(u.conj().T @ u, torch.eye(16, dtype=torch.complex128), rtol=0, atol=1e-12)
    torch.testing.assert_close(u, _reference_unitary(angles, 4), rtol=0, atol=1e-12)
    states = torch.randn(5, 16, dtype=torch.complex128)
    torch.testing.assert_close((states @ u.T).norm(dim=1), states.norm(dim=1))
    words = word_states(torch.randn(21, 2, 3, 2, dtype=torch.float64), torch.complex128)
    torch.testing.assert_close(words.norm(dim=1), torch.ones(21, dtype=torch.float64))


def test_ordered_product_is_the_product_in_reading_order_up_to_a_positive_factor():
    mats = torch.randn(2, 5, 3, 3, dtype=torch.float64)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    product = ordered_product(mats, mask)
    for row, steps in enumerate((5, 3)):
        expected = torch.eye(3, dtype=torch.float64)
        for t in range(steps):
            expected = mats[row, t] @ expected
        ratio = product[row] / expected
        torch.testing.assert_close(ratio, ratio.mean().expand(3, 3))
        assert ratio.mean() > 0


def test_complex64_path_agrees_with_complex128():
    model = QTNChain()
    tokens = _tokens([40, 17])
    low = model(tokens)
    high = model.double()(tokens)
    torch.testing.assert_close(low.double(), high, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("name", "kwargs", "count"),
    [
        ("qtn_chain", {}, 21 * 4 * 6 + 12 * 24 + 2),
        ("qtn_tree", {}, 21 * 4 * 6 + 8 * 2 * 24 + 2),
        ("qtn_tree", {"sharing": "uniform", "block_layers": 12}, 21 * 4 * 6 + 12 * 24 + 2),
        ("protein_rnn", {}, 22 * 8 + 8 * 8 * 8 + 8 * 8 + 9),
        ("protein_mps", {}, 21 * 36 + 2 * 6 + 1),
    ],
)
def test_parameter_counts_are_the_papers_size(name, kwargs, count):
    model = get_model(name, **kwargs)
    assert sum(p.numel() for p in model.parameters()) == count
    assert 700 <= count <= 900


@pytest.mark.parametrize("name", ["qtn_chain", "qtn_tree", "protein_rnn", "protein_mps"])
def test_registered_models_pass_check_model(name):
    check_model(get_model(name))


@pytest.mark.parametrize("layer", ["gru", "mamba", "attention"])
def test_the_rnn_baseline_takes_any_core_layer(layer):
    model = ProteinRNN(d_model=8, layer=layer, readout="mean")
    check_model(model)


def test_bad_input_is_one_line():
    model = QTNTree(levels=2)
    with pytest.raises(ValueError, match="reads at most 4 residues, got 5"):
        model(_tokens([5]))
    with pytest.raises(ValueError, match=r"token ids must lie in 0\.\.21"):
        QTNChain()(torch.tensor([[1, 22]]))
    with pytest.raises(ValueError, match="right padding"):
        ProteinMPS()(torch.tensor([[1, 0, 3]]))
    with pytest.raises(ValueError, match="at least one residue"):
        ProteinRNN()(torch.tensor([[0, 0]]))
    with pytest.raises(ValueError, match="sharing must be"):
        QTNTree(sharing="local")
    with pytest.raises(ValueError, match=r"wire_qubits must be 1\.\.5"):
        QTNChain(wire_qubits=0)
