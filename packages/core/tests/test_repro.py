import csv
import itertools
from pathlib import Path

import pytest
import torch

from recur_core.repro import (
    Claim,
    read_claims,
    replace_generated_table,
    repro_parser,
    shuffled_batches,
    train_adamw,
    write_claims,
    write_rows,
)
from recur_core.schedules import warmup_cosine


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


def _dictwriter_bytes(path, rows, fieldnames, digits=None):
    """What the scripts wrote before ``write_rows``: a ``csv.DictWriter`` with floats rounded inline."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(
            {k: round(v, digits) if digits and isinstance(v, float) else v for k, v in r.items()} for r in rows
        )
    return path.read_bytes()


ROWS = [
    {"arm": "a, quoted", "seed": 0, "acc": 0.123456789, "lr": 3e-5, "ok": True, "n": 7},
    {"arm": "b", "seed": 1, "acc": 1 / 3, "lr": 1e-2, "ok": False, "n": 12},
]


@pytest.mark.parametrize("digits", [None, 4, 5])
def test_write_rows_writes_what_the_inline_dictwriter_wrote(tmp_path, digits):
    expected = _dictwriter_bytes(tmp_path / "old.csv", ROWS, list(ROWS[0]), digits)
    assert write_rows(tmp_path / "new" / "t.csv", ROWS, digits=digits).read_bytes() == expected


def test_write_rows_columns_order_select_and_exact(tmp_path):
    path = write_rows(tmp_path / "t.csv", ROWS, columns=["seed", "lr", "acc"], digits=4, exact=("lr",))
    assert path.read_text().splitlines() == ["seed,lr,acc", "0,3e-05,0.1235", "1,0.01,0.3333"]
    # a column a row lacks is empty, as csv.DictWriter leaves it
    path = write_rows(tmp_path / "t.csv", [{"a": 1, "b": 2.0}, {"a": 3}])
    assert path.read_text().splitlines() == ["a,b", "1,2.0", "3,"]
    with pytest.raises(ValueError, match="at least one row"):
        write_rows(tmp_path / "t.csv", [])


def test_repro_parser_adds_out_and_quick():
    doc = "Title line of the script.\n\nLonger description that --help does not show."
    parser = repro_parser(doc, "runs/repro/x", quick_help="fewer steps")
    assert parser.description == "Title line of the script."
    args = parser.parse_args([])
    assert args.out == Path("runs/repro/x") and args.quick is False
    args = parser.parse_args(["--out", "elsewhere", "--quick"])
    assert args.out == Path("elsewhere") and args.quick is True
    text = parser.format_help()
    assert "fewer steps" in text and "output folder" in text
    assert "folder for CSV" in repro_parser(doc, "o", "q", out_help="folder for CSV").format_help()


def test_shuffled_batches_cover_every_index_once_per_epoch():
    batches = list(shuffled_batches(10, 4, 3, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4, 4, 2] * 3
    for epoch in range(3):
        assert sorted(torch.cat(batches[3 * epoch : 3 * epoch + 3]).tolist()) == list(range(10))
    assert batches[0].tolist() != batches[3].tolist()
    again = list(shuffled_batches(10, 4, 3, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))


def _reference_loop(model, batches, loss_fn, steps, lr, weight_decay, clip, scheduler):
    """The loops the repro scripts wrote out before ``train_adamw``."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    batches = iter(batches)
    for step in range(steps):
        if scheduler == "cosine":
            for group in opt.param_groups:
                group["lr"] = lr * warmup_cosine(step, max(1, steps // 10), steps)
        loss = loss_fn(next(batches))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()


@pytest.mark.parametrize(("clip", "scheduler"), [(None, "cosine"), (0.05, "cosine"), (0.05, "constant")])
def test_train_adamw_matches_the_written_out_loop(clip, scheduler):
    x, y = torch.randn(37, 5, generator=torch.Generator().manual_seed(1)), torch.randint(0, 3, (37,))
    models = []
    for train in (_reference_loop, train_adamw):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
        drawn = []

        def loss_fn(idx, model=model):
            return torch.nn.functional.cross_entropy(model(x[idx]), y[idx])

        def batches(drawn=drawn):
            for idx in shuffled_batches(len(x), 8, 4, torch.Generator().manual_seed(2)):
                drawn.append(idx)
                yield idx

        train(model, batches(), loss_fn, 17, 3e-2, 0.01, clip, scheduler)
        models.append((model, len(drawn)))
    (reference, drawn_ref), (model, drawn) = models
    # 17 of the 20 batches are drawn, none more, and the weights are the same to the bit
    assert drawn == drawn_ref == 17
    for a, b in zip(reference.parameters(), model.parameters()):
        assert torch.equal(a, b)
    assert model.training


def test_train_adamw_schedules_differ_and_unknown_one_is_refused():
    weights = {}
    for scheduler in ("cosine", "constant"):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        ones = itertools.repeat(torch.ones(2, 3))
        train_adamw(model, ones, lambda x, model=model: model(x).square().mean(), 5, 0.1, 0.0, None, scheduler)
        weights[scheduler] = model.weight.detach().clone()
    assert not torch.equal(weights["cosine"], weights["constant"])
    with pytest.raises(ValueError, match="scheduler must be"):
        train_adamw(model, [], lambda x: x, 1, 0.1, 0.0, scheduler="linear")


def test_replace_generated_table_keeps_the_page_around_the_block(tmp_path):
    page = tmp_path / "page.md"
    begin = "<!-- demo table: generated by tools/repro/demo.py, do not edit -->"
    end = "<!-- end of demo table -->"
    page.write_text(f"intro\n{begin}\n| old |\n{end}\nafter\n")
    replace_generated_table(page, "demo", "| new |\n")
    assert page.read_text() == f"intro\n{begin}\n| new |\n{end}\nafter\n"
    page.write_text("no markers\n")
    with pytest.raises(ValueError, match="no '<!-- demo table"):
        replace_generated_table(page, "demo", "| new |\n")


def test_replace_generated_table_fills_a_bench_block(tmp_path):
    page = tmp_path / "page.md"
    begin = "<!-- demo bench: generated by tools/bench/demo.py, do not edit -->"
    end = "<!-- end of demo bench -->"
    page.write_text(f"intro\n{begin}\n| old |\n{end}\nafter\n")
    replace_generated_table(page, "demo", "| new |\n", tool="bench")
    assert page.read_text() == f"intro\n{begin}\n| new |\n{end}\nafter\n"
    with pytest.raises(ValueError, match="no '<!-- demo table"):
        replace_generated_table(page, "demo", "| new |\n")
    with pytest.raises(ValueError, match="tool must be 'repro' or 'bench'"):
        replace_generated_table(page, "demo", "| new |\n", tool="docs")
