import importlib

import pytest

from recur_core.data import get_dataset, list_datasets


@pytest.mark.parametrize("name", ["librispeech", "librispeech-sample", "libri2mix", "libri2mix-samples", "wsj0-2mix"])
def test_registered_with_provenance(name):
    assert name in list_datasets()
    spec = get_dataset(name)
    assert spec.citation and spec.licence and spec.homepage.startswith("https://")
    if spec.manual:
        assert spec.instructions


def test_layout_matches_the_readers():
    assert get_dataset("librispeech").paths == tuple(
        f"LibriSpeech/{s}" for s in ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100")
    )
    assert not get_dataset("librispeech").manual
    assert "wav8k/min/metadata" in get_dataset("libri2mix").paths
    assert set(get_dataset("wsj0-2mix").paths) == {"wav8k/min/tr", "wav8k/min/cv", "wav8k/min/tt"}
    assert len(get_dataset("libri2mix-samples").paths) == 108


def test_every_lazy_export_resolves():
    data = importlib.import_module("recur_speech.data")
    for name in data.__all__:
        assert getattr(data, name) is not None, name
