"""Synthetic indoor rooms written in the S3DIS layout: the embedded default of the scene-parsing recipes.

A room is an axis-aligned box (floor, ceiling, four walls) furnished by its kind:

- ``office``: 1-3 tables with chairs along their long sides, bookcases against the walls, a board
  (p = 0.6), a sofa (p = 0.3), clutter on the tables and the floor;
- ``conferenceRoom``: one long table ringed by chairs, a board, a little clutter;
- ``lounge``: 1-3 sofas against the walls, a table with chairs, a bookcase (p = 0.5), clutter;
- ``hallway``: long and narrow, 2-4 doors, 1-3 columns and 1-2 beams, little clutter.

Other rooms get a beam and a column with p = 0.3 each. Windows, doors, boards and wall clutter are
flat patches on the walls, and the wall is cut where they lie (the S3DIS annotation gives those points
to the patch, not the wall). Every object is a set of axis-aligned boxes whose faces are sampled
uniformly by area (faces on the floor or the ceiling plane are hidden, as a scanner cannot see them),
so the point density is the same everywhere, about ``points_per_room`` over the room's visible surface.

What makes the classes learnable, as in the real data: height (table tops at 0.72-0.78 m, chair seats
at 0.42-0.47 m with backs to 0.85-0.95 m, sofa seats at 0.42 m, boards and windows from 0.8 m, doors from
the floor to 2.0-2.1 m, beams under the ceiling), position (bookcases, sofas and columns against walls,
patches on them) and colour: each class has a mean RGB, each object draws its colour around it and each
point adds noise (wide for bookcases, whose shelves hold books, and for clutter, whose colour is random).
Points get 5 mm of Gaussian noise in xyz.

As in S3DIS, the coordinates are the area's: the rooms of an area sit side by side along x, so a
room's points do not start at the origin. The files are S3DIS's: ``Area_N/<room>/Annotations/
<class>_<i>.txt`` (``x y z r g b`` lines, ``%.3f`` metres and integer colours) and ``Area_N/<room>/
<room>.txt``, the room's annotation files concatenated; :class:`~recur_pointcloud.data.s3dis.S3DISRooms`
reads them as it reads the real set.

Shapes: a room's objects are ``(class name, points [n, 6])`` with x y z r g b.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from recur_core.data.generated import generated_cache, write_once

__all__ = ["ROOM_KINDS", "sample_room", "synthetic_rooms_root", "write_synthetic_rooms"]

GENERATED_FORMAT = 1
# one kind per room, cycling, so an area of 4 rooms or more holds every class
ROOM_KINDS = ("office", "conferenceRoom", "lounge", "hallway")
# (mean RGB, spread of an object's colour about it, per-point noise), all std on the 0-255 scale
_COLOURS = {
    "ceiling": ((205, 205, 200), 8, 6),
    "floor": ((105, 95, 85), 12, 8),
    "wall": ((190, 180, 160), 10, 6),
    "beam": ((160, 160, 155), 8, 6),
    "column": ((150, 145, 135), 8, 6),
    "window": ((120, 160, 200), 15, 20),
    "door": ((130, 90, 55), 15, 10),
    "table": ((175, 145, 105), 20, 8),
    "chair": ((55, 55, 65), 15, 10),
    "sofa": ((130, 60, 55), 25, 10),
    "bookcase": ((110, 80, 50), 15, 35),
    "board": ((235, 235, 232), 5, 6),
}
_CLUTTER_NOISE = 15
_XYZ_NOISE = 0.005
_MIN_POINTS = 30
_HIDES_SHELL = ("door", "window", "board", "clutter", "column", "beam", "bookcase", "sofa")


# ----- surfaces ---------------------------------------------------------------------------------------


def _box(lo, hi) -> np.ndarray:
    """One axis-aligned box ``[1, 2, 3]`` (lo corner, hi corner); a zero extent makes a flat patch."""
    return np.array([lo, hi], dtype=np.float64)[None]


def _faces(boxes: np.ndarray, room: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """The faces of ``boxes [K, 2, 3]``: origin, edges ``[F, 3]`` and visible area ``[F]`` (F = 6K).

    A flat box keeps one face of its flat axis. Faces lying on a plane of the room's shell (x, y or
    z equal to 0 or to ``room`` = (width, depth, height)) are hidden (area 0): a bookcase's back on
    the wall, a table leg's foot on the floor. ``room`` None: the shell itself, nothing hidden.
    """
    lo, hi = boxes[:, 0], boxes[:, 1]
    extent = hi - lo
    origins, first, second, areas = [], [], [], []
    for axis in range(3):
        b, c = (axis + 1) % 3, (axis + 2) % 3
        for side in (lo, hi):
            origin = lo.copy()
            origin[:, axis] = side[:, axis]
            edge_b, edge_c = np.zeros_like(lo), np.zeros_like(lo)
            edge_b[:, b], edge_c[:, c] = extent[:, b], extent[:, c]
            area = extent[:, b] * extent[:, c]
            if side is hi:
                area = np.where(extent[:, axis] > 0, area, 0.0)
            if room is not None:
                on_shell = np.isclose(origin[:, axis], 0.0) | np.isclose(origin[:, axis], room[axis])
                area = np.where(on_shell, 0.0, area)
            origins.append(origin)
            first.append(edge_b)
            second.append(edge_c)
            areas.append(area)
    return np.concatenate(origins), np.concatenate(first), np.concatenate(second), np.concatenate(areas)


def _sample_faces(rng: np.random.Generator, faces: tuple[np.ndarray, ...], count: int) -> np.ndarray:
    """``count`` points ``[count, 3]`` uniform over the faces (a face drawn by area, then a point on it)."""
    origin, edge_b, edge_c, area = faces
    which = rng.choice(len(area), size=count, p=area / area.sum())
    s, t = rng.random((2, count, 1))
    return origin[which] + s * edge_b[which] + t * edge_c[which]


def _inside(points: np.ndarray, patches: np.ndarray, depth: float = 0.1) -> np.ndarray:
    """``[N]`` True for points within any patch ``[P, 2, 3]`` (flat axes thickened by ``depth`` each side)."""
    if len(patches) == 0:
        return np.zeros(len(points), dtype=bool)
    pad = np.where(patches[:, 1] - patches[:, 0] > 0, 0.0, depth)
    lo, hi = patches[:, 0] - pad, patches[:, 1] + pad
    return ((points[:, None] >= lo[None]) & (points[:, None] <= hi[None])).all(-1).any(-1)


# ----- layout -----------------------------------------------------------------------------------------


class _Layout:
    """A room being furnished: its size, the objects ``(class, boxes [K, 2, 3])`` and the used floor."""

    def __init__(self, rng: np.random.Generator, width: float, depth: float, height: float) -> None:
        self.rng, self.width, self.depth, self.height = rng, width, depth, height
        self.objects: list[tuple[str, np.ndarray]] = []
        self.footprints = np.zeros((0, 4))  # x0 y0 x1 y1 of what stands on the floor
        self.patches: list[tuple[int, float, float]] = []  # (wall, start, end) along the wall

    def add(self, name: str, boxes: np.ndarray) -> None:
        self.objects.append((name, boxes))

    def free(self, candidates: np.ndarray, gap: float) -> np.ndarray:
        """``[C]`` True for footprints ``[C, 4]`` inside the room that clear every placed one by ``gap``."""
        inside = (candidates[:, :2] >= 0).all(1) & (candidates[:, 2] <= self.width) & (candidates[:, 3] <= self.depth)
        placed = self.footprints
        apart = (
            (candidates[:, None, 0] >= placed[None, :, 2] + gap)
            | (candidates[:, None, 2] + gap <= placed[None, :, 0])
            | (candidates[:, None, 1] >= placed[None, :, 3] + gap)
            | (candidates[:, None, 3] + gap <= placed[None, :, 1])
        ).all(1)
        return inside & apart

    def place(self, size: tuple[float, float], against_wall: bool, gap: float = 0.15) -> tuple[np.ndarray, int] | None:
        """A free footprint ``[4]`` for ``size`` (along, across), and the wall it backs onto (-1: none).

        64 candidates are drawn at once and the first free one is kept. Against a wall, the footprint's
        long side runs along the wall (walls 0..3: y = 0, y = depth, x = 0, x = width).
        """
        rng, count = self.rng, 64
        along, across = size
        wall = rng.integers(0, 4, count) if against_wall else np.full(count, -1)
        along_x = np.where(wall >= 0, wall < 2, rng.random(count) < 0.5)
        sx, sy = np.where(along_x, along, across), np.where(along_x, across, along)
        x = rng.uniform(0.3, np.maximum(self.width - sx - 0.3, 0.31))
        y = rng.uniform(0.3, np.maximum(self.depth - sy - 0.3, 0.31))
        x = np.select([wall == 2, wall == 3], [0.0, self.width - sx], x)
        y = np.select([wall == 0, wall == 1], [0.0, self.depth - sy], y)
        candidates = np.stack([x, y, x + sx, y + sy], 1)
        ok = self.free(candidates, gap)
        if not ok.any():
            return None
        i = int(np.argmax(ok))
        self.footprints = np.concatenate([self.footprints, candidates[i : i + 1]])
        return candidates[i], int(wall[i])

    def wall_patch(self, name: str, width: float, bottom: float, top: float, offset: float, walls=(0, 1, 2, 3)) -> None:
        """A flat patch on a wall (``offset`` metres into the room; negative: recessed), clear of the others."""
        rng = self.rng
        wall = rng.choice(walls, 32)
        length = np.where(wall < 2, self.width, self.depth)
        start = rng.uniform(0.2, np.maximum(length - width - 0.2, 0.21))
        clear = (start + width <= length - 0.1) & np.array(
            [
                all(w != wi or si + width + 0.1 <= s or si >= e + 0.1 for w, s, e in self.patches)
                for wi, si in zip(wall, start)
            ]
        )
        if not clear.any():
            return
        i = int(np.argmax(clear))
        w, s = int(wall[i]), float(start[i])
        self.patches.append((w, s, s + width))
        plane = (0.0, self.depth, 0.0, self.width)[w] + (offset if w in (0, 2) else -offset)
        if w < 2:
            self.add(name, _box((s, plane, bottom), (s + width, plane, top)))
        else:
            self.add(name, _box((plane, s, bottom), (plane, s + width, top)))


def _table(layout: _Layout, footprint: np.ndarray) -> float:
    """A table top 4 cm thick at 0.72-0.78 m on four 5 cm legs; returns the top's height."""
    x0, y0, x1, y1 = footprint
    top = layout.rng.uniform(0.72, 0.78)
    legs = [
        _box((x, y, 0.0), (x + 0.05, y + 0.05, top - 0.04))
        for x in (x0 + 0.05, x1 - 0.1)
        for y in (y0 + 0.05, y1 - 0.1)
    ]
    layout.add("table", np.concatenate([_box((x0, y0, top - 0.04), (x1, y1, top)), *legs]))
    return top


def _chair(layout: _Layout, x: float, y: float, back: int) -> None:
    """A 0.45 m seat at 0.42-0.47 m on legs with a back to 0.85-0.95 m on side ``back`` (0 -y, 1 +y, 2 -x, 3 +x)."""
    rng = layout.rng
    size, seat = rng.uniform(0.42, 0.5), rng.uniform(0.42, 0.47)
    x0, y0, x1, y1 = x, y, x + size, y + size
    legs = [_box((a, b, 0.0), (a + 0.04, b + 0.04, seat - 0.04)) for a in (x0, x1 - 0.04) for b in (y0, y1 - 0.04)]
    top = rng.uniform(0.85, 0.95)
    back_box = {
        0: ((x0, y0, seat), (x1, y0 + 0.05, top)),
        1: ((x0, y1 - 0.05, seat), (x1, y1, top)),
        2: ((x0, y0, seat), (x0 + 0.05, y1, top)),
        3: ((x1 - 0.05, y0, seat), (x1, y1, top)),
    }[back]
    layout.add("chair", np.concatenate([_box((x0, y0, seat - 0.04), (x1, y1, seat)), *legs, _box(*back_box)]))


def _chairs_around(layout: _Layout, table: np.ndarray, count: int) -> None:
    """``count`` chairs along the table's long sides, backs away from it, in the floor kept free round it."""
    x0, y0, x1, y1 = table
    long_x = x1 - x0 >= y1 - y0
    length = (x1 - x0) if long_x else (y1 - y0)
    per_side = max(1, int(np.ceil(count / 2)))
    slots = (np.arange(per_side) + 0.5) / per_side * length - 0.24
    for i in range(count):
        side, slot = i % 2, slots[i // 2]
        if long_x:
            _chair(layout, x0 + slot, y0 - 0.35 if side == 0 else y1 - 0.1, side)
        else:
            _chair(layout, x0 - 0.35 if side == 0 else x1 - 0.1, y0 + slot, 2 + side)


def _sofa(layout: _Layout) -> None:
    """A 1.6-2.2 m sofa against a wall: seat to 0.42 m, back to 0.8 m on the wall side, arms to 0.6 m."""
    rng = layout.rng
    spot = layout.place((rng.uniform(1.6, 2.2), rng.uniform(0.8, 0.95)), against_wall=True)
    if spot is None:
        return
    (x0, y0, x1, y1), wall = spot
    seat = _box((x0, y0, 0.0), (x1, y1, 0.42))
    back = {
        0: ((x0, y0, 0.0), (x1, y0 + 0.2, 0.8)),
        1: ((x0, y1 - 0.2, 0.0), (x1, y1, 0.8)),
        2: ((x0, y0, 0.0), (x0 + 0.2, y1, 0.8)),
        3: ((x1 - 0.2, y0, 0.0), (x1, y1, 0.8)),
    }[wall]
    if wall < 2:
        arms = [_box((x0, y0, 0.0), (x0 + 0.15, y1, 0.6)), _box((x1 - 0.15, y0, 0.0), (x1, y1, 0.6))]
    else:
        arms = [_box((x0, y0, 0.0), (x1, y0 + 0.15, 0.6)), _box((x0, y1 - 0.15, 0.0), (x1, y1, 0.6))]
    layout.add("sofa", np.concatenate([seat, _box(*back), *arms]))


def _clutter(layout: _Layout, on: tuple[float, ...] | None) -> None:
    """A 0.1-0.4 m box on a surface ``on`` = (x0, y0, x1, y1, z), or on the floor by a free spot."""
    rng = layout.rng
    size = rng.uniform(0.1, 0.4, 3)
    if on is None:
        spot = layout.place((size[0], size[1]), against_wall=rng.random() < 0.6, gap=0.05)
        if spot is None:
            return
        (x0, y0, _, _), _ = spot
        z = 0.0
    else:
        ox0, oy0, ox1, oy1, z = on
        x0 = rng.uniform(ox0, max(ox1 - size[0], ox0 + 1e-3))
        y0 = rng.uniform(oy0, max(oy1 - size[1], oy0 + 1e-3))
    layout.add("clutter", _box((x0, y0, z), (x0 + size[0], y0 + size[1], z + size[2])))


def _furnish(layout: _Layout, kind: str) -> None:
    rng = layout.rng
    w, d, h = layout.width, layout.depth, layout.height
    hallway = kind == "hallway"
    if hallway or rng.random() < 0.3:
        for _ in range(rng.integers(1, 4) if hallway else 1):
            side = rng.uniform(0.3, 0.6)
            spot = layout.place((side, side), against_wall=True, gap=0.3)
            if spot is not None:
                x0, y0, x1, y1 = spot[0]
                layout.add("column", _box((x0, y0, 0.0), (x1, y1, h)))
    if hallway or rng.random() < 0.3:
        for _ in range(rng.integers(1, 3) if hallway else 1):
            wide, deep = rng.uniform(0.25, 0.4), rng.uniform(0.3, 0.5)
            if w < d:  # beams span the short side
                y = rng.uniform(0.5, d - 0.5 - wide)
                layout.add("beam", _box((0.0, y, h - deep), (w, y + wide, h)))
            else:
                x = rng.uniform(0.5, w - 0.5 - wide)
                layout.add("beam", _box((x, 0.0, h - deep), (x + wide, d, h)))
    # wall patches: doors from the floor, windows and boards from 0.8-1.0 m, recessed or proud of the wall
    long_walls = (2, 3) if w < d else (0, 1)
    for _ in range(rng.integers(2, 5) if hallway else rng.integers(1, 3)):
        layout.wall_patch(
            "door", rng.uniform(0.85, 1.0), 0.0, rng.uniform(2.0, 2.1), -0.02, long_walls if hallway else (0, 1, 2, 3)
        )
    if not hallway:
        for _ in range(rng.integers(0 if kind == "office" else 1, 4)):
            bottom = rng.uniform(0.8, 1.0)
            layout.wall_patch("window", rng.uniform(1.0, 2.0), bottom, bottom + rng.uniform(1.0, 1.4), -0.05)
    if kind == "conferenceRoom" or (kind == "office" and rng.random() < 0.6) or (hallway and rng.random() < 0.3):
        bottom = rng.uniform(0.8, 1.0)
        layout.wall_patch("board", rng.uniform(1.2, 2.4), bottom, bottom + rng.uniform(0.9, 1.2), 0.02)
    for _ in range(rng.integers(0, 3)):
        bottom = rng.uniform(1.1, 1.7)
        side = rng.uniform(0.2, 0.6)
        layout.wall_patch("clutter", side, bottom, bottom + side, 0.03)
    # furniture standing on the floor: against the walls first, then the free-standing pieces
    if kind == "lounge" or (kind == "office" and rng.random() < 0.3):
        for _ in range(rng.integers(1, 4) if kind == "lounge" else 1):
            _sofa(layout)
    bookcases = {"office": rng.integers(0, 3), "lounge": int(rng.random() < 0.5)}.get(kind, 0)
    for _ in range(bookcases):
        spot = layout.place((rng.uniform(0.8, 1.2), rng.uniform(0.3, 0.4)), against_wall=True)
        if spot is not None:
            x0, y0, x1, y1 = spot[0]
            layout.add("bookcase", _box((x0, y0, 0.0), (x1, y1, rng.uniform(1.6, 2.2))))
    tables = {"office": rng.integers(1, 4), "conferenceRoom": 1, "lounge": 1}.get(kind, 0)
    for _ in range(tables):
        if kind == "conferenceRoom":
            size = (min(rng.uniform(2.4, 4.0), max(w, d) - 2.0), rng.uniform(1.0, 1.4))
            chairs = rng.integers(6, 11)
        else:
            size = (rng.uniform(1.2, 1.8), rng.uniform(0.6, 0.9))
            chairs = rng.integers(1, 4)
        # room for the chairs: the footprint is reserved with 0.6 m all round
        spot = layout.place((size[0] + 1.2, size[1] + 1.2), against_wall=False, gap=0.0)
        if spot is None:
            continue
        x0, y0, x1, y1 = spot[0]
        footprint = np.array([x0 + 0.6, y0 + 0.6, x1 - 0.6, y1 - 0.6])
        top = _table(layout, footprint)
        _chairs_around(layout, footprint, chairs)
        for _ in range(rng.integers(0, 4)):
            _clutter(layout, (*footprint, top))
    for _ in range(rng.integers(0, 3) if hallway else rng.integers(2, 7)):
        _clutter(layout, None)


def sample_room(rng: np.random.Generator, kind: str, points_per_room: int) -> list[tuple[str, np.ndarray]]:
    """One room of ``kind`` (:data:`ROOM_KINDS`) as its annotated objects ``(class, points [n, 6])``.

    The room spans x in [0, width], y in [0, depth], z in [0, height]; each object gets points in
    proportion to its visible surface, at least 30, ``points_per_room`` in all before the walls are cut.
    """
    if kind not in ROOM_KINDS:
        raise ValueError(f"unknown room kind {kind!r}; valid: {', '.join(ROOM_KINDS)}")
    if kind == "hallway":
        width, depth = rng.uniform(1.8, 2.6), rng.uniform(6.0, 14.0)
    else:
        low, high = {"office": (3.5, 7.0), "conferenceRoom": (5.0, 9.0), "lounge": (4.0, 8.0)}[kind]
        width, depth = rng.uniform(low, high), rng.uniform(3.5, 7.0)
    height = rng.uniform(2.7, 3.4)
    layout = _Layout(rng, width, depth, height)
    layout.add("floor", _box((0, 0, 0), (width, depth, 0)))
    layout.add("ceiling", _box((0, 0, height), (width, depth, height)))
    for lo, hi in (
        ((0, 0), (width, 0)),
        ((0, depth), (width, depth)),
        ((0, 0), (0, depth)),
        ((width, 0), (width, depth)),
    ):
        layout.add("wall", _box((*lo, 0), (*hi, height)))
    _furnish(layout, kind)

    shell = ("floor", "ceiling", "wall")
    room = np.array([width, depth, height])
    faces = [_faces(boxes, None if name in shell else room) for name, boxes in layout.objects]
    areas = np.array([f[3].sum() for f in faces])
    counts = np.maximum(_MIN_POINTS, np.round(points_per_room * areas / areas.sum())).astype(int)
    # what stands on the shell hides it: wall patches, and columns, beams, bookcases, sofas and clutter
    hiding = np.concatenate([boxes for name, boxes in layout.objects if name in _HIDES_SHELL] + [np.zeros((0, 2, 3))])
    objects = []
    for (name, _), face, count in zip(layout.objects, faces, counts):
        xyz = _sample_faces(rng, face, int(count))
        if name in shell:
            xyz = xyz[~_inside(xyz, hiding)]
        xyz = xyz + rng.normal(0.0, _XYZ_NOISE, xyz.shape)
        if name == "clutter":
            mean, noise = rng.uniform(30, 230, 3), _CLUTTER_NOISE
        else:
            centre, spread, noise = _COLOURS[name]
            mean = np.asarray(centre) + rng.normal(0.0, spread, 3)
        rgb = np.clip(np.round(mean + rng.normal(0.0, noise, (len(xyz), 3))), 0, 255)
        objects.append((name, np.concatenate([xyz, rgb], axis=1)))
    return objects


# ----- files ------------------------------------------------------------------------------------------


def _write_room(folder: Path, objects: list[tuple[str, np.ndarray]], offset: np.ndarray) -> None:
    annotations = folder / "Annotations"
    annotations.mkdir(parents=True)
    numbers: dict[str, int] = {}
    rows = []
    for name, points in objects:
        numbers[name] = numbers.get(name, 0) + 1
        shifted = points + np.concatenate([offset, np.zeros(3)])
        np.savetxt(annotations / f"{name}_{numbers[name]}.txt", shifted, fmt="%.3f %.3f %.3f %d %d %d")
        rows.append(shifted)
    np.savetxt(folder / f"{folder.name}.txt", np.concatenate(rows), fmt="%.3f %.3f %.3f %d %d %d")


def write_synthetic_rooms(
    root: str | os.PathLike, areas: int = 6, rooms_per_area: int = 5, points_per_room: int = 20000, seed: int = 0
) -> Path:
    """Write ``areas`` x ``rooms_per_area`` synthetic rooms in the S3DIS layout under ``root`` and return it.

    Room k of area a (``Area_a/<kind>_<n>``) is drawn from ``default_rng([seed, a, k])``, its kind
    cycling through :data:`ROOM_KINDS` from ``a - 1``, so with 4 rooms or more an area holds every
    class. The rooms of an area stand side by side along x, 0.3 m apart. A folder already written
    with the same arguments is returned as it is.

    Raises:
        ValueError: fewer than 1 area or room, fewer than 1,000 points per room, or ``root`` not
            empty and not written with these arguments.
    """
    if areas < 1 or rooms_per_area < 1 or points_per_room < 1000:
        raise ValueError(
            f"need areas >= 1, rooms_per_area >= 1 and points_per_room >= 1000, got {areas}, {rooms_per_area}, "
            f"{points_per_room}"
        )
    options = dict(
        format=GENERATED_FORMAT, areas=areas, rooms_per_area=rooms_per_area, points_per_room=points_per_room, seed=seed
    )

    def write(tmp: Path) -> None:
        for area in range(1, areas + 1):
            numbers: dict[str, int] = {}
            x = 0.0
            for k in range(rooms_per_area):
                rng = np.random.default_rng([seed, area, k])
                kind = ROOM_KINDS[(area - 1 + k) % len(ROOM_KINDS)]
                numbers[kind] = numbers.get(kind, 0) + 1
                objects = sample_room(rng, kind, points_per_room)
                _write_room(tmp / f"Area_{area}" / f"{kind}_{numbers[kind]}", objects, np.array([x, 0.0, 0.0]))
                x += max(points[:, 0].max() for _, points in objects) + 0.3

    return write_once(root, options, "write_synthetic_rooms", write)


def synthetic_rooms_root(areas: int = 6, rooms_per_area: int = 5, points_per_room: int = 20000, seed: int = 0) -> Path:
    """:func:`write_synthetic_rooms` into a folder of the user cache (``$XDG_CACHE_HOME/recur/generated`` or
    ``~/.cache/recur/generated``) named by the options
    (written on first use, reused after): ``S3DISRooms(synthetic_rooms_root(), areas=[1, 2, 3, 4])``."""
    options = dict(areas=areas, rooms_per_area=rooms_per_area, points_per_room=points_per_room, seed=seed)
    digest = hashlib.sha256(json.dumps({**options, "format": GENERATED_FORMAT}, sort_keys=True).encode()).hexdigest()
    return write_synthetic_rooms(generated_cache() / f"s3dis-rooms-{digest[:12]}", **options)
