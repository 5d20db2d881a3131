import json

import pytest

from recur_core.data.generated import MARKER, write_once


def test_a_folder_is_written_once_and_reused_for_the_same_options(tmp_path):
    calls = []

    def write(tmp):
        calls.append(tmp)
        (tmp / "a.txt").write_text("a")

    folder = tmp_path / "set"
    assert write_once(folder, {"n": 1}, "gen", write) == folder
    assert (folder / "a.txt").read_text() == "a" and json.loads((folder / MARKER).read_text()) == {"n": 1}
    write_once(folder, {"n": 1}, "gen", write)
    assert len(calls) == 1
    # no temporary folder is left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]
    # other options: the folder is someone else's, not overwritten
    with pytest.raises(ValueError, match="not written by gen with these arguments"):
        write_once(folder, {"n": 2}, "gen", write)


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    def write(tmp):
        (tmp / "half.txt").write_text("x")
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        write_once(tmp_path / "set", {}, "gen", write)
    assert list(tmp_path.iterdir()) == []
