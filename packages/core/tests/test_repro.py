import pytest

from recur_core.repro import Claim, read_claims, write_claims


def _claim(**overrides):
    values = dict(paper="P 2020", claim="A beats B", measured="A 0.9 vs B 0.5", reproduced="yes", command="python x.py")
    return Claim(**{**values, **overrides})


def test_claims_round_trip(tmp_path):
    claims = [_claim(), _claim(measured="A 0.4, B 0.5, with a comma", reproduced="no")]
    path = write_claims(tmp_path / "out", claims)
    assert path.name == "claims.csv"
    assert read_claims(path) == claims


def test_claim_rejects_unknown_outcome_and_empty_fields():
    with pytest.raises(ValueError, match="reproduced must be one of"):
        _claim(reproduced="maybe")
    with pytest.raises(ValueError, match=r"Claim\.measured is empty"):
        _claim(measured=" ")


def test_read_claims_names_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no claims file"):
        read_claims(tmp_path / "claims.csv")


def test_outcome_and_invoked_command(monkeypatch):
    from recur_core.repro import invoked_command, outcome

    assert [outcome(3, 3), outcome(1, 3), outcome(0, 3)] == ["yes", "partly", "no"]
    with pytest.raises(ValueError, match="at least one check"):
        outcome(0, 0)
    monkeypatch.setattr("sys.argv", ["tools/repro/x.py", "--quick", "--out", "a b"])
    assert invoked_command() == "python tools/repro/x.py --quick --out 'a b'"
