"""Registry-driven: every registered layer passes the contract check, in float64 and float32."""

import pytest
import torch

from recur_core import build_layer, check_layer_contract, list_layers


@pytest.mark.parametrize("name", list_layers())
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_layer_contract(name, dtype):
    torch.manual_seed(0)
    check_layer_contract(build_layer(name, d_model=16), dtype=dtype)


@pytest.mark.parametrize("name", list_layers())
def test_contract_on_odd_sizes(name):
    torch.manual_seed(1)
    check_layer_contract(build_layer(name, d_model=8), batch_size=2, seq_len=23, seed=3)
