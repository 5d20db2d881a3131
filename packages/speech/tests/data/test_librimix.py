import csv

import pytest
import torch

from recur_core.data import DatasetNotFoundError
from recur_speech.data.audio import write_audio
from recur_speech.data.librimix import (
    MixtureDataset,
    collate_mixtures,
    libri2mix_samples,
    libri2mix_split,
    load_mixture,
    read_librimix,
    read_librimix_metadata,
    read_scp,
    read_wsj0_mix,
    write_scp,
)


def test_real_libri2mix_samples(dataset_root, tmp_path):
    dataset_root("libri2mix-samples")
    mixtures = libri2mix_samples()
    assert len(mixtures) == 36 and mixtures[10].id == "item10"
    mix, sources, rate = load_mixture(mixtures[3], 8000)
    assert rate == 8000 and sources.shape == (2, mix.shape[0])
    # each file was peak-normalised on its own: mix = a s1 + b s2 holds for some a, b (a wrong pairing would not)
    coef = torch.linalg.lstsq(sources.T.double(), mix.double()).solution
    residual = mix.double() - sources.T.double() @ coef
    assert float(residual.norm() / mix.double().norm()) < 0.01
    # the same mixtures through an scp list (relative paths)
    listed = read_scp(write_scp(tmp_path / "lists" / "tt.scp", mixtures[:3]))
    assert [m.sources for m in listed] == [m.sources for m in mixtures[:3]]


def _write(path, samples, rate=8000):
    return write_audio(path, torch.linspace(-0.3, 0.3, samples), rate)


def _librimix(folder, split="test", ids=("a_b", "c_d"), samples=400):
    for mix_id in ids:
        for sub in ("mix_clean", "s1", "s2"):
            _write(folder / split / sub / f"{mix_id}.wav", samples)
    return folder


def test_librimix_metadata_from_another_machine(tmp_path):
    folder = _librimix(tmp_path / "Libri2Mix" / "wav8k" / "min")
    (folder / "metadata").mkdir()
    with (folder / "metadata" / "mixture_test_mix_clean.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["mixture_ID", "mixture_path", "source_1_path", "source_2_path", "length"])
        for mix_id in ("a_b", "c_d"):
            # absolute paths of the machine that generated the set
            out.writerow(
                [mix_id, *(f"/gen/Libri2Mix/wav8k/min/test/{d}/{mix_id}.wav" for d in ("mix_clean", "s1", "s2")), 400]
            )
    mixtures = read_librimix(folder, "test")
    assert [m.id for m in mixtures] == ["a_b", "c_d"]
    assert mixtures[1].sources[1] == folder / "test" / "s2" / "c_d.wav"
    mix, sources = MixtureDataset(mixtures, 8000)[0]
    assert mix.shape == (400,) and sources.shape == (2, 400)


def test_librimix_without_metadata_and_wsj0(tmp_path):
    folder = _librimix(tmp_path / "min")
    assert [m.id for m in read_librimix(folder, "test")] == ["a_b", "c_d"]
    wsj = tmp_path / "wsj0-2mix" / "wav8k" / "min"
    for sub in ("mix", "s1", "s2"):
        _write(wsj / "tt" / sub / "050a050a_0.3_420c020f_-0.3.wav", 300)
    [entry] = read_wsj0_mix(wsj, "tt")
    batch = collate_mixtures([MixtureDataset([entry])[0], MixtureDataset(read_librimix(folder, "test"))[0]])
    assert batch[0].shape == (2, 400) and batch[1].shape == (2, 2, 400) and batch[2].tolist() == [300, 400]


def test_mismatched_rate_and_short_source(tmp_path):
    folder = _librimix(tmp_path / "min")
    _write(folder / "test" / "s2" / "a_b.wav", 400, rate=16000)
    _write(folder / "test" / "s1" / "c_d.wav", 399)
    data = MixtureDataset(read_librimix(folder, "test"))
    with pytest.raises(ValueError, match=r"s2/a_b.wav: sample rate 16000 Hz differs from its mixture a_b.wav \(8000"):
        data[0]
    with pytest.raises(ValueError, match=r"s1/c_d.wav: 399 samples, shorter than its mixture c_d.wav \(400\)") as err:
        data[1]
    assert "\n" not in str(err.value)


def test_bad_lists_and_metadata(tmp_path):
    folder = _librimix(tmp_path / "min")
    scp = tmp_path / "bad.scp"
    scp.write_text("min/test/mix_clean/a_b.wav min/test/s1/a_b.wav\n")
    with pytest.raises(ValueError, match="line 1: 2 path"):
        read_scp(scp)
    scp.write_text("min/test/mix_clean/a_b.wav min/test/s1/a_b.wav min/test/s2/zz.wav\n")
    with pytest.raises(FileNotFoundError, match=r"zz\.wav does not exist"):
        read_scp(scp)
    (folder / "metadata").mkdir()
    (folder / "metadata" / "mixture_test_mix_clean.csv").write_text("mixture_ID,source_1_path\nx,y\n")
    with pytest.raises(ValueError, match="missing column"):
        read_librimix_metadata(folder / "metadata" / "mixture_test_mix_clean.csv")
    with pytest.raises(ValueError, match="unknown LibriMix split 'tt'"):
        read_librimix(folder, "tt")
    with pytest.raises(FileNotFoundError, match=r"neither metadata/mixture_dev_mix_clean\.csv"):
        read_librimix(folder, "dev")


def test_missing_datasets_name_the_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="JorisCos/LibriMix"):
        libri2mix_split("test", root=tmp_path)
