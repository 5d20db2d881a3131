from pathlib import Path

import pytest

from recur_core.data import (
    DataFile,
    DatasetNotFoundError,
    DatasetSpec,
    data_root,
    dataset_dir,
    dataset_file,
    dataset_status,
    register_dataset,
)


def spec(name="tiny", files=("a.csv", "sub/b.csv"), url="https://example.org/", instructions=""):
    return DatasetSpec(
        name=name,
        folder="Tiny-Data",
        files=tuple(DataFile(path, url and url + path, None, None) for path in files),
        description="two tiny files",
        homepage="https://example.org",
        licence="CC0",
        citation="nobody",
        instructions=instructions,
    )


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("RECUR_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_root() == tmp_path / "home" / ".cache" / "recur" / "data"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_root() == tmp_path / "xdg" / "recur" / "data"
    monkeypatch.setenv("RECUR_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "explicit") == tmp_path / "explicit"


def test_empty_variables_count_as_unset_and_paths_come_back_absolute(monkeypatch, tmp_path):
    monkeypatch.setenv("RECUR_DATA", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_root() == tmp_path / "recur" / "data"
    monkeypatch.chdir(tmp_path)
    assert data_root("relative") == tmp_path / "relative"


def test_status_missing_partial_present(isolated_catalogue, tmp_path):
    register_dataset(spec())
    folder = tmp_path / "Tiny-Data"
    assert dataset_status("tiny", tmp_path) == ("missing", folder)
    folder.mkdir()
    (folder / "a.csv").write_text("1\n")
    assert dataset_status("tiny", tmp_path).state == "partial"
    (folder / "sub").mkdir()
    (folder / "sub" / "b.csv").write_text("2\n")
    state, where = dataset_status("tiny", tmp_path)
    assert (state, where) == ("present", folder)


def test_dataset_file_returns_the_path_or_one_line_naming_the_fetch(isolated_catalogue, tmp_path):
    register_dataset(spec())
    with pytest.raises(DatasetNotFoundError) as info:
        dataset_file("tiny", "a.csv", root=tmp_path, label="Tiny A")
    message = str(info.value)
    assert message == (
        f"dataset 'Tiny A' not found under {tmp_path / 'Tiny-Data'}: run 'recur data fetch tiny' or set RECUR_DATA"
    )
    assert isinstance(info.value, FileNotFoundError) and "\n" not in message
    (tmp_path / "Tiny-Data").mkdir()
    (tmp_path / "Tiny-Data" / "a.csv").write_text("1\n")
    assert dataset_file("tiny", "a.csv", root=tmp_path) == tmp_path / "Tiny-Data" / "a.csv"


def test_relative_root_gives_an_absolute_folder_in_the_message(isolated_catalogue, tmp_path, monkeypatch):
    register_dataset(spec())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECUR_DATA", "data")
    with pytest.raises(DatasetNotFoundError, match=f"dataset 'a.csv' not found under {tmp_path}/data/Tiny-Data: run"):
        dataset_file("tiny", "a.csv")


def test_manual_dataset_gives_its_instructions(isolated_catalogue, tmp_path):
    register_dataset(spec(url=None, instructions="ask the authors for tiny.zip and unzip it under the data root"))
    with pytest.raises(DatasetNotFoundError) as info:
        dataset_file("tiny", "a.csv", root=tmp_path)
    assert str(info.value) == (
        f"dataset 'a.csv' not found under {tmp_path / 'Tiny-Data'}: "
        "ask the authors for tiny.zip and unzip it under the data root"
    )


def test_dataset_dir_needs_every_file(isolated_catalogue, tmp_path):
    register_dataset(spec())
    folder = tmp_path / "Tiny-Data"
    with pytest.raises(DatasetNotFoundError, match=r"^dataset 'tiny' not found under .*Tiny-Data: run 'recur data"):
        dataset_dir("tiny", tmp_path)
    folder.mkdir()
    (folder / "a.csv").write_text("1\n")
    with pytest.raises(DatasetNotFoundError, match=r"Tiny-Data \(missing sub/b\.csv\): run 'recur data fetch tiny'"):
        dataset_dir("tiny", tmp_path)
    (folder / "sub").mkdir()
    (folder / "sub" / "b.csv").write_text("2\n")
    assert dataset_dir("tiny", tmp_path) == folder


def test_unknown_dataset_lists_the_valid_names(isolated_catalogue, tmp_path):
    register_dataset(spec())
    with pytest.raises(ValueError, match=r"unknown dataset 'nope'; valid names: .*tiny"):
        dataset_file("nope", "a.csv", root=tmp_path)


def test_dataset_root_fixture_skips_naming_the_fetch(isolated_catalogue, tmp_path, monkeypatch, dataset_root):
    register_dataset(spec())
    monkeypatch.setenv("RECUR_DATA", str(tmp_path))
    with pytest.raises(pytest.skip.Exception, match="recur data fetch tiny"):
        dataset_root("tiny")
    (tmp_path / "Tiny-Data").mkdir()
    (tmp_path / "Tiny-Data" / "a.csv").write_text("1\n")
    assert dataset_root("tiny") == tmp_path / "Tiny-Data"
    with pytest.raises(pytest.skip.Exception, match=r"dataset 'sub/b\.csv' not found"):
        dataset_root("tiny", "sub/b.csv")
    assert Path(dataset_root("tiny", "a.csv")) == tmp_path / "Tiny-Data"
