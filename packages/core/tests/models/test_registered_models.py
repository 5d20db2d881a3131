"""Registry-driven: every registered model (of every installed member) builds with its defaults and trains."""

import pytest

from recur_core import get_model, list_models
from recur_core.testing import check_model


@pytest.mark.parametrize("name", list_models())
def test_registered_model(name):
    check_model(get_model(name))
