"""Generated road scenes written in the TuSimple layout: the embedded default of the lane detectors.

Each frame is a pinhole camera at height ``h`` over a flat road (numpy, no Python loop over pixels).
A ground point at distance ``Z`` ahead and lateral offset ``X`` projects to

.. math::

    y = y_h + f h / Z, \\qquad x = c_x + f \\, (X + s(Z)) / Z, \\qquad s(Z) = \\psi Z + \\kappa Z^2 / 2,

with horizon row ``y_h``, focal length ``f``, yaw ``psi`` and curvature ``kappa`` (a road bending
left or right). Lane lines sit at ``X_j = (j + 1/2) w - d`` (lane width ``w``, the car ``d`` off its
lane's centre), 2 to 5 of them; each is solid or dashed (dash period and duty in metres, so dashes
shrink with distance), white or yellow, more or less worn. Vehicles (boxes with glass, lights and a
shadow underneath, some changing lanes across a line) occlude the lines; cast shadows darken bands
of road; the lighting changes (gain, colour cast, a side-to-side gradient, sun glare) and sensor
noise is added. The labels follow the TuSimple convention: every line is labelled at the
``h_samples`` rows where it lies on the road and in the frame, through dash gaps and behind vehicles.

Per lane, the label line also holds ``dashed`` (bool), ``occlusion`` (the fraction of its labelled
points that lie behind a vehicle) and ``occluded`` (that fraction is at least
:data:`OCCLUDED_FRACTION`, 0.1: a real gap, not a far car touching one point), so that a reproduction can
score those subsets (:func:`recur_vision.lane_metrics.tusimple_lane_subset`), and ``hidden``: one flag per
``h_samples`` row, true where the labelled point lies behind a vehicle or truck (the drawn box covers its
pixel; a dash gap is not hidden), so that the points themselves can be scored
(:func:`recur_vision.lane_metrics.tusimple_point_subset`); ``scene`` gives the frame's vehicle and shadow
counts, gain and curvature.

With ``long_occlusions`` the scenes also hold what hides a line over a long stretch of road, so that the
evidence for it must travel far along the line (what SCNN's message passing is for):

- trucks and trailers (8-25 m long, 3-4.2 m tall boxes that follow the road's curve, 3-15 m ahead, 8-20 m
  in the car's own lane; half of them changing lanes across a line, the rest within 0.5 m of a lane's
  centre), drawn row by row: at image row ``y`` a box point at height ``h`` and distance ``Z`` satisfies
  ``h = H_cam - (y - y_h) Z / f``, so the row shows the box over the ``Z`` in ``[Z_near, Z_far]`` with
  ``0 <= h <= H_truck``, and the columns it covers span ``x(X_left, Z)`` to ``x(X_right, Z)`` over those
  ``Z`` (:func:`_box_columns`). A truck across a line hides it from the truck's rear to several times its
  far end; one in the next lane hides the line beyond it, one ahead in the car's own lane both of the car's
  lines up to the horizon;
- dashed lines with long gaps (period 20-40 m, 10-25 % painted: gaps of 15-36 m) on 60 % of the dashed lines.

Every hidden point stays labelled (the line continues behind the truck and through the gap) and counts in
``occlusion`` / ``occluded`` (trucks) and ``dashed`` (gaps) as before; ``scene`` adds ``trucks``.

:func:`write_generated_tusimple` writes ``clips/<date>/<n>/20.jpg`` and ``label_data_0313.json`` +
``label_data_0601.json`` (train), ``label_data_0531.json`` (val) and ``test_label.json`` (test),
read by :func:`recur_vision.data.tusimple.tusimple_split` exactly as the real benchmark.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from recur_core.data.generated import write_once
from recur_vision.data.tusimple import TUSIMPLE_ABSENT, TuSimpleFrame, write_tusimple_json

__all__ = [
    "GENERATED_FORMAT",
    "GENERATED_LABEL_FILES",
    "OCCLUDED_FRACTION",
    "render_road",
    "tusimple_h_samples",
    "write_generated_tusimple",
]

# bumped when the frames or the label keys they had change; names the cache folder. 2: the long_occlusions option,
# and a car partly left of the frame no longer paints its glass or lamps across the row (a negative slice end wrapped
# round). 3: the per-point ``hidden`` key (the frames and the other keys as in 2)
GENERATED_FORMAT = 3
# with long_occlusions: the share of dashed lines drawn with long gaps, and the trucks per frame (0, 1, 2)
LONG_GAP_SHARE = 0.6
_TRUCKS_P = (0.15, 0.5, 0.35)
# label file -> clip folder, in the order the frames are written (train is split over 0313 and 0601)
GENERATED_LABEL_FILES = {
    "label_data_0313.json": "clips/0313-1",
    "label_data_0601.json": "clips/0601",
    "label_data_0531.json": "clips/0531",
    "test_label.json": "clips/0530",
}
# the farthest ground distance drawn and labelled, in metres
_FAR = 250.0
# a lane is flagged occluded when vehicles hide at least this fraction of its labelled points
OCCLUDED_FRACTION = 0.1


def tusimple_h_samples(height: int) -> tuple[int, ...]:
    """The benchmark's 56 rows ``160, 170, ..., 710`` of a 720-row frame, scaled to ``height`` rows."""
    rows = np.rint(np.linspace(160, 710, 56) * height / 720).astype(int)
    return tuple(int(r) for r in np.unique(rows))


def _haze(colour: np.ndarray, distance: np.ndarray, haze: np.ndarray, visibility: float) -> np.ndarray:
    """``[R, 3]`` colours faded towards ``haze`` with distance (``exp(-Z / visibility)`` kept)."""
    keep = np.exp(-distance / visibility)[:, None]
    return (colour[None, :] * keep + haze[None, :] * (1.0 - keep)).astype(np.float32)


def _paint_band(
    image: np.ndarray, rows: np.ndarray, centre: np.ndarray, half: np.ndarray, colour: np.ndarray, alpha: np.ndarray
) -> None:
    """Blend a band of ``half`` px either side of ``centre`` per row into ``image``, anti-aliased, in place.

    ``colour`` is one RGB colour or one per row; ``alpha`` scales the coverage per row.

    Only the columns within reach of the centre are touched: ``[R, 2K + 1]`` pixels, not ``[R, W]``.
    """
    if rows.size == 0:
        return
    width = image.shape[1]
    reach = int(np.ceil(half.max())) + 2
    cols = np.rint(centre)[:, None].astype(np.int64) + np.arange(-reach, reach + 1)[None, :]
    cover = np.clip(half[:, None] + 0.5 - np.abs(cols - centre[:, None]), 0.0, 1.0) * alpha[:, None]
    inside = (cols >= 0) & (cols < width) & (cover > 0)
    band_row = np.nonzero(inside)[0]
    r, c, a = rows[band_row], cols[inside], cover[inside][:, None].astype(np.float32)
    colour = np.broadcast_to(np.asarray(colour, dtype=np.float32), (len(rows), 3))[band_row]
    image[r, c] += a * (colour - image[r, c])


def _span(start: int, stop: int, size: int) -> slice:
    """``start:stop`` clipped to ``0..size`` (a negative bound would count from the end)."""
    return slice(min(max(start, 0), size), min(max(stop, 0), size))


def _box_columns(
    rows: np.ndarray,
    horizon: float,
    f: float,
    cam_h: float,
    near: float,
    far: float,
    tall: float,
    column,
    lateral: tuple[float, float],
    samples: int = 24,
) -> tuple[np.ndarray, np.ndarray]:
    """The columns ``[lo, hi]`` that a box standing on the road covers in each image row (``lo > hi``: none).

    The box spans ``lateral = (X_left, X_right)`` across the road (following its curve through ``column``),
    distances ``[near, far]`` and heights ``[0, tall]``. A point at height ``h`` and distance ``Z`` projects
    to row ``y`` when ``h = cam_h - q Z`` with ``q = (y - horizon) / f``; each row sees the box over
    ``Z in [near, far]`` with ``0 <= h <= tall``, and covers from the least ``x(X_left, Z)`` to the greatest
    ``x(X_right, Z)`` over those ``Z`` (``samples`` of them; ``x`` increases with ``X``). ``rows`` ``[R]``
    gives ``lo, hi`` ``[R]``.
    """
    q = (rows - horizon) / f
    with np.errstate(divide="ignore", invalid="ignore"):
        ground, top = cam_h / q, (cam_h - tall) / q
    # q > 0 (below the horizon): top <= Z <= ground; q < 0: Z <= top (> 0 only if the box is taller than the camera)
    low = np.where(q > 0, top, -np.inf)
    high = np.where(q > 0, ground, np.where(q < 0, top, np.inf if tall >= cam_h else -np.inf))
    z0, z1 = np.maximum(low, near), np.minimum(high, far)
    seen = z1 >= z0
    z0, z1 = np.where(seen, z0, near), np.where(seen, z1, near)
    z = z0[:, None] + (z1 - z0)[:, None] * np.linspace(0.0, 1.0, samples)[None, :]
    lo = np.where(seen, column(lateral[0], z).min(axis=1), np.inf)
    hi = np.where(seen, column(lateral[1], z).max(axis=1), -np.inf)
    return lo, hi


def render_road(
    rng: np.random.Generator, height: int = 288, width: int = 512, long_occlusions: bool = False
) -> tuple[np.ndarray, dict]:
    """One road frame and its TuSimple label.

    Args:
        rng: the frame's random generator (everything is drawn from it).
        height, width: the frame size (1280x720 is the benchmark's; smaller sizes scale everything).
        long_occlusions: also draw trucks and long dash gaps that hide lines over long stretches (see the
            module's docstring); False draws the frames it drew before the option existed (the same draws).

    Returns:
        uint8 ``[height, width, 3]`` RGB, and a dict with ``lanes`` (x per ``h_samples`` row, -2
        absent; left to right), ``h_samples``, per-lane ``dashed``, ``occluded`` and ``occlusion``,
        per-lane ``hidden`` (one bool per ``h_samples`` row: the point lies behind a vehicle or truck)
        and ``scene`` (``vehicles``, ``shadows``, ``gain``, ``curvature``, ``glare``; ``trucks`` with
        ``long_occlusions``).
    """
    f = width * rng.uniform(0.75, 0.85)
    cx = width * (0.5 + rng.uniform(-0.02, 0.02))
    horizon = height * rng.uniform(0.33, 0.42)
    cam_h = rng.uniform(1.3, 1.8)
    lane_w = rng.uniform(3.3, 3.9)
    off_centre = rng.uniform(-0.2, 0.2) * lane_w
    yaw = rng.uniform(-0.04, 0.04)
    curvature = 0.0 if rng.random() < 0.3 else rng.uniform(-1.0, 1.0) / 400.0
    n_left = int(rng.integers(0, 3))
    n_right = int(rng.integers(0, 4 - max(n_left, 1)))
    line_x = (np.arange(-1 - n_left, n_right + 1) + 0.5) * lane_w - off_centre
    edges = (line_x[0] - rng.uniform(0.3, 2.5), line_x[-1] + rng.uniform(0.3, 2.5))

    rows = np.arange(height, dtype=np.float64)
    ground = rows > horizon + 0.5
    distance = np.full(height, np.inf)
    distance[ground] = f * cam_h / (rows[ground] - horizon)
    road_rows = np.flatnonzero(distance <= _FAR)
    z = distance[road_rows]

    def column(x_world: float | np.ndarray, at: np.ndarray) -> np.ndarray:
        return cx + f * (x_world + yaw * at + curvature * at * at / 2.0) / at

    # sky, ground and haze, one colour per row
    visibility = rng.uniform(150.0, 450.0)
    haze = np.clip(np.array([0.78, 0.82, 0.88]) + rng.uniform(-0.08, 0.08, 3), 0, 1)
    sky_top = np.clip(np.array([0.35, 0.55, 0.85]) * rng.uniform(0.7, 1.1) + rng.uniform(-0.1, 0.1, 3), 0, 1)
    grass = np.array([0.25, 0.38, 0.18]) if rng.random() < 0.6 else np.array([0.52, 0.47, 0.36])
    grass = np.clip(grass + rng.uniform(-0.06, 0.06, 3), 0, 1)
    row_colour = np.empty((height, 3), dtype=np.float32)
    sky = ~ground
    t = (rows[sky] / max(horizon, 1.0))[:, None]
    row_colour[sky] = sky_top * (1 - t) + haze * t
    row_colour[ground] = _haze(grass, np.minimum(distance[ground], 1e4), haze, visibility)
    image = np.repeat(row_colour[:, None, :], width, axis=1)

    # the road: asphalt between its edges, anti-aliased
    xs = np.arange(width, dtype=np.float32)[None, :]
    asphalt = np.full(3, rng.uniform(0.28, 0.5)) + rng.uniform(-0.03, 0.03, 3)
    left, right = column(edges[0], z).astype(np.float32), column(edges[1], z).astype(np.float32)
    cover = np.clip(np.minimum(xs - left[:, None], right[:, None] - xs) + 0.5, 0.0, 1.0)[..., None]
    road_colour = _haze(asphalt, z, haze, visibility)[:, None, :]
    image[road_rows] += cover.astype(np.float32) * (road_colour - image[road_rows])
    # asphalt seams: thin dark longitudinal lines that are not lane lines
    for _ in range(int(rng.integers(0, 3))):
        seam_x = rng.uniform(edges[0], edges[1])
        darker = (asphalt * rng.uniform(0.6, 0.85)).astype(np.float32)
        _paint_band(image, road_rows, column(seam_x, z), f * 0.015 / z, darker, np.ones_like(z))

    # lane lines: solid or dashed, white or yellow, worn to a random contrast
    n_lines = len(line_x)
    outer = np.zeros(n_lines, dtype=bool)
    outer[[0, -1]] = True
    dashed = np.where(outer, rng.random(n_lines) < 0.2, rng.random(n_lines) < 0.8)
    yellow = np.zeros(n_lines, dtype=bool)
    yellow[0] = rng.random() < 0.3
    row_step = np.abs(np.gradient(z)) if z.size > 1 else np.zeros_like(z)
    for j in range(n_lines):
        centre = column(line_x[j], z)
        half = f * rng.uniform(0.05, 0.1) / z
        alpha = np.full(z.shape, rng.uniform(0.45, 1.0))
        if dashed[j]:
            if long_occlusions and rng.random() < LONG_GAP_SHARE:
                period, duty = rng.uniform(20.0, 40.0), rng.uniform(0.1, 0.25)
            else:
                period, duty = rng.uniform(9.0, 15.0), rng.uniform(0.25, 0.45)
            on = ((z + rng.uniform(0, period)) % period) < duty * period
            # far rows span more than half a period: draw the average coverage instead of aliasing
            alpha = alpha * np.where(row_step > period / 2, duty, on)
        colour = np.array([0.85, 0.7, 0.2] if yellow[j] else [0.92, 0.92, 0.9])
        _paint_band(image, road_rows, centre, half, _haze(colour, z, haze, visibility), alpha)

    # cast shadows: bands of road darkened (trees, bridges, buildings)
    n_shadows = int(rng.choice(4, p=[0.4, 0.3, 0.2, 0.1]))
    for _ in range(n_shadows):
        near = rng.uniform(4.0, 60.0)
        band = np.flatnonzero((z >= near) & (z <= near + rng.uniform(1.5, 15.0)))
        if band.size == 0:
            continue
        x0 = rng.uniform(edges[0] - 3.0, edges[1])
        lo = column(x0, z[band]).astype(np.float32)
        hi = column(x0 + rng.uniform(1.0, 12.0), z[band]).astype(np.float32)
        soft = np.clip(np.minimum(xs - lo[:, None], hi[:, None] - xs) / 2.0 + 0.5, 0.0, 1.0)
        image[road_rows[band]] *= (1.0 - rng.uniform(0.3, 0.6) * soft)[..., None].astype(np.float32)

    # vehicles, far to near; each occludes what is behind it
    lanes_between = [(line_x[i] + line_x[i + 1]) / 2 for i in range(n_lines - 1)]
    boxes = []
    n_vehicles = int(rng.choice(5, p=[0.2, 0.25, 0.25, 0.2, 0.1]))
    for _ in range(n_vehicles):
        if rng.random() < 0.35:
            lateral = line_x[rng.integers(n_lines)] + rng.uniform(-0.6, 0.6)
        else:
            lateral = lanes_between[rng.integers(len(lanes_between))] + rng.uniform(-0.3, 0.3)
        ego = abs(lateral + off_centre) < lane_w / 2
        ahead = rng.uniform(12.0 if ego else 7.0, 45.0)
        size = (rng.uniform(1.7, 2.1), rng.uniform(1.3, 2.0) if rng.random() < 0.85 else rng.uniform(2.5, 3.3))
        boxes.append((ahead, lateral, size))
    # trucks and trailers (long_occlusions): every draw made here, so that the frames without them stay as they were
    trucks = []
    for _ in range(int(rng.choice(3, p=_TRUCKS_P)) if long_occlusions else 0):
        if rng.random() < 0.5:
            # changing lanes: across a line
            lateral = line_x[rng.integers(n_lines)] + rng.uniform(-0.8, 0.8)
        else:
            lateral = lanes_between[rng.integers(len(lanes_between))] + rng.uniform(-0.5, 0.5)
        ego = abs(lateral + off_centre) < lane_w / 2
        near = rng.uniform(8.0, 20.0) if ego else rng.uniform(3.0, 15.0)
        length, half_w, tall = rng.uniform(8.0, 25.0), rng.uniform(1.2, 1.3), rng.uniform(3.0, 4.2)
        body = np.clip(rng.uniform(0.15, 0.95, 3), 0, 1).astype(np.float32)
        trucks.append((near, lateral, (length, half_w, tall, body)))
    # far to near (a truck by its rear), each occluding what is behind it; `occluder` marks the pixels they cover
    items = sorted(
        [(a, lat, size, False) for a, lat, size in boxes] + [(*t, True) for t in trucks], key=lambda b: -b[0]
    )
    occluder = np.zeros((height, width), dtype=bool)
    cols = np.arange(width)[None, :]
    drawn, trucks_drawn = [], 0
    for ahead, lateral, size, truck in items:
        if truck:
            length, half_w, tall, body = size
            near = max(ahead, 1.0)
            lo, hi = _box_columns(
                rows, horizon, f, cam_h, near, ahead + length, tall, column, (lateral - half_w, lateral + half_w)
            )
            cover = (cols >= np.rint(lo)[:, None]) & (cols <= np.rint(hi)[:, None])
            if not cover.any():
                continue
            covered_rows = np.flatnonzero(cover.any(axis=1))
            shade = np.linspace(1.1, 0.75, len(covered_rows), dtype=np.float32)[:, None, None]
            image[covered_rows] = np.where(cover[covered_rows, :, None], body * shade, image[covered_rows])
            if ahead >= 1.0:
                # the rear face, darker, with a bumper band and two lamps
                r_lo, r_hi = _box_columns(
                    rows, horizon, f, cam_h, near, near + 1e-3, tall, column, (lateral - half_w, lateral + half_w)
                )
                rear = (cols >= np.rint(r_lo)[:, None]) & (cols <= np.rint(r_hi)[:, None])
                image[rear] *= 0.7
                h = cam_h - (rows - horizon) * near / f
                band = rear & ((h >= 0.8) & (h <= 1.1))[:, None]
                lamp = (cols - np.rint(r_lo)[:, None] < (r_hi - r_lo)[:, None] / 7) | (
                    np.rint(r_hi)[:, None] - cols < (r_hi - r_lo)[:, None] / 7
                )
                image[band] = np.where(lamp[band][:, None], (0.8, 0.08, 0.06), 0.1)
            occluder |= cover
            trucks_drawn += 1
            continue
        car_w, car_h = size
        bottom = horizon + f * cam_h / ahead
        centre = float(column(lateral, np.array([ahead]))[0])
        half_w, tall = f * car_w / ahead / 2, f * car_h / ahead
        x0, x1 = round(centre - half_w), round(centre + half_w)
        y0, y1 = round(float(bottom - tall)), round(float(bottom))
        if x1 <= 0 or x0 >= width or y1 <= 0 or y0 >= height or x1 - x0 < 2:
            continue
        cx0, cx1, cy0, cy1 = max(x0, 0), min(x1, width), max(y0, 0), min(y1, height)
        # the dark patch under the car, a little wider than it
        pad = max(1, (x1 - x0) // 12)
        sy0, sy1 = max(int(bottom - tall * 0.1), 0), min(int(bottom + tall * 0.06) + 1, height)
        image[sy0:sy1, max(x0 - pad, 0) : min(x1 + pad, width)] *= 0.35
        body = np.clip(rng.uniform(0.05, 0.95, 3), 0, 1).astype(np.float32)
        shade = np.linspace(1.1, 0.7, cy1 - cy0, dtype=np.float32)[:, None, None]
        image[cy0:cy1, cx0:cx1] = body * shade
        occluder[cy0:cy1, cx0:cx1] = True
        glass = _span(y0 + int(tall * 0.1), y0 + int(tall * 0.42), height)
        inset = max(1, (x1 - x0) // 10)
        image[glass, _span(x0 + inset, x1 - inset, width)] = rng.uniform(0.08, 0.2)
        lights = _span(y0 + int(tall * 0.55), y0 + int(tall * 0.55) + max(1, int(tall * 0.1)), height)
        lamp = max(1, (x1 - x0) // 6)
        for lx in (x0 + inset // 2, x1 - inset // 2 - lamp):
            image[lights, _span(lx, lx + lamp, width)] = (0.8, 0.08, 0.06)
        drawn.append((x0, x1, y0, y1))

    # lighting: gain and colour cast, a side-to-side gradient, sometimes sun glare; then sensor noise.
    # The image is scaled to 0..255 in the lighting pass and everything after works in place.
    gain = rng.uniform(0.5, 1.3)
    cast = rng.uniform(0.9, 1.1, 3) * gain * 255.0
    gradient = 1.0 + rng.uniform(-0.3, 0.3) * (np.arange(width) / width - 0.5)
    image *= (gradient[:, None] * cast[None, :]).astype(np.float32)[None]
    glare = bool(rng.random() < 0.15)
    if glare:
        gx, gy, spread = rng.uniform(0, width), horizon * rng.uniform(0.3, 1.0), width * rng.uniform(0.08, 0.2)
        bump_x = np.exp(-(((np.arange(width) - gx) / spread) ** 2)).astype(np.float32)
        bump_y = np.exp(-(((rows - gy) / spread) ** 2)).astype(np.float32)
        image += rng.uniform(0.3, 0.8) * 255.0 * np.outer(bump_y, bump_x)[..., None]
    # uniform luma noise of standard deviation `noise` (uniform draws cost a third of normal ones);
    # the +0.5 rounds in the conversion to uint8
    noise = rng.uniform(0.005, 0.04) * 255.0 * np.sqrt(12.0)
    grain = rng.random((height, width, 1), dtype=np.float32)
    grain -= 0.5
    grain *= noise
    grain += 0.5
    image += grain
    pixels = np.clip(image, 0, 255, out=image).astype(np.uint8)

    # labels at the h_samples rows: every line on the road and in the frame, through gaps and vehicles
    h_samples = tusimple_h_samples(height)
    sample_rows = np.asarray(h_samples, dtype=np.float64)
    on_road = sample_rows > horizon + 0.5
    sample_z = np.where(on_road, f * cam_h / np.maximum(sample_rows - horizon, 1e-6), np.inf)
    on_road &= sample_z <= _FAR
    lanes, flags_dashed, flags_occluded, occlusion, flags_hidden = [], [], [], [], []
    for j in range(n_lines):
        xs_label = np.full(len(h_samples), TUSIMPLE_ABSENT, dtype=np.int64)
        x = column(line_x[j], sample_z[on_road])
        xs_label[on_road] = np.where((x >= 0) & (x < width), np.rint(x), TUSIMPLE_ABSENT).astype(np.int64)
        present = xs_label >= 0
        if present.sum() < 2:
            continue
        hidden = present & occluder[np.asarray(h_samples), np.clip(xs_label, 0, width - 1)]
        lanes.append(xs_label.tolist())
        flags_dashed.append(bool(dashed[j]))
        flags_occluded.append(bool(hidden.any() and hidden.sum() >= OCCLUDED_FRACTION * present.sum()))
        occlusion.append(round(float(hidden.sum() / present.sum()), 4))
        flags_hidden.append(hidden.tolist())
    label = {
        "lanes": lanes,
        "h_samples": list(h_samples),
        "dashed": flags_dashed,
        "occluded": flags_occluded,
        "occlusion": occlusion,
        "hidden": flags_hidden,
        "scene": {
            "vehicles": len(drawn),
            "shadows": n_shadows,
            "gain": round(float(gain), 3),
            "curvature": round(float(curvature), 6),
            "glare": glare,
        },
    }
    if long_occlusions:
        label["scene"]["trucks"] = trucks_drawn
    return pixels, label


def write_generated_tusimple(
    folder: str | os.PathLike,
    train: int = 1000,
    val: int = 100,
    test: int = 200,
    height: int = 288,
    width: int = 512,
    seed: int = 0,
    long_occlusions: bool = False,
) -> Path:
    """Write generated frames in the TuSimple layout; :func:`~recur_vision.data.tusimple.tusimple_split` reads it.

    Frame ``i`` of the whole set (train first, then val, then test) is rendered from
    ``default_rng([seed, i])``. The first half of train goes to ``label_data_0313.json``, the rest to
    ``label_data_0601.json``, val to ``label_data_0531.json``, test to ``test_label.json``; frames are
    ``clips/<date>/<i>/20.jpg`` (JPEG quality 95). ``long_occlusions``: the scenes with trucks and long dash
    gaps (:func:`render_road`). A folder already written with the same arguments
    is returned as it is; files are written into a temporary sibling and moved into place.

    Raises:
        ValueError: fewer than 2 train or 1 val/test frame, a size below 32x32, or ``folder`` not
            empty and not written with these arguments.
    """
    if train < 2 or min(val, test) < 1:
        raise ValueError(f"need train >= 2 and val, test >= 1 frames, got train={train}, val={val}, test={test}")
    if min(height, width) < 32:
        raise ValueError(f"frames must be at least 32x32 pixels, got {height}x{width}")
    folder = Path(folder)
    options = dict(
        format=GENERATED_FORMAT,
        train=train,
        val=val,
        test=test,
        height=height,
        width=width,
        seed=seed,
        long_occlusions=bool(long_occlusions),
    )
    counts = dict(zip(GENERATED_LABEL_FILES, (train // 2, train - train // 2, val, test)))

    def write(tmp: Path) -> None:
        index = 0
        for label_file, clips in GENERATED_LABEL_FILES.items():
            frames = []
            for _ in range(counts[label_file]):
                pixels, label = render_road(np.random.default_rng([seed, index]), height, width, long_occlusions)
                raw_file = f"{clips}/{index}/20.jpg"
                (tmp / raw_file).parent.mkdir(parents=True)
                Image.fromarray(pixels).save(tmp / raw_file, quality=95)
                extra = {k: v for k, v in label.items() if k not in ("lanes", "h_samples")}
                frames.append(TuSimpleFrame(raw_file, label["h_samples"], label["lanes"], extra=extra))
                index += 1
            write_tusimple_json(tmp / label_file, frames)

    return write_once(folder, options, "write_generated_tusimple", write)
