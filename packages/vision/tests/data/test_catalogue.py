import importlib

import pytest

from recur_core.data import get_dataset, list_datasets


@pytest.mark.parametrize("name", ["ucf101", "coco-karpathy"])
def test_registered_with_instructions(name):
    assert name in list_datasets()
    spec = get_dataset(name)
    assert spec.manual and spec.instructions and spec.citation and spec.homepage.startswith("https://")


def test_layout_matches_the_readers():
    ucf = get_dataset("ucf101")
    assert ucf.folder == "UCF101"
    assert "ucfTrainTestlist/classInd.txt" in ucf.paths and "ucfTrainTestlist/testlist03.txt" in ucf.paths
    coco = get_dataset("coco-karpathy")
    assert {"dataset_coco.json", "train2014", "val2014"} == set(coco.paths)


def test_every_lazy_export_resolves():
    data = importlib.import_module("recur_vision.data")
    for name in data.__all__:
        assert getattr(data, name) is not None, name
