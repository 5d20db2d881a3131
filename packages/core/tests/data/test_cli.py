import hashlib
import os
import subprocess
import sys

import pytest

from recur_core.data import DataFetchError, DataFile, DatasetSpec, dataset_status, register_dataset
from recur_core.umbrella import main

CONTENT = b"x,y\n1,2\n"
INFO = dict(description="d", homepage="https://example.org", licence="CC0", citation="c")


def recur(*argv: str) -> int:
    """Run ``recur ARGV`` in this process; returns the exit code."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    return info.value.code


def register(*files, instructions=""):
    register_dataset(DatasetSpec(name="tiny", folder="Tiny-Data", files=files, instructions=instructions, **INFO))


def test_list_shows_the_shared_samples(dataset_root, monkeypatch, capsys):
    folder = dataset_root("ett")
    monkeypatch.setenv("RECUR_DATA", str(folder.parent))
    assert recur("data", "list") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"data root: {folder.parent}"
    row = next(line.split() for line in out.splitlines() if line.startswith("ett "))
    assert row[1] == dataset_status("ett").state != "missing"
    assert row[-1] == str(folder) and "CC BY-ND 4.0" in " ".join(row)


def test_unknown_dataset_is_one_line_on_stderr_and_exit_2():
    out = subprocess.run(
        [sys.executable, "-m", "recur_core.umbrella", "data", "fetch", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
        env={key: value for key, value in os.environ.items() if key != "RECUR_DEBUG"},
    )
    assert out.returncode == 2
    assert out.stderr.startswith("recur: error: unknown dataset 'nope'; valid names: ")
    assert len(out.stderr.splitlines()) == 1 and "Traceback" not in out.stderr
    assert out.stdout == ""


def test_fetch_and_verify(isolated_catalogue, site, tmp_path, capsys):
    register(DataFile("a.csv", site.serve("/a.csv", CONTENT), hashlib.sha256(CONTENT).hexdigest(), len(CONTENT)))
    assert recur("data", "fetch", "tiny", "--root", str(tmp_path)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Tiny-Data/a.csv: fetched, ok",
        f"dataset 'tiny' is in {tmp_path / 'Tiny-Data'}",
    ]
    assert recur("data", "verify", "tiny", "--root", str(tmp_path)) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["tiny", "Tiny-Data/a.csv", "ok"]
    (tmp_path / "Tiny-Data" / "a.csv").write_bytes(b"x,y\n1,3\n")
    assert recur("data", "verify", "tiny", "--root", str(tmp_path)) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1].split() == ["tiny", "Tiny-Data/a.csv", "MISMATCH"]
    assert "1 file(s) differ from the catalogue: Tiny-Data/a.csv" in captured.err


def test_checksum_mismatch_is_one_line_and_exit_2(isolated_catalogue, site, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RECUR_DEBUG", raising=False)
    register(DataFile("a.csv", site.serve("/a.csv", CONTENT), "0" * 64, None))
    assert recur("data", "fetch", "tiny", "--root", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("recur: error: sha256 mismatch for Tiny-Data/a.csv") and len(err.splitlines()) == 1
    assert not (tmp_path / "Tiny-Data").exists()


def test_manual_dataset_says_how_to_get_it(isolated_catalogue, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RECUR_DEBUG", raising=False)
    register(DataFile("a.csv", None, None, None), instructions="ask the authors for a.csv")
    assert recur("data", "fetch", "tiny", "--root", str(tmp_path)) == 2
    err = capsys.readouterr().err
    folder = tmp_path / "Tiny-Data"
    assert err == (
        f"recur: error: dataset 'tiny' must be downloaded by hand (a.csv missing under {folder}): "
        "ask the authors for a.csv\n"
    )


def test_recur_debug_shows_the_traceback(isolated_catalogue, tmp_path, monkeypatch):
    monkeypatch.setenv("RECUR_DEBUG", "1")
    register(DataFile("a.csv", None, None, None), instructions="ask the authors for a.csv")
    with pytest.raises(DataFetchError, match="ask the authors"):
        main(["data", "fetch", "tiny", "--root", str(tmp_path)])
