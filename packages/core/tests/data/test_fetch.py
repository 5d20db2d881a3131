import gzip
import hashlib
import io
import tarfile
import zipfile

import pytest

from recur_core.data import (
    DataArchive,
    DataFetchError,
    DataFile,
    DatasetSpec,
    fetch_dataset,
    register_dataset,
    verify_dataset,
)
from recur_core.data.fetch import MISMATCH, MISSING, OK, UNCHECKED

CONTENT = b"".join(b"%d,%d\n" % (i, i * i) for i in range(5000))
INFO = dict(description="d", homepage="https://example.org", licence="CC0", citation="c")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def register(*files, archives=()):
    return register_dataset(DatasetSpec(name="tiny", folder="Tiny-Data", files=files, archives=archives, **INFO))


def leftovers(root):
    """Files the fetch left in flight under <root>/.partial."""
    return sorted(p.relative_to(root) for p in (root / ".partial").rglob("*") if p.is_file())


def test_good_file_lands_checked_with_nothing_left_in_flight(isolated_catalogue, site, tmp_path):
    site.serve("/squares.csv", CONTENT)
    register(DataFile("sub/squares.csv", site.url("/squares.csv"), sha256(CONTENT), len(CONTENT)))
    lines = []
    folder = fetch_dataset("tiny", tmp_path, log=lines.append)
    assert folder == tmp_path / "Tiny-Data"
    assert (folder / "sub" / "squares.csv").read_bytes() == CONTENT
    assert not (tmp_path / ".partial").exists()
    assert lines == ["Tiny-Data/sub/squares.csv: fetched, ok"]
    # a second fetch checks the file and downloads nothing
    fetch_dataset("tiny", tmp_path, log=lines.append)
    assert len(site.requests) == 1 and lines[-1] == "Tiny-Data/sub/squares.csv: present, ok"


def test_gzip_served_file_is_stored_decompressed(isolated_catalogue, site, tmp_path):
    site.serve("/squares.csv.gz", gzip.compress(CONTENT))
    register(DataFile("squares.csv", site.url("/squares.csv.gz"), sha256(CONTENT), len(CONTENT), compression="gzip"))
    fetch_dataset("tiny", tmp_path)
    assert (tmp_path / "Tiny-Data" / "squares.csv").read_bytes() == CONTENT
    assert not (tmp_path / ".partial").exists()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as packed:
        for name, data in members.items():
            packed.writestr(name, data)
    return buffer.getvalue()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as packed:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            packed.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(("pack", "name"), [(_zip, "/tiny.zip"), (_tar_gz, "/tiny.tar.gz")])
def test_archive_unpacks_into_the_folder(isolated_catalogue, site, tmp_path, pack, name):
    members = {"train/x.csv": CONTENT, "labels.txt": b"a\nb\n"}
    archive = pack(members)
    site.serve(name, archive)
    register(archives=(DataArchive(site.url(name), sha256(archive), len(archive), tuple(members)),))
    fetch_dataset("tiny", tmp_path)
    for member, data in members.items():
        assert (tmp_path / "Tiny-Data" / member).read_bytes() == data
    assert not (tmp_path / ".partial").exists()
    assert verify_dataset("tiny", tmp_path) == [("train/x.csv", UNCHECKED), ("labels.txt", UNCHECKED)]
    fetch_dataset("tiny", tmp_path)
    assert len(site.requests) == 1


def test_archive_without_a_listed_member_is_refused(isolated_catalogue, site, tmp_path):
    archive = _zip({"other.csv": CONTENT})
    site.serve("/tiny.zip", archive)
    register(archives=(DataArchive(site.url("/tiny.zip"), None, None, ("train/x.csv",)),))
    with pytest.raises(DataFetchError, match=r"tiny\.zip does not contain train/x\.csv"):
        fetch_dataset("tiny", tmp_path)
    assert not (tmp_path / "Tiny-Data").exists() and not (tmp_path / ".partial").exists()


def test_wrong_checksum_is_one_clear_error_and_leaves_nothing(isolated_catalogue, site, tmp_path):
    site.serve("/squares.csv", CONTENT)
    expected = sha256(b"something else")
    register(DataFile("squares.csv", site.url("/squares.csv"), expected, None))
    with pytest.raises(DataFetchError) as info:
        fetch_dataset("tiny", tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert f"sha256 mismatch for Tiny-Data/squares.csv from {site.url('/squares.csv')}" in message
    assert f"expected {expected}, got {sha256(CONTENT)}" in message
    assert not (tmp_path / "Tiny-Data" / "squares.csv").exists()
    assert not (tmp_path / ".partial").exists()


def test_cut_connection_keeps_nothing_in_the_folder_and_the_next_fetch_resumes(isolated_catalogue, site, tmp_path):
    half = len(CONTENT) // 2
    site.serve("/squares.csv", CONTENT, cut_after=half)
    register(DataFile("squares.csv", site.url("/squares.csv"), sha256(CONTENT), len(CONTENT)))
    with pytest.raises(DataFetchError, match=rf"stopped after {half} of {len(CONTENT)} bytes; run the fetch again"):
        fetch_dataset("tiny", tmp_path)
    assert not (tmp_path / "Tiny-Data" / "squares.csv").exists()
    part = tmp_path / ".partial" / "tiny" / "squares.csv.part"
    assert part.read_bytes() == CONTENT[:half]

    site.serve("/squares.csv", CONTENT)
    fetch_dataset("tiny", tmp_path)
    assert site.requests == [("/squares.csv", None), ("/squares.csv", f"bytes={half}-")]
    assert (tmp_path / "Tiny-Data" / "squares.csv").read_bytes() == CONTENT
    assert not (tmp_path / ".partial").exists()


def test_server_without_ranges_restarts_the_download(isolated_catalogue, site, tmp_path):
    site.serve("/squares.csv", CONTENT, ranges=False)
    register(DataFile("squares.csv", site.url("/squares.csv"), sha256(CONTENT), len(CONTENT)))
    part = tmp_path / ".partial" / "tiny" / "squares.csv.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(CONTENT[:100])
    fetch_dataset("tiny", tmp_path)
    assert site.requests == [("/squares.csv", "bytes=100-")]
    assert (tmp_path / "Tiny-Data" / "squares.csv").read_bytes() == CONTENT


def test_complete_partial_download_is_checked_and_moved_without_downloading_again(isolated_catalogue, site, tmp_path):
    site.serve("/squares.csv", CONTENT)
    register(DataFile("squares.csv", site.url("/squares.csv"), sha256(CONTENT), len(CONTENT)))
    part = tmp_path / ".partial" / "tiny" / "squares.csv.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(CONTENT)
    fetch_dataset("tiny", tmp_path)
    assert site.requests == [("/squares.csv", f"bytes={len(CONTENT)}-")]
    assert (tmp_path / "Tiny-Data" / "squares.csv").read_bytes() == CONTENT
    assert not (tmp_path / ".partial").exists()


def test_network_failure_names_the_url(isolated_catalogue, site, tmp_path):
    register(DataFile("squares.csv", site.url("/nowhere.csv"), None, None))
    with pytest.raises(DataFetchError, match=r"could not download http://127\.0\.0\.1:\d+/nowhere\.csv: HTTP 404"):
        fetch_dataset("tiny", tmp_path)
    assert not (tmp_path / "Tiny-Data").exists()


def test_manual_file_gives_the_instructions_after_fetching_the_rest(isolated_catalogue, site, tmp_path):
    site.serve("/squares.csv", CONTENT)
    register_dataset(
        DatasetSpec(
            name="tiny",
            folder="Tiny-Data",
            files=(
                DataFile("squares.csv", site.url("/squares.csv"), sha256(CONTENT), None),
                DataFile("secret.csv", None, None, None),
            ),
            instructions="ask the authors for secret.csv",
            **INFO,
        )
    )
    with pytest.raises(DataFetchError, match=r"must be downloaded by hand \(secret\.csv missing .*authors for secret"):
        fetch_dataset("tiny", tmp_path)
    assert (tmp_path / "Tiny-Data" / "squares.csv").read_bytes() == CONTENT


def test_present_file_that_differs_is_an_error_not_an_overwrite(isolated_catalogue, site, tmp_path):
    register(DataFile("squares.csv", site.url("/squares.csv"), sha256(CONTENT), None))
    (tmp_path / "Tiny-Data").mkdir()
    (tmp_path / "Tiny-Data" / "squares.csv").write_bytes(b"edited\n")
    with pytest.raises(DataFetchError, match=r"sha256 mismatch for Tiny-Data/squares\.csv: .*move it away"):
        fetch_dataset("tiny", tmp_path)
    assert site.requests == []


def test_verify_ok_mismatch_missing_and_unchecked(isolated_catalogue, tmp_path):
    register(
        DataFile("good.csv", "https://x.org/good.csv", sha256(CONTENT), len(CONTENT)),
        DataFile("bad.csv", "https://x.org/bad.csv", sha256(CONTENT), None),
        DataFile("short.csv", "https://x.org/short.csv", None, len(CONTENT)),
        DataFile("gone.csv", "https://x.org/gone.csv", sha256(CONTENT), None),
        DataFile("free.csv", "https://x.org/free.csv", None, None),
    )
    folder = tmp_path / "Tiny-Data"
    folder.mkdir()
    (folder / "good.csv").write_bytes(CONTENT)
    (folder / "bad.csv").write_bytes(CONTENT[:-1] + b"7")
    (folder / "short.csv").write_bytes(CONTENT[:10])
    (folder / "free.csv").write_bytes(b"anything")
    assert verify_dataset("tiny", tmp_path) == [
        ("good.csv", OK),
        ("bad.csv", MISMATCH),
        ("short.csv", MISMATCH),
        ("gone.csv", MISSING),
        ("free.csv", UNCHECKED),
    ]
