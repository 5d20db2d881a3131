"""Pointer-task labels: hull vs scipy, Held-Karp vs brute force, 2-opt and nearest neighbour, Delaunay, determinism."""

import itertools

import numpy as np
import pytest
import torch
from scipy.spatial import ConvexHull, Delaunay

from recur_text.data.geometry import (
    canonical_tour,
    generate_points,
    held_karp,
    nearest_neighbour_tour,
    polygon_area,
    tour_length,
    two_opt,
)


def test_hull_labels_are_scipys_hull_counter_clockwise_from_the_lowest_index():
    data = generate_points("convex_hull", 100, (5, 15), seed=2)
    for i in range(len(data)):
        n = int(data.lengths[i])
        points = data.points[i, :n].double().numpy()
        label = [v for v in data.targets[i].tolist() if v > 0]
        assert data.targets[i, len(label)] == 0
        assert sorted(label) == sorted(int(v) + 1 for v in ConvexHull(points).vertices)
        assert label[0] == min(label)
        hull = points[np.asarray(label) - 1]
        # counter-clockwise: positive signed area, and the polygon's area is the hull's
        signed = np.dot(hull[:, 0], np.roll(hull[:, 1], -1)) - np.dot(hull[:, 1], np.roll(hull[:, 0], -1))
        assert signed > 0 and polygon_area(hull) == pytest.approx(ConvexHull(points).volume)


@pytest.mark.parametrize("n", [4, 5, 6, 7])
def test_held_karp_matches_brute_force(n):
    points = np.random.default_rng(n).random((30, n, 2))
    tours = held_karp(points)
    assert (np.sort(tours, axis=1) == np.arange(n)).all() and (tours[:, 0] == 0).all()
    for b in range(len(points)):
        best = min(
            tour_length(points[b : b + 1], np.array([[0, *perm]]))[0] for perm in itertools.permutations(range(1, n))
        )
        assert tour_length(points[b : b + 1], tours[b : b + 1])[0] == pytest.approx(best)


def test_two_opt_improves_nearest_neighbour_and_never_beats_the_optimum():
    points = np.random.default_rng(0).random((200, 9, 2))
    optimum = tour_length(points, held_karp(points))
    greedy = nearest_neighbour_tour(points)
    improved = two_opt(points, greedy)
    assert (np.sort(improved, axis=1) == np.arange(9)).all()
    assert (tour_length(points, improved) <= tour_length(points, greedy) + 1e-9).all()
    assert (tour_length(points, improved) >= optimum - 1e-9).all()
    assert tour_length(points, improved).mean() < tour_length(points, greedy).mean()


def test_canonical_tour_is_the_same_for_every_rotation_and_direction():
    tour = np.array([[3, 0, 4, 1, 2]])
    forms = [np.roll(tour, k, axis=1) for k in range(5)] + [np.roll(tour[:, ::-1], k, axis=1) for k in range(5)]
    # the cycle 0 -> 4 -> 1 -> 2 -> 3 -> 0: from 0, towards its lower neighbour 3
    canon = {tuple(canonical_tour(f)[0].tolist()) for f in forms}
    assert canon == {(0, 3, 2, 1, 4)}


def test_tsp_labels_exact_up_to_the_limit_then_two_opt():
    data = generate_points("tsp", 40, (8, 12), seed=1, exact_up_to=10)
    assert torch.equal(data.exact, data.lengths <= 10)
    for i in range(len(data)):
        n = int(data.lengths[i])
        tour = data.targets[i, :n].numpy()
        assert sorted(tour) == list(range(1, n + 1)) and tour[0] == 1 and tour[1] < tour[-1]
        assert data.targets[i, n] == 0


def test_delaunay_labels_are_scipys_triangles_sorted():
    data = generate_points("delaunay", 30, (4, 9), seed=4)
    for i in range(len(data)):
        n = int(data.lengths[i])
        flat = data.targets[i, : int(data.target_lengths[i]) - 1].numpy()
        triangles = flat.reshape(-1, 3)
        expected = {
            tuple(sorted(v + 1 for v in t)) for t in Delaunay(data.points[i, :n].double().numpy()).simplices.tolist()
        }
        assert {tuple(t) for t in triangles.tolist()} == expected
        assert (np.diff(triangles, axis=1) > 0).all() and triangles.tolist() == sorted(triangles.tolist())


def test_generation_is_deterministic_by_seed_and_bad_options_are_errors():
    a, b = generate_points("convex_hull", 20, (5, 9), seed=3), generate_points("convex_hull", 20, (5, 9), seed=3)
    assert torch.equal(a.points, b.points) and torch.equal(a.targets, b.targets)
    with pytest.raises(ValueError, match="task must be one of"):
        generate_points("knapsack", 4, (5, 6))
    with pytest.raises(ValueError, match="sizes must be an inclusive range"):
        generate_points("delaunay", 4, (3, 6))
    with pytest.raises(ValueError, match="exact_up_to must be at most 13"):
        generate_points("tsp", 4, (5, 6), exact_up_to=20)
