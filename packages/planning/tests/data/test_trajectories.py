"""Generated trajectories: shapes, ranges, labels, determinism per seed, bad options."""

import numpy as np
import pytest

from recur_planning.data.trajectories import BEHAVIOURS, TrajectoryDataset, generate_trajectories


@pytest.mark.parametrize(("source", "dims"), [("lissajous", 2), ("switching", 2), ("reacher", 4), ("pendulum", 3)])
def test_sources_give_bounded_labelled_sequences_and_repeat_for_a_seed(source, dims):
    a = generate_trajectories(source, num_sequences=4, length=30, seed=3)
    assert a.values.shape == (4, 30, dims) and a.values.dtype == np.float32
    assert a.labels.shape == (4, 30) and a.behaviours == BEHAVIOURS[source]
    assert np.abs(a.values).max() < 1 and a.labels.min() >= 0 and a.labels.max() < len(a.behaviours)
    # moving: the sequences are not constant
    assert np.abs(np.diff(a.values, axis=1)).mean() > 1e-3
    b = generate_trajectories(source, num_sequences=4, length=30, seed=3, noise=0.01)
    np.testing.assert_array_equal(a.values, b.values)
    c = generate_trajectories(source, num_sequences=4, length=30, seed=4)
    assert not np.array_equal(a.values, c.values)


def test_determinism_does_not_depend_on_the_cache():
    from recur_planning.data import trajectories

    a = np.array(generate_trajectories("reacher", num_sequences=2, length=20, seed=7).values)
    trajectories._generate.cache_clear()
    b = generate_trajectories("reacher", num_sequences=2, length=20, seed=7).values
    np.testing.assert_array_equal(a, b)


def test_reacher_fingertip_follows_the_circle_target():
    # a circle primitive's fingertip path has a roughly constant distance to its centre after the transient
    t = generate_trajectories("reacher", num_sequences=8, length=120, seed=0, period=60)
    circles = t.values[t.labels[:, 0] == t.behaviours.index("circle")]
    assert len(circles)
    radius = np.linalg.norm(circles[:, 30:, :2] / 8, axis=-1)
    assert radius.std(axis=1).max() < 0.02 and 0.03 < radius.mean() < 0.08


def test_switching_sequences_change_behaviour_and_plain_ones_do_not():
    switching = generate_trajectories("switching", num_sequences=6, length=100, seed=0, switch_prob=1.0)
    assert (np.diff(switching.labels, axis=1) != 0).any()
    plain = generate_trajectories("lissajous", num_sequences=6, length=100, seed=0)
    assert (np.diff(plain.labels, axis=1) == 0).all()


def test_dataset_items_carry_their_index():
    data = TrajectoryDataset(generate_trajectories("lissajous", num_sequences=3, length=10, seed=0))
    item = data[2]
    assert item["index"] == 2 and item["inputs"].shape == (10, 2) and item["labels"].shape == (10,)
    assert len(data) == 3 and data.input_dim == 2


def test_bad_options_are_one_line_errors():
    with pytest.raises(ValueError, match="unknown trajectory source 'robot'; valid: lissajous"):
        generate_trajectories("robot")
    with pytest.raises(ValueError, match="length"):
        generate_trajectories("lissajous", length=1)
    with pytest.raises(ValueError, match="switch_prob"):
        generate_trajectories("switching", switch_prob=2.0)
