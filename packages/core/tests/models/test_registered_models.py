"""Registry-driven: every registered model (of every installed member) builds with its defaults and trains."""

import pytest

from recur_core import get_model, list_models
from recur_core.testing import check_model

# paper-scale defaults that take a minute or more on a CPU (LION's KITTI-size BEV maps): `make test-slow` builds
# them; their small configurations pass the same contract in the member's tests (pointcloud's test_detector.py)
SLOW_DEFAULTS = {"lion", "lion_no_backbone"}


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW_DEFAULTS else name for name in list_models()]
)
def test_registered_model(name):
    check_model(get_model(name))
