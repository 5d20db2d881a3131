"""Generated remote-sensing tiles with RSVQA's questions, written in the RSVQA JSON layout.

RSVQA (Lobry et al., IEEE TGRS 2020, https://arxiv.org/abs/2003.07333) builds its questions from the
OpenStreetMap objects inside each tile (official generator: ``syvlo/RSVQA``
``AutomaticDB/ConstructQuestions.py``). Here the object list is the one each tile is *drawn from*:
roads, residential and commercial buildings (square, rectangular or circular), water areas and land
classes (forest, farmland, meadow) on a terrain texture, at ``metres_per_pixel`` metres a pixel.
Every answer is computed from that list, so it depends on the image.

Questions follow the official generator's templates:

- an object is a base class (``building``, ``residential building``, ``commercial building``,
  ``road``, ``water area``, or a land class), with probability 0.1 an attribute (size: ``small`` <
  100 m², ``medium`` < 500 m², ``large``; shape, buildings only: ``square``, ``rectangular``,
  ``circular``; roads take none), and with probability ``relation_probability`` (official 0.02) a
  relative position to a second object (``at the top of``, ``on the right of``, ``at the bottom
  of``, ``on the left of``, ``next to``: the first object lies wholly beyond the second's centre,
  or within ``next_to_m`` metres of it);
- presence: ``Is there a {obj}?`` / ``Is a {obj} present?`` → yes / no;
- count: ``How many {objs} are there?`` / ``What is the number of {objs}?`` / ``What is the amount
  of {objs}?`` → the number;
- comparison: ``Are there less {objs} than {objs2}?`` / ``Are there more ...`` / ``Is the number
  of {objs} equal to the number of {objs2}?`` → yes / no;
- area (roads excluded): ``What is the area covered by {objs}?`` → ``<N>m2``;
- rural/urban: ``Is it a rural or an urban area?`` → urban when the tile has more than
  ``urban_threshold`` buildings (the official generator's rule; its threshold is 2 OSM buildings,
  the default here is 5, between the 0-4 buildings of a rural tile and the 6-20 of an urban one);
- with probability 0.1 a question ends in ``in the image``.

Unlike the official generator, which picks base classes present in the tile nine times in ten, the
base class is drawn uniformly here, so that absent objects are asked about as often as present ones
and a question alone predicts its answer no better than the class frequencies allow.

Type proportions: the LR layout draws presence, comparison and count as the LR training split
(39 / 30 / 30 %) and asks the rural/urban question once per tile, as LR does (772 tiles, 1 % of its
77k questions); with ``questions_per_tile`` = 20 that is 5 % rather than 1 %, so that the type has
enough questions to be scored. The HR layout draws presence, comparison, count and area with
``HR_TYPE_WEIGHTS`` (a choice of recur's: the HR proportions are not verified here).

Layout written (what :func:`recur_vision.data.rsvqa.read_rsvqa_split` reads)::

    LR: LR_split_{train,val,test}_{images,questions,answers}.json + Images_LR/{id}.tif
    HR: USGS_split_{train,val,test}_{images,questions,answers}.json + Data/{id}.tif
    {prefix}_objects.json: {"tiles": [{"id", "kind": "urban"|"rural", "objects": [...]}]} (the object lists)
    generated.json: the arguments, so that a folder written with the same ones is reused
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from recur_core.data.generated import write_once
from recur_vision.data.render import smooth_noise
from recur_vision.data.rsvqa import RSVQA_VARIANTS

__all__ = [
    "BASE_OBJECTS",
    "HR_TYPE_WEIGHTS",
    "LAND_USES",
    "LR_TYPE_WEIGHTS",
    "RELATIONS",
    "TileObject",
    "TileQuestion",
    "render_tile",
    "tile_questions",
    "write_generated_rsvqa",
]

BASE_OBJECTS = ("building", "residential building", "commercial building", "road", "water area", "land class")
LAND_USES = ("forest", "farmland", "meadow")
RELATIONS = ("at the top of", "on the right of", "at the bottom of", "on the left of", "next to")
SIZES = ("small", "medium", "large")
SHAPES = ("square", "rectangular", "circular")
LR_TYPE_WEIGHTS = {"presence": 0.39, "comp": 0.30, "count": 0.30}
HR_TYPE_WEIGHTS = {"presence": 0.3, "comp": 0.3, "count": 0.2, "area": 0.2}
_ATTRIBUTE_PROBABILITY = 0.1
_IN_THE_IMAGE_PROBABILITY = 0.1
_FORMAT_VERSION = 1

_COLOURS = {
    "residential": np.array([[0.62, 0.27, 0.20], [0.55, 0.35, 0.25], [0.70, 0.42, 0.30]], dtype=np.float32),
    "commercial": np.array([[0.80, 0.80, 0.78], [0.58, 0.60, 0.64], [0.70, 0.72, 0.76]], dtype=np.float32),
    "road": np.array([0.42, 0.42, 0.42], dtype=np.float32),
    "water area": np.array([0.10, 0.22, 0.40], dtype=np.float32),
    "forest": np.array([0.09, 0.28, 0.10], dtype=np.float32),
    "farmland": np.array([0.72, 0.64, 0.32], dtype=np.float32),
    "meadow": np.array([0.45, 0.62, 0.30], dtype=np.float32),
}


@dataclass(frozen=True)
class TileObject:
    """One object a tile is drawn from (what RSVQA takes from OpenStreetMap).

    Attributes:
        kind: ``building``, ``road``, ``water area`` or ``land class``.
        use: ``residential`` / ``commercial`` for buildings, the land use for land classes, else ``""``.
        bbox: ``(x0, y0, x1, y1)`` pixel bounds (x1, y1 exclusive), y down.
        area_m2: the area it covers, from its drawn pixels.
        shape: ``square``, ``rectangular`` or ``circular`` for buildings, else ``""``.
    """

    kind: str
    use: str
    bbox: tuple[int, int, int, int]
    area_m2: float
    shape: str = ""

    @property
    def size(self) -> str:
        """``small`` (< 100 m²), ``medium`` (< 500 m²) or ``large``, the official thresholds."""
        return "small" if self.area_m2 < 100 else "medium" if self.area_m2 < 500 else "large"

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.bbox
        return (x0 + x1) / 2, (y0 + y1) / 2


@dataclass(frozen=True)
class TileQuestion:
    """A generated question: its text, its answer as written in the answers file, and its type."""

    question: str
    answer: str
    type: str


# ----- drawing -----------------------------------------------------------------------------------


def _paint(image: np.ndarray, mask: np.ndarray, colour: np.ndarray, texture: np.ndarray, strength: float) -> None:
    image[mask] = np.clip(colour + strength * texture[mask], 0.0, 1.0)


def _blob(xs: np.ndarray, ys: np.ndarray, rng: np.random.Generator, cx: float, cy: float, radius: float) -> np.ndarray:
    """A rotated ellipse with a wavy edge (a lake or a wood)."""
    angle = rng.uniform(0, np.pi)
    aspect = rng.uniform(0.5, 1.0)
    dx, dy = xs - cx, ys - cy
    u = np.cos(angle) * dx + np.sin(angle) * dy
    v = (-np.sin(angle) * dx + np.cos(angle) * dy) / aspect
    theta = np.arctan2(v, u)
    wobble = 1.0 + 0.15 * np.sin(3 * theta + rng.uniform(0, 2 * np.pi)) + 0.08 * np.sin(5 * theta)
    return u * u + v * v <= (radius * wobble) ** 2


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def render_tile(
    rng: np.random.Generator, size: int = 64, metres_per_pixel: float = 3.0, urban_probability: float = 0.5
) -> tuple[np.ndarray, list[TileObject], str]:
    """Draw one tile and the list of objects it is drawn from.

    Land classes go down first, then water areas, roads across the tile and buildings (with a
    shadow), none overlapping another object of the same layer; each object's area is its own
    pixels times ``metres_per_pixel``². Urban tiles get many buildings and roads, rural ones fields,
    woods and a few buildings; every class is absent from some tiles of either kind.

    Returns:
        uint8 ``[size, size, 3]`` RGB, the objects, and ``"urban"`` or ``"rural"`` (how it was drawn).
    """
    if size < 32:
        raise ValueError(f"tiles must be at least 32 pixels wide, got {size}")
    if metres_per_pixel <= 0:
        raise ValueError(f"metres_per_pixel must be positive, got {metres_per_pixel}")
    pixel_area = metres_per_pixel**2
    urban = bool(rng.random() < urban_probability)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    soil = np.array([0.48, 0.44, 0.32], dtype=np.float32)
    grass = np.array([0.36, 0.48, 0.26], dtype=np.float32)
    mix = 1.0 / (1.0 + np.exp(-2.0 * smooth_noise(rng, size, size, max(4, size // 6))))
    image = soil + mix * (grass - soil) + 0.05 * smooth_noise(rng, size, size, 3, 3)
    texture = smooth_noise(rng, size, size, 2, 3)
    occupied = np.zeros((size, size), dtype=bool)
    objects: list[TileObject] = []

    water = np.zeros((size, size), dtype=bool)

    def place(mask: np.ndarray, kind: str, use: str, strength: float, pattern: np.ndarray = texture) -> bool:
        # a land class or a lake must be mostly free ground, and keeps only its free pixels
        if mask.sum() < 2 or (mask & occupied).sum() > 0.1 * mask.sum():
            return False
        mask = mask & ~occupied
        _paint(image, mask, _COLOURS[use or kind], pattern, strength)
        occupied[mask] = True
        if kind == "water area":
            water[mask] = True
        objects.append(TileObject(kind, use, _bbox(mask), float(mask.sum() * pixel_area)))
        return True

    land_presence = (
        {"forest": 0.3, "farmland": 0.2, "meadow": 0.35} if urban else {"forest": 0.6, "farmland": 0.7, "meadow": 0.4}
    )
    for use in LAND_USES:
        if rng.random() >= land_presence[use]:
            continue
        for _ in range(int(rng.integers(1, 3))):
            for _attempt in range(10):
                cx, cy = rng.uniform(0, size, 2)
                if use == "farmland":
                    # a rectangular field ploughed in stripes along x or y
                    w, h = rng.uniform(size / 6, size / 2.5, 2)
                    mask = (np.abs(xs - cx) < w / 2) & (np.abs(ys - cy) < h / 2)
                    stripes = np.sin((xs if rng.random() < 0.5 else ys) * rng.uniform(1.0, 2.0))[..., None]
                    placed_here = place(mask, "land class", use, 0.06, np.broadcast_to(stripes, texture.shape))
                else:
                    blob = _blob(xs, ys, rng, cx, cy, rng.uniform(size / 10, size / 5))
                    placed_here = place(blob, "land class", use, 0.08)
                if placed_here:
                    break
    if rng.random() < 0.45:
        for _ in range(int(rng.integers(1, 3))):
            for _attempt in range(10):
                cx, cy = rng.uniform(size * 0.1, size * 0.9, 2)
                if place(_blob(xs, ys, rng, cx, cy, rng.uniform(size / 12, size / 6)), "water area", "", 0.03):
                    break
    # roads cross the tile, over land and water-free ground; they may cross each other
    road_count = int(rng.choice(4, p=[0.15, 0.35, 0.3, 0.2])) if urban else int(rng.choice(3, p=[0.45, 0.4, 0.15]))
    road_pixels = np.zeros((size, size), dtype=bool)
    for _ in range(road_count):
        for _attempt in range(10):
            angle = rng.uniform(0, np.pi)
            cx, cy = rng.uniform(size * 0.2, size * 0.8, 2)
            distance = np.abs(np.cos(angle) * (ys - cy) - np.sin(angle) * (xs - cx))
            mask = distance < rng.uniform(0.9, 1.4)
            if (mask & water).any() or (mask & road_pixels).sum() > 0.3 * mask.sum():
                continue
            mask &= ~road_pixels
            _paint(image, mask, _COLOURS["road"], texture, 0.02)
            road_pixels |= mask
            objects.append(TileObject("road", "", _bbox(mask), float(mask.sum() * pixel_area)))
            break
    # buildings stand on free ground, a pixel away from every other object
    blocked = occupied | road_pixels
    wanted = int(rng.integers(6, 21)) if urban else int(rng.integers(0, 5))
    placed = 0
    for _attempt in range(wanted * 15):
        if placed == wanted:
            break
        commercial = rng.random() < 0.35
        shape = "circular" if rng.random() < 0.1 else "square" if rng.random() < 0.35 else "rectangular"
        low, high = (4, 10) if commercial else (2, 7)
        w = int(rng.integers(low, high + 1))
        h = w if shape != "rectangular" else int(rng.integers(low, high + 1))
        if shape == "rectangular" and abs(w - h) < 2:
            h = w + 2
        x0, y0 = int(rng.integers(1, size - w - 1)), int(rng.integers(1, size - h - 1))
        if blocked[y0 - 1 : y0 + h + 1, x0 - 1 : x0 + w + 1].any():
            continue
        mask = np.zeros((size, size), dtype=bool)
        if shape == "circular":
            mask[y0 : y0 + h, x0 : x0 + w] = (xs[y0 : y0 + h, x0 : x0 + w] - x0 - w / 2) ** 2 + (
                ys[y0 : y0 + h, x0 : x0 + w] - y0 - h / 2
            ) ** 2 <= (w / 2) ** 2
        else:
            mask[y0 : y0 + h, x0 : x0 + w] = True
        use = "commercial" if commercial else "residential"
        shadow = np.zeros_like(mask)
        shadow[1:, 1:] = mask[:-1, :-1] & ~mask[1:, 1:]
        image[shadow] *= 0.55
        roof = _COLOURS[use][int(rng.integers(0, 3))]
        _paint(image, mask, roof, texture, 0.04)
        blocked[y0 - 1 : y0 + h + 1, x0 - 1 : x0 + w + 1] = True
        objects.append(TileObject("building", use, _bbox(mask), float(mask.sum() * pixel_area), shape))
        placed += 1
    image += rng.normal(0.0, 0.015, size=image.shape).astype(np.float32)
    pixels = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return pixels, objects, "urban" if urban else "rural"


# ----- questions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Selection:
    """The objects a phrase names, the phrase, and its base class (a second object must differ)."""

    objects: tuple[TileObject, ...]
    phrase: str
    base: str


def _matches(obj: TileObject, base: str, use: str) -> bool:
    if base == "land class":
        return obj.kind == "land class" and obj.use == use
    if base in ("residential building", "commercial building"):
        return obj.kind == "building" and obj.use == base.split()[0]
    return obj.kind == base


def _related(obj: TileObject, other: TileObject, relation: int, next_to_px: float) -> bool:
    """The official tests with y down: ``top`` = wholly above the other's centre, and so on."""
    x0, y0, x1, y1 = obj.bbox
    cx, cy = other.centre
    if relation == 0:
        return y1 <= cy
    if relation == 1:
        return x0 >= cx
    if relation == 2:
        return y0 >= cy
    if relation == 3:
        return x1 <= cx
    ox0, oy0, ox1, oy1 = other.bbox
    gap_x, gap_y = max(0, ox0 - x1, x0 - ox1), max(0, oy0 - y1, y0 - oy1)
    return float(np.hypot(gap_x, gap_y)) < next_to_px


def _select(
    rng: np.random.Generator,
    objects: list[TileObject],
    plural: bool,
    exclude: str | None,
    no_road: bool,
    relation_probability: float,
    next_to_px: float,
    relation: bool = True,
) -> _Selection:
    bases = [b for b in BASE_OBJECTS if b != exclude and not (no_road and b == "road")]
    base = bases[int(rng.integers(len(bases)))]
    use = LAND_USES[int(rng.integers(len(LAND_USES)))] if base == "land class" else ""
    chosen = [o for o in objects if _matches(o, base, use)]
    attribute = ""
    if base != "road" and rng.random() < _ATTRIBUTE_PROBABILITY:
        if "building" in base and rng.random() < 0.5:
            attribute = SHAPES[int(rng.integers(3))]
            chosen = [o for o in chosen if o.shape == attribute]
        else:
            attribute = SIZES[int(rng.integers(3))]
            chosen = [o for o in chosen if o.size == attribute]
    noun = use if base == "land class" else base
    phrase = " ".join(filter(None, (attribute, noun))) + ("s" if plural else "")
    if relation and rng.random() < relation_probability:
        kind = int(rng.integers(len(RELATIONS)))
        other = _select(rng, objects, False, base, False, 0.0, next_to_px, relation=False)
        chosen = [o for o in chosen if any(_related(o, p, kind, next_to_px) for p in other.objects)]
        article = "the" if len(other.objects) == 1 else "a"
        phrase = f"{phrase} {RELATIONS[kind]} {article} {other.phrase}"
    return _Selection(tuple(chosen), phrase, base)


def _base_question(rng: np.random.Generator, kind: str, pick) -> tuple[str, str]:
    """One question of type ``kind`` (without its final mark) and its answer; ``pick`` selects objects."""
    if kind == "presence":
        first = pick(False)
        template = ("Is there a {}", "Is a {} present")[int(rng.integers(2))]
        return template.format(first.phrase), "yes" if first.objects else "no"
    if kind == "count":
        first = pick(True)
        template = ("How many {} are there", "What is the number of {}", "What is the amount of {}")[
            int(rng.integers(3))
        ]
        return template.format(first.phrase), str(len(first.objects))
    if kind == "comp":
        first = pick(True)
        second = pick(True, exclude=first.base)
        a, b = len(first.objects), len(second.objects)
        choice = int(rng.integers(3))
        if choice == 0:
            text, yes = f"Are there less {first.phrase} than {second.phrase}", a < b
        elif choice == 1:
            text, yes = f"Are there more {first.phrase} than {second.phrase}", a > b
        else:
            text, yes = f"Is the number of {first.phrase} equal to the number of {second.phrase}", a == b
        return text, "yes" if yes else "no"
    first = pick(True, no_road=True)
    return f"What is the area covered by {first.phrase}", f"{int(sum(o.area_m2 for o in first.objects))}m2"


def tile_questions(
    rng: np.random.Generator,
    objects: list[TileObject],
    count: int,
    type_weights: Mapping[str, float] = LR_TYPE_WEIGHTS,
    rural_urban: bool = True,
    urban_threshold: int = 5,
    relation_probability: float = 0.02,
    next_to_m: float = 30.0,
    metres_per_pixel: float = 3.0,
) -> list[TileQuestion]:
    """``count`` distinct questions about a tile, answered from its object list.

    Args:
        rng: the random source.
        objects: the tile's objects (:func:`render_tile`).
        count: questions to ask (fewer when the tile does not allow that many distinct ones).
        type_weights: relative frequency of ``presence``, ``comp``, ``count`` and ``area``.
        rural_urban: ask ``Is it a rural or an urban area?`` first (LR: once per tile).
        urban_threshold: a tile with more buildings than this is urban.
        relation_probability: chance that an object phrase has a relative position.
        next_to_m: ``next to`` means closer than this (the paper's 1000 m for 2.5 km tiles, scaled down).
        metres_per_pixel: the tile's resolution (to turn ``next_to_m`` into pixels).
    """
    unknown = set(type_weights) - {"presence", "comp", "count", "area"}
    if unknown or not type_weights or min(type_weights.values()) < 0 or sum(type_weights.values()) <= 0:
        raise ValueError(
            f"type_weights must give non-negative weights to presence, comp, count and area, got {dict(type_weights)}"
        )
    next_to_px = next_to_m / metres_per_pixel
    questions: list[TileQuestion] = []
    if rural_urban and count > 0:
        buildings = sum(o.kind == "building" for o in objects)
        answer = "urban" if buildings > urban_threshold else "rural"
        questions.append(TileQuestion("Is it a rural or an urban area?", answer, "rural_urban"))
    types = list(type_weights)
    weights = np.array([type_weights[t] for t in types], dtype=np.float64)
    seen: set[str] = set()

    def pick(plural: bool, exclude: str | None = None, no_road: bool = False) -> _Selection:
        return _select(rng, objects, plural, exclude, no_road, relation_probability, next_to_px)

    probabilities = weights / weights.sum()
    for _slot in range(count * 3):
        if len(questions) >= count:
            break
        # the type is drawn first and kept while looking for a new question of it, so that the
        # proportions hold even where a type has few distinct questions
        kind = types[int(rng.choice(len(types), p=probabilities))]
        for _attempt in range(10):
            text, answer = _base_question(rng, kind, pick)
            # one question per base question, with or without "in the image" (the official canonical check)
            if text not in seen:
                seen.add(text)
                suffix = " in the image?" if rng.random() < _IN_THE_IMAGE_PROBABILITY else "?"
                questions.append(TileQuestion(text + suffix, answer, kind))
                break
    return questions


# ----- writing the RSVQA layout ------------------------------------------------------------------


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, separators=(",", ":")))


def write_generated_rsvqa(
    folder: str | os.PathLike,
    train: int = 200,
    val: int = 40,
    test: int = 40,
    size: int = 64,
    questions_per_tile: int = 20,
    layout: str = "lr",
    seed: int = 0,
    metres_per_pixel: float = 3.0,
    urban_threshold: int = 5,
    relation_probability: float = 0.02,
    type_weights: Mapping[str, float] | None = None,
) -> Path:
    """Write generated tiles and questions in the RSVQA layout (``layout`` ``"lr"`` or ``"hr"``).

    Tile ``i`` of the whole set (train first, then val, then test: a split by tile, as RSVQA's) is
    drawn and questioned from ``default_rng([seed, i])``; tile and question ids run over the whole
    set, answer ``i`` answers question ``i``, and every row is active. Tiles are uncompressed 8-bit
    RGB TIFFs. A folder already written with the same arguments is returned as it is; files are
    written into a temporary sibling and moved into place.

    Args:
        folder: where to write (empty or absent).
        train, val, test: tiles per split.
        size: tile side in pixels (LR's 256 and HR's 512 work too; 64 trains on a CPU).
        questions_per_tile: questions per tile (the rural/urban one included on LR).
        layout: ``"lr"`` (presence / comp / count + one rural/urban per tile) or ``"hr"``
            (presence / comp / count / area).
        seed: the set's seed.
        metres_per_pixel: resolution, for areas, sizes and ``next to``.
        urban_threshold: more buildings than this make a tile urban.
        relation_probability: chance of a relative position in an object phrase (official 0.02).
        type_weights: override of the layout's type proportions.

    Raises:
        ValueError: a split with no tile, a tile below 32 px, an unknown layout, or ``folder`` not
            empty and not written with these arguments.
    """
    if layout not in RSVQA_VARIANTS:
        raise ValueError(f"layout must be 'lr' or 'hr', got {layout!r}")
    if min(train, val, test) < 1 or questions_per_tile < 2:
        raise ValueError(
            f"need at least one tile per split and 2 questions per tile, got train={train}, val={val}, test={test}, "
            f"questions_per_tile={questions_per_tile}"
        )
    if size < 32:
        raise ValueError(f"tiles must be at least 32 pixels wide, got {size}")
    weights = dict(type_weights if type_weights is not None else LR_TYPE_WEIGHTS if layout == "lr" else HR_TYPE_WEIGHTS)
    spec = RSVQA_VARIANTS[layout]
    folder = Path(folder)
    options = dict(
        format=_FORMAT_VERSION,
        train=train,
        val=val,
        test=test,
        size=size,
        questions_per_tile=questions_per_tile,
        layout=layout,
        seed=seed,
        metres_per_pixel=metres_per_pixel,
        urban_threshold=urban_threshold,
        relation_probability=relation_probability,
        type_weights=weights,
    )

    def write(tmp: Path) -> None:
        (tmp / spec.image_dir).mkdir(parents=True)
        tile_id, question_id, tiles_meta = 0, 0, []
        for split, tiles in (("train", train), ("val", val), ("test", test)):
            images, questions, answers = [], [], []
            for _ in range(tiles):
                rng = np.random.default_rng([seed, tile_id])
                pixels, objects, kind = render_tile(rng, size, metres_per_pixel)
                Image.fromarray(pixels).save(tmp / spec.image_dir / f"{tile_id}.tif", format="TIFF")
                asked = tile_questions(
                    rng,
                    objects,
                    questions_per_tile,
                    weights,
                    rural_urban=layout == "lr",
                    urban_threshold=urban_threshold,
                    relation_probability=relation_probability,
                    metres_per_pixel=metres_per_pixel,
                )
                ids = list(range(question_id, question_id + len(asked)))
                images.append({"id": tile_id, "active": True, "questions_ids": ids, "original_name": f"{tile_id}.tif"})
                for qid, q in zip(ids, asked):
                    questions.append(
                        {
                            "id": qid,
                            "img_id": tile_id,
                            "type": q.type,
                            "question": q.question,
                            "answers_ids": [qid],
                            "active": True,
                        }
                    )
                    answers.append({"id": qid, "question_id": qid, "answer": q.answer, "active": True})
                tiles_meta.append({"id": tile_id, "kind": kind, "objects": [asdict(o) for o in objects]})
                question_id += len(asked)
                tile_id += 1
            _write_json(tmp / spec.file_name(split, "images"), {"images": images})
            _write_json(tmp / spec.file_name(split, "questions"), {"questions": questions})
            _write_json(tmp / spec.file_name(split, "answers"), {"answers": answers})
        _write_json(tmp / f"{spec.prefix}_objects.json", {"tiles": tiles_meta})

    return write_once(folder, options, "write_generated_rsvqa", write)
