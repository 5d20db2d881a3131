"""Sizes a module leaves unset come from its DataModule; a mismatch or a size nobody states is one line."""

from types import SimpleNamespace

import pytest

from recur_core.engine import check_data_matches, sizes_from_data


class Data:
    """A DataModule that states ``input_dim`` as an option and ``num_classes`` from its files."""

    def __init__(self, input_dim: int = 3) -> None:
        self.input_dim, self.num_classes = input_dim, 4


def module_with(data, **hparams):
    return SimpleNamespace(hparams=dict(hparams), trainer=SimpleNamespace(datamodule=data))


def test_unset_sizes_are_taken_from_the_data_and_set_ones_are_checked():
    module = module_with(Data(), num_classes=None, input_dim=3)
    sizes_from_data(module, ("num_classes", "input_dim"))
    assert module.hparams == {"num_classes": 4, "input_dim": 3}
    check_data_matches(module, ("num_classes", "input_dim"))
    module.hparams["input_dim"] = 5
    with pytest.raises(
        ValueError,
        match=r"model\.input_dim = 5 but the data has input_dim = 3; set --model\.input_dim 3 \(or --data\.input_dim",
    ):
        check_data_matches(module, ("input_dim",))


def test_a_size_neither_states_names_the_option():
    with pytest.raises(ValueError, match=r"model\.num_classes is not set .* set --model\.num_classes$"):
        sizes_from_data(module_with(SimpleNamespace(), num_classes=None), ("num_classes",))
    with pytest.raises(ValueError, match=r"set --model\.num_classes"):
        sizes_from_data(module_with(None, num_classes=None), ("num_classes",))
