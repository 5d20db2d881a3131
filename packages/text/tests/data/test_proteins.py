"""The protein FASTA reader (labels from headers or a CSV, the unknown-residue policy, one-line errors) and the
embedded generator (deterministic, written once as FASTA + CSV, its classes told apart by hydrophobic segments)."""

from pathlib import Path

import pytest
import torch

from recur_text.data.proteins import (
    AMINO_ACIDS,
    KYTE_DOOLITTLE,
    NUM_TOKENS,
    collate_proteins,
    generate_proteins,
    read_fasta,
    read_proteins,
    tokenize,
    write_generated_proteins,
)

FASTA = """>P1 label=membrane some protein
MKTLLILAVV
AALA*
>P2 label=cytoplasm
mkdeerkbx
>P3 label=membrane
WYVILF
"""


def _write(tmp_path: Path, text: str, name: str = "p.fasta") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_header_labels_multiline_records_and_the_policies(tmp_path):
    path = _write(tmp_path, FASTA)
    data = read_proteins(path)
    assert data.ids == ["P1", "P2", "P3"] and data.classes == ("cytoplasm", "membrane")
    assert data.labels.tolist() == [1, 0, 1] and data.class_counts() == [1, 2]
    # the two lines of P1 joined, its stop removed; lower case read
    assert len(data.tokens[0]) == 14 and data.sequences[0].endswith("AALA") and data.sequences[1] == "MKDEERKBX"
    # B and X map to token 21 under the default policy
    assert data.tokens[1].tolist()[-2:] == [NUM_TOKENS, NUM_TOKENS] and data.mapped == {"P2": 2}
    assert data.tokens[2].tolist() == [AMINO_ACIDS.index(a) + 1 for a in "WYVILF"]
    dropped = read_proteins(path, unknown="drop")
    assert len(dropped.tokens[1]) == 7 and dropped.dropped == {"P2": 2}
    with pytest.raises(ValueError, match=r"record 2 \(P2\): residue 'B' is not one of the 20 amino acids"):
        read_proteins(path, unknown="error")
    truncated = read_proteins(path, max_len=5)
    assert max(len(t) for t in truncated.tokens) == 5 and truncated.truncated == 3
    item = truncated[0]
    assert item[1] == 1 and item[0].dtype == torch.long


def test_labels_from_a_side_csv_and_explicit_classes(tmp_path):
    path = _write(tmp_path, ">a\nMKV\n>b\nLLL\n>c\nAAA\n")
    labels = _write(tmp_path, "id,label,extra\na,in,1\nb,out,2\nc,in,3\nz,out,4\n", "labels.csv")
    data = read_proteins(path, labels, classes=["out", "in"])
    assert data.classes == ("out", "in") and data.labels.tolist() == [1, 0, 1]
    batch = collate_proteins([data[0], data[1]])
    assert batch["tokens"].shape == (2, 3) and batch["lengths"].tolist() == [3, 3]


@pytest.mark.parametrize(
    ("text", "labels", "message"),
    [
        (">a label=x\n\n>b label=y\nMK\n", None, r"record 1 \(a\): has no sequence"),
        (">a label=x\nMK1\n>b label=y\nMK\n", None, "character '1' at position 3 is not an amino-acid letter"),
        (">a\nMK\n>b\nMK\n", "id,label\na,x\n", r"record 2 \(b\): no label for this id"),
        (">a label=x\nMK\n", None, "binary classification needs exactly 2 labels, found 1"),
        (">a label=x\nMK\n>b label=y\nMK\n>c label=z\nMK\n", None, "exactly 2 labels, found 3"),
        (">a label=x\nMK\n>b\nMK\n", None, r"record 2 \(b\): the header 'b' has no label matching"),
        (">a label=x\nMK\n>a label=y\nMK\n", None, "id 'a' repeats record 1"),
        ("", None, "is empty"),
        ("MKV\n", None, "does not start with a '>' header line"),
        (">a\nMK\n>b\nMK\n", "id,name\na,x\n", "has no label column"),
    ],
)
def test_bad_input_is_one_line(tmp_path, text, labels, message):
    path = _write(tmp_path, text)
    label_path = _write(tmp_path, labels, "labels.csv") if labels is not None else None
    with pytest.raises(ValueError, match=message) as error:
        read_proteins(path, label_path)
    assert "\n" not in str(error.value)


def test_missing_files_name_the_option(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"--data\.fasta"):
        read_fasta(tmp_path / "none.fasta")
    with pytest.raises(ValueError, match="unknown must be"):
        tokenize("MK", unknown="keep")


def test_the_generator_is_deterministic_and_its_classes_differ_in_hydrophobic_runs():
    first, again = generate_proteins(200, seed=3), generate_proteins(200, seed=3)
    assert first == again and first != generate_proteins(200, seed=4)
    hydrophobic = {a for a, kd in KYTE_DOOLITTLE.items() if kd > 0}

    def longest_run(sequence: str) -> int:
        best = run = 0
        for a in sequence:
            run = run + 1 if a in hydrophobic else 0
            best = max(best, run)
        return best

    runs = {label: [longest_run(s) for _, s, y in first if y == label] for label in ("cytoplasm", "membrane")}
    assert min(runs["membrane"]) >= 18 and sum(runs["cytoplasm"]) / len(runs["cytoplasm"]) < 12
    assert all(60 <= len(s) <= 140 and set(s) <= set(AMINO_ACIDS) for _, s, _ in first)


def test_the_generated_set_is_written_once_and_read_by_the_fasta_reader(tmp_path):
    folder = write_generated_proteins(tmp_path / "gen", num_sequences=50, seed=1)
    stamp = (folder / "proteins.fasta").stat().st_mtime_ns
    assert write_generated_proteins(tmp_path / "gen", num_sequences=50, seed=1) == folder
    assert (folder / "proteins.fasta").stat().st_mtime_ns == stamp
    data = read_proteins(folder / "proteins.fasta", folder / "labels.csv")
    records = generate_proteins(50, seed=1)
    assert data.ids == [r[0] for r in records] and data.sequences == [r[1] for r in records]
    assert data.labels.tolist() == [int(r[2] == "membrane") for r in records]
    with pytest.raises(ValueError, match="unknown option"):
        write_generated_proteins(tmp_path / "other", colour=1)
