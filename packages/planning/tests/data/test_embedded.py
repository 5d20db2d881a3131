import math
import time

import pytest

from recur_planning.data.embedded import BLOCKS_DOMAIN, EMBEDDED_DOMAINS, embedded_template, write_embedded_benchmark
from recur_planning.data.goal_recognition import folder_problems
from recur_planning.data.pddl import ground


def _run(grounded, actions):
    state = grounded.task.initial_state
    for name in actions:
        op = grounded.operator(name)
        assert op.applicable(state), f"{name} is not applicable"
        state = op.apply(state)
    return state


@pytest.mark.parametrize("domain", EMBEDDED_DOMAINS)
def test_embedded_benchmark_is_read_by_the_benchmark_reader(tmp_path, domain):
    folder = write_embedded_benchmark(
        tmp_path / domain, domain=domain, num_objects=4, num_problems=5, num_hypotheses=3, observability=(30, 100)
    )
    assert (folder / "domain.pddl").is_file() and "<HYPOTHESIS>" in (folder / "template.pddl").read_text()
    problems = folder_problems(folder)
    assert [p.observability for p in problems] == [30] * 5 + [100] * 5
    grounded = ground(folder / "domain.pddl", folder / "template.pddl")
    for partial, full in zip(problems[:5], problems[5:], strict=True):
        assert partial.hypotheses == full.hypotheses and partial.true_index == full.true_index
        assert len(set(full.hypotheses)) == 3 and full.hypotheses[full.true_index] == full.true_hypothesis
        # 100%: the whole plan, which reaches the true goal; 30%: ceil(0.3 n) of its actions, in order.
        assert full.true_hypothesis <= _run(grounded, full.observations)
        assert len(partial.observations) == math.ceil(0.3 * len(full.observations))
        rest = iter(full.observations)
        assert all(action in rest for action in partial.observations)
        assert len({p.template_key for p in problems}) == 1


def test_embedded_benchmark_is_a_function_of_the_seed(tmp_path):
    options = dict(num_objects=5, num_problems=3, num_hypotheses=4, observability=(50,))
    one = write_embedded_benchmark(tmp_path / "one", seed=1, **options)
    two = write_embedded_benchmark(tmp_path / "two", seed=1, **options)
    other = write_embedded_benchmark(tmp_path / "other", seed=2, **options)

    def contents(folder):
        return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*.tar.bz2"))}

    assert contents(one) == contents(two) and len(contents(one)) == 3
    assert contents(one) != contents(other)
    assert (one / "template.pddl").read_text() == embedded_template("blocks", 5, 1)


def test_a_written_folder_is_reused_and_rewritten_when_options_change(tmp_path):
    folder = write_embedded_benchmark(tmp_path, num_problems=4, num_hypotheses=3, observability=(100,))
    first = sorted(folder.rglob("*.tar.bz2"))
    stamps = [p.stat().st_mtime_ns for p in first]
    write_embedded_benchmark(tmp_path, num_problems=4, num_hypotheses=3, observability=(100,))
    assert [p.stat().st_mtime_ns for p in first] == stamps
    write_embedded_benchmark(tmp_path, num_problems=2, num_hypotheses=3, observability=(10,))
    assert [p.observability for p in folder_problems(folder)] == [10, 10]
    assert not (folder / "100").exists()


def test_one_hundred_problems_with_five_blocks_take_seconds(tmp_path):
    start = time.perf_counter()
    write_embedded_benchmark(tmp_path, num_objects=5, num_problems=100, num_hypotheses=6)
    assert time.perf_counter() - start < 15
    assert len(folder_problems(tmp_path)) == 500


def test_template_is_random_towers_of_the_blocks():
    template = embedded_template("blocks", num_objects=6, seed=3)
    grounded = ground(BLOCKS_DOMAIN, template)
    assert len(grounded.actions) == 6 + 6 + 30 + 30
    state = grounded.initial_state
    assert sum(f.startswith("(ontable") for f in state) == sum(f.startswith("(clear") for f in state) >= 1
    assert sum(f.startswith("(on ") for f in state) + sum(f.startswith("(ontable") for f in state) == 6
    assert embedded_template("blocks", 6, 3) == template != embedded_template("blocks", 6, 4)


def test_bad_options_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="embedded domain must be one of blocks, gripper, got 'logistics'"):
        write_embedded_benchmark(tmp_path, domain="logistics")
    with pytest.raises(ValueError, match="num_hypotheses >= 2"):
        write_embedded_benchmark(tmp_path, num_hypotheses=1)
    with pytest.raises(ValueError, match=r"observability must be percents in 1\.\.100"):
        write_embedded_benchmark(tmp_path, observability=(0, 50))
    with pytest.raises(ValueError, match="num_objects must be between 2 and 26"):
        write_embedded_benchmark(tmp_path, num_objects=1)
    with pytest.raises(ValueError, match="lower num_hypotheses"):
        write_embedded_benchmark(tmp_path, num_objects=2, num_problems=1, num_hypotheses=20)
    assert not list(tmp_path.iterdir())
