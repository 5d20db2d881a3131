import io
import tarfile
import time
from pathlib import Path

import pytest

from recur_planning.data.goal_recognition import (
    ARCHIVE_MEMBERS,
    BENCHMARK_DOMAINS,
    benchmark_levels,
    benchmark_problems,
    read_problem,
    write_problem,
)

DOMAIN = "(define (domain tiny) (:predicates (at ?x)) (:action go :parameters (?x ?y) :precondition (at ?x) "
DOMAIN += ":effect (and (at ?y) (not (at ?x)))))\n"
TEMPLATE = "(define (problem p) (:domain tiny) (:objects a b c) (:init (at a))\n(:goal (and\n<HYPOTHESIS>\n)))\n"
HYPOTHESES = [{"(AT B)"}, {"(at c)"}, {"(at  a)", "(AT B)"}]


def _write(path: Path, **changes) -> Path:
    fields = dict(
        domain=DOMAIN,
        template=TEMPLATE,
        hypotheses=HYPOTHESES,
        true_hypothesis={"(at c)"},
        observations=["(GO A B)", "(go b c)"],
    )
    fields.update(changes)
    return write_problem(path, **fields)


def _raw_archive(path: Path, members: dict[str, str], prefix: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:bz2") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _members(**changes: str) -> dict[str, str]:
    members = {
        "domain.pddl": DOMAIN,
        "template.pddl": TEMPLATE,
        "hyps.dat": "(AT B)\n(AT C)\n",
        "real_hyp.dat": "(AT C)\n",
        "obs.dat": "(GO A B)\n(GO B C)\n",
    }
    members.update(changes)
    return members


def _one_line_error(error: pytest.ExceptionInfo, path: Path, *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message and str(path) in message, message
    for word in words:
        assert word in message, message


def test_write_then_read_gives_normalized_problem(tmp_path):
    path = _write(tmp_path / "tiny-noisy" / "30" / "tiny_p01_hyp-1_30_0.tar.bz2")
    problem = read_problem(path)
    assert problem.name == "tiny_p01_hyp-1_30_0"
    assert problem.hypotheses == (frozenset({"(at b)"}), frozenset({"(at c)"}), frozenset({"(at a)", "(at b)"}))
    assert problem.true_hypothesis == frozenset({"(at c)"}) and problem.true_index == 1
    assert problem.observations == ("(go a b)", "(go b c)")
    assert (problem.observability, problem.noisy) == (30, True)
    assert problem.domain == DOMAIN and problem.template == TEMPLATE and problem.path == path.absolute()
    assert problem.is_correct(1) and not problem.is_correct(0)
    with tarfile.open(path) as archive:
        assert sorted(archive.getnames()) == sorted(ARCHIVE_MEMBERS)


def test_written_archives_are_byte_identical_for_equal_inputs(tmp_path):
    first = _write(tmp_path / "a" / "100" / "p.tar.bz2").read_bytes()
    assert _write(tmp_path / "b" / "100" / "p.tar.bz2").read_bytes() == first
    assert not list((tmp_path / "a" / "100").glob(".*part"))


def test_template_key_is_shared_by_problems_on_one_template(tmp_path):
    one = read_problem(_write(tmp_path / "d" / "10" / "one.tar.bz2"))
    two = read_problem(_write(tmp_path / "d" / "10" / "two.tar.bz2", observations=["(go a c)"]))
    other = read_problem(_write(tmp_path / "d" / "10" / "three.tar.bz2", template=TEMPLATE.replace("(at a)", "(at b)")))
    assert one.template_key == two.template_key != other.template_key
    assert len(one.template_key) == 64 and not one.noisy
    # Comments, case, spacing and the problem's name do not make another template.
    renamed = ";; a copy\n" + TEMPLATE.replace("(problem p)", "(PROBLEM p-copy)").replace(" (at a)", "  (AT a)")
    same = read_problem(_write(tmp_path / "d" / "10" / "four.tar.bz2", template=renamed))
    assert same.template_key == one.template_key


def test_duplicate_candidates_are_kept_and_both_count_as_right(tmp_path):
    path = _write(tmp_path / "d" / "50" / "dup.tar.bz2", hypotheses=[{"(at b)"}, {"(at c)"}, {"(AT C)"}])
    problem = read_problem(path)
    assert len(problem.hypotheses) == 3 and problem.true_index == 1
    assert problem.is_correct(1) and problem.is_correct(2)


def test_archive_layouts_of_the_real_data_are_read(tmp_path):
    # "./member" names and macOS "._member" resource forks both occur in the benchmark.
    dotted = _raw_archive(tmp_path / "d" / "70" / "dotted.tar.bz2", _members(), prefix="./")
    assert read_problem(dotted).observations == ("(go a b)", "(go b c)")
    forks = {f"._{name}": "\x00binary" for name in ARCHIVE_MEMBERS}
    both = _raw_archive(tmp_path / "d" / "70" / "forks.tar.bz2", {**forks, **_members()}, prefix="./")
    assert read_problem(both).true_hypothesis == frozenset({"(at c)"})


def test_observability_falls_back_to_the_file_name(tmp_path):
    assert read_problem(_write(tmp_path / "x" / "dom_p1_hyp-0_50_2.tar.bz2")).observability == 50
    assert read_problem(_write(tmp_path / "x" / "dom_p1_hyp-0_full.tar.bz2")).observability == 100
    with pytest.raises(ValueError, match="folder named by the percent") as error:
        read_problem(_write(tmp_path / "x" / "mystery.tar.bz2"))
    _one_line_error(error, tmp_path / "x" / "mystery.tar.bz2")


def test_missing_archive_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="goal-recognition archive not found"):
        read_problem(tmp_path / "10" / "absent.tar.bz2")


def test_empty_truncated_and_foreign_archives_are_one_line_errors(tmp_path):
    good = _write(tmp_path / "d" / "10" / "good.tar.bz2")
    empty = tmp_path / "d" / "10" / "empty.tar.bz2"
    empty.write_bytes(b"")
    truncated = tmp_path / "d" / "10" / "truncated.tar.bz2"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    gzipped = tmp_path / "d" / "10" / "gzipped.tar.bz2"
    with tarfile.open(gzipped, "w:gz") as archive:
        archive.add(good, arcname="domain.pddl")
    text = tmp_path / "d" / "10" / "text.tar.bz2"
    text.write_text("not an archive\n")
    with pytest.raises(ValueError) as error:
        read_problem(empty)
    _one_line_error(error, empty, "empty", "re-fetch")
    for path in (truncated, gzipped, text):
        with pytest.raises(ValueError) as error:
            read_problem(path)
        _one_line_error(error, path, "not a readable .tar.bz2", "re-fetch")


def test_missing_member_is_named(tmp_path):
    members = _members()
    del members["real_hyp.dat"]
    path = _raw_archive(tmp_path / "d" / "10" / "four.tar.bz2", members)
    with pytest.raises(ValueError) as error:
        read_problem(path)
    _one_line_error(error, path, "missing member(s) real_hyp.dat")


@pytest.mark.parametrize("member", ["obs.dat", "hyps.dat", "real_hyp.dat"])
def test_empty_member_is_an_error(tmp_path, member):
    path = _raw_archive(tmp_path / "d" / "10" / f"no-{member}.tar.bz2", _members(**{member: "\n  \n"}))
    with pytest.raises(ValueError) as error:
        read_problem(path)
    _one_line_error(error, path, f"{member} is empty")


def test_real_goal_absent_from_candidates_names_the_fix(tmp_path):
    path = _raw_archive(tmp_path / "d" / "10" / "absent.tar.bz2", _members(**{"real_hyp.dat": "(AT A)\n"}))
    with pytest.raises(ValueError) as error:
        read_problem(path)
    _one_line_error(error, path, "(at a) is not among the 2 candidates", "fix real_hyp.dat")


def test_two_real_goals_are_an_error(tmp_path):
    path = _raw_archive(tmp_path / "d" / "10" / "two.tar.bz2", _members(**{"real_hyp.dat": "(AT B)\n(AT C)\n"}))
    with pytest.raises(ValueError) as error:
        read_problem(path)
    _one_line_error(error, path, "real_hyp.dat has 2 lines")


def test_write_problem_refuses_inconsistent_problems(tmp_path):
    with pytest.raises(ValueError, match="true goal \\(at a\\) is not among the candidates"):
        _write(tmp_path / "p.tar.bz2", true_hypothesis={"(at a)"})
    with pytest.raises(ValueError, match="at least one observed action"):
        _write(tmp_path / "p.tar.bz2", observations=[])
    with pytest.raises(ValueError, match="<HYPOTHESIS>"):
        _write(tmp_path / "p.tar.bz2", template="(define (problem p))")
    assert not (tmp_path / "p.tar.bz2").exists()


def _fake_root(tmp_path: Path) -> Path:
    folder = tmp_path / "goal-plan-recognition-dataset"
    folder.mkdir()
    (folder / "README.md").write_text("fake\n")
    for domain in BENCHMARK_DOMAINS:
        (folder / domain / "100").mkdir(parents=True)
    for level in (10, 30):
        for k in range(4):
            _write(folder / "campus" / str(level) / f"campus_hyp-{k}_{level}_0.tar.bz2")
    _write(folder / "campus-noisy" / "25" / "noisy_hyp-0_25_1.tar.bz2")
    return tmp_path


def test_benchmark_problems_reads_levels_and_seeded_subsets(tmp_path):
    root = _fake_root(tmp_path)
    assert benchmark_levels("campus", root) == (10, 30, 100)
    problems = benchmark_problems("campus", root)
    assert [p.observability for p in problems] == [10] * 4 + [30] * 4
    subset = benchmark_problems("campus", root, observability=[30], limit_per_level=2, seed=3)
    assert len(subset) == 2 and {p.observability for p in subset} == {30}
    assert [p.name for p in subset] == [
        p.name for p in benchmark_problems("campus", root, [30], limit_per_level=2, seed=3)
    ]
    noisy = benchmark_problems("campus", root, noisy=True)
    assert len(noisy) == 1 and noisy[0].noisy and noisy[0].observability == 25


def test_benchmark_problems_bad_arguments(tmp_path):
    root = _fake_root(tmp_path)
    with pytest.raises(ValueError, match=r"domain must be one of blocks-world, campus, .*, got 'blocks'"):
        benchmark_problems("blocks", root)
    with pytest.raises(ValueError, match=r"observability \[20\] not in campus: choose from 10, 30, 100"):
        benchmark_problems("campus", root, observability=[20])
    with pytest.raises(ValueError, match="limit_per_level must be at least 1"):
        benchmark_problems("campus", root, limit_per_level=0)
    with pytest.raises(FileNotFoundError, match=r"benchmark folder .*kitchen-noisy is missing"):
        benchmark_problems("kitchen", root, noisy=True)


def test_every_real_blocks_world_archive_reads(dataset_root):
    dataset_root("goal-plan-recognition", "blocks-world/10", "blocks-world-noisy/25")
    start = time.perf_counter()
    problems = benchmark_problems("blocks-world")
    assert len(problems) == 1076 and time.perf_counter() - start < 10
    assert {p.observability for p in problems} == {10, 30, 50, 70, 100}
    assert all(p.hypotheses[p.true_index] == p.true_hypothesis and p.observations for p in problems)
    assert len({p.template_key for p in problems}) < len(problems)
    first = problems[0]
    assert first.name == "block-words-aaai_p01_hyp-0_10_0" and first.observations == ("(unstack r p)",)
    assert "(on d r)" in first.true_hypothesis and not first.noisy
    noisy = benchmark_problems("blocks-world", noisy=True)
    assert len(noisy) == 144 and all(p.noisy for p in noisy)
    assert {p.observability for p in noisy} == {25, 50, 75, 100}
    # Parsed problems are cached per process.
    assert benchmark_problems("blocks-world", observability=[10])[0] is first


@pytest.mark.slow
def test_all_7639_real_archives_read(dataset_root):
    dataset_root("goal-plan-recognition")
    total = 0
    for domain in BENCHMARK_DOMAINS:
        for noisy in (False, True):
            problems = benchmark_problems(domain, noisy=noisy)
            assert all(p.true_hypothesis in p.hypotheses and p.observations for p in problems)
            total += len(problems)
    assert total == 7639
