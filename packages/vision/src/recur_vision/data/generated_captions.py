"""Rendered scenes of coloured shapes with template captions, written in Karpathy's ``dataset_coco.json`` layout.

The embedded default for the captioning models (no download). Each scene is a grey textured
background with one to three shapes (circle, square, triangle, cross; ellipse as an option) in seven
colours (ten as an option), of one of four kinds; its five reference captions depend on what the image
shows:

============  =========================================  ===========================================
kind          scene                                      a caption
============  =========================================  ===========================================
``single``    one shape                                  "a red circle"
``count``     two or three identical shapes              "three blue triangles"
``left``      two different shapes side by side          "a red circle to the left of a green square"
``above``     two different shapes one over the other    "a yellow square above a blue triangle"
============  =========================================  ===========================================

so a captioner must read colour, shape, count and spatial relation from the pixels: no caption
can be guessed from the others, and "left of" and "above" captions differ only in where the
objects are. The relation is unambiguous by construction: the centres are apart by at least 2.2
radii along the relation's axis, and by less than half that across it.

The space is compositional: by default 7 colours × 4 shapes make 28 objects, so there are 28 single
scenes, 56 counts and 756 ordered pairs of different objects for each relation; ``colours`` (up to
10: orange, cyan and pink after the first seven) and ``shapes`` (up to 5: ellipse after the first
four) widen it, 10 × 5 making 50 objects and 2,450 pairs per relation. Every image (train, val and
test alike) draws its kind, objects and placement independently from the same distribution, so a
test scene is a new picture and, for many two-object scenes, a *combination* of objects and relation
that no training image shows, though each of its attributes is seen many times. That is where a
captioner that composes words must beat retrieving a training caption
(:class:`~recur_vision.models.captioning.NearestNeighbourCaptioner`), which can only return a
combination it has seen. How many test combinations are new depends on the training images per
pair: with 4,000 training images a relation kind has about 1,000, which covers most of the 756
pairs of the default space (about 70% of the two-object test scenes are seen combinations) and
about a third of the 2,450 of the 10 × 5 space.

:func:`write_generated_captions` writes (and :func:`scene_subsets` groups its test images by kind and by
whether their combination was seen in training)::

    <folder>/images/<split>_NNNNN.png     RGB, size x size
    <folder>/dataset_coco.json            {"images": [{"filepath": "images", "filename", "split",
                                                     "imgid", "cocoid", "sentences": [{"tokens", "raw", ...}]}]}
    <folder>/generated.json               the generator's arguments (a complete folder is reused)

which :func:`recur_vision.data.captions.read_karpathy_json` reads like the real file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from recur_core.data.generated import write_once
from recur_vision.data.render import composite, shape_alpha, textured_background

__all__ = [
    "COLOURS",
    "GENERATED_FORMAT",
    "SCENE_KINDS",
    "SCENE_SHAPES",
    "check_scene_space",
    "render_scene",
    "scene_captions",
    "scene_subsets",
    "write_generated_captions",
]

COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.10, 0.10),
    "green": (0.10, 0.65, 0.15),
    "blue": (0.15, 0.25, 0.90),
    "yellow": (0.95, 0.85, 0.10),
    "purple": (0.55, 0.15, 0.70),
    "white": (0.97, 0.97, 0.97),
    "black": (0.05, 0.05, 0.05),
    "orange": (0.95, 0.50, 0.05),
    "cyan": (0.10, 0.80, 0.85),
    "pink": (0.98, 0.55, 0.75),
}
# the scenes draw from the first ``shapes`` of these and the first ``colours`` of COLOURS
SCENE_SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "ellipse")
SCENE_KINDS: tuple[str, ...] = ("single", "count", "left", "above")
_NUMBERS = {2: "two", 3: "three"}
_PLURALS = {"cross": "crosses"}
# the caption's word -> the name render.shape_alpha draws
_DRAWN = {"cross": "plus"}
# the layout and the scene space: a new version is written to a new cache folder
GENERATED_FORMAT = 4


def _place(rng: np.random.Generator, kind: str, count: int, size: int, radius: float) -> np.ndarray:
    """Centres ``[count, 2]`` (x, y): apart enough not to touch; for a relation, clearly along its axis."""
    low, high = radius + 2.0, size - radius - 2.0
    for _ in range(1000):
        centres = rng.uniform(low, high, size=(count, 2))
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(count) * size
        if gaps.min() < 2.2 * radius:
            continue
        if kind in ("left", "above"):
            along, across = (0, 1) if kind == "left" else (1, 0)
            if centres[1, along] < centres[0, along]:
                centres = centres[::-1].copy()
            apart = centres[1, along] - centres[0, along]
            if apart < 2.2 * radius or abs(centres[1, across] - centres[0, across]) >= 0.5 * apart:
                continue
        return centres
    raise ValueError(f"cannot place {count} shapes of radius {radius:.1f} in a {size}x{size} image; raise size")


def check_scene_space(colours: int, shapes: int) -> None:
    """Raise a ValueError naming the valid range unless the scene space is 1..10 colours x 1..5 shapes."""
    if not (1 <= colours <= len(COLOURS) and 1 <= shapes <= len(SCENE_SHAPES)) or colours * shapes < 2:
        raise ValueError(
            f"colours must be 1..{len(COLOURS)} and shapes 1..{len(SCENE_SHAPES)} with at least two objects "
            f"(colours x shapes >= 2), got colours={colours}, shapes={shapes}"
        )


def render_scene(
    rng: np.random.Generator, size: int = 64, colours: int = 7, shapes: int = 4
) -> tuple[np.ndarray, dict]:
    """One scene: ``uint8 [size, size, 3]`` RGB and its description.

    Its objects take the first ``colours`` of :data:`COLOURS` and the first ``shapes`` of
    :data:`SCENE_SHAPES`. The description is ``{"kind", "objects": [{"colour", "shape", "x", "y",
    "radius"}, ...]}``; for ``left``/``above`` the first object is the left/upper one.
    """
    if size < 32:
        raise ValueError(f"size must be >= 32 for the shapes to be told apart, got {size}")
    check_scene_space(colours, shapes)
    palette, forms = list(COLOURS)[:colours], SCENE_SHAPES[:shapes]
    kind = SCENE_KINDS[int(rng.integers(len(SCENE_KINDS)))]
    colour = palette[int(rng.integers(colours))]
    shape = forms[int(rng.integers(shapes))]
    if kind == "single":
        looks = [(colour, shape)]
    elif kind == "count":
        looks = [(colour, shape)] * int(rng.integers(2, 4))
    else:
        # two different objects: another colour, another shape, or both
        while True:
            other = (palette[int(rng.integers(colours))], forms[int(rng.integers(shapes))])
            if other != (colour, shape):
                break
        looks = [(colour, shape), other]
    radius = float(rng.uniform(0.12, 0.15) * size)
    centres = _place(rng, kind, len(looks), size, radius)
    texture = textured_background(rng, size, size, contrast=0.2)
    image = np.repeat(texture.mean(-1, keepdims=True) * 0.5 + 0.3, 3, axis=-1)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    objects = []
    for (name, form), (x, y) in zip(looks, centres):
        # a triangle points up; squares and circles get a small random tilt
        angle = 0.0 if form == "triangle" else float(rng.uniform(-0.3, 0.3))
        alpha = shape_alpha(_DRAWN.get(form, form), xs, ys, x, y, radius, angle)
        composite(image, alpha, np.array(COLOURS[name], dtype=np.float32))
        objects.append({"colour": name, "shape": form, "x": float(x), "y": float(y), "radius": radius})
    image += rng.normal(0.0, 0.015, size=image.shape).astype(np.float32)
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), {"kind": kind, "objects": objects}


def scene_captions(scene: dict) -> list[str]:
    """The five reference captions of a scene :func:`render_scene` described."""
    kind, objects = scene["kind"], scene["objects"]
    a = f"{objects[0]['colour']} {objects[0]['shape']}"
    if kind == "single":
        return [f"a {a}", f"a {a} in the picture", f"there is a {a}", f"one {a}", f"a single {a}"]
    if kind == "count":
        shape = objects[0]["shape"]
        n, colour, shapes = _NUMBERS[len(objects)], objects[0]["colour"], _PLURALS.get(shape, f"{shape}s")
        return [
            f"{n} {colour} {shapes}",
            f"there are {n} {colour} {shapes}",
            f"{n} {colour} {shapes} in the picture",
            f"a group of {n} {colour} {shapes}",
            f"{n} {shapes} , all {colour}",
        ]
    b = f"{objects[1]['colour']} {objects[1]['shape']}"
    if kind == "left":
        return [
            f"a {a} left of a {b}",
            f"a {a} to the left of a {b}",
            f"a {b} right of a {a}",
            f"a {b} to the right of a {a}",
            f"a {a} beside a {b}",
        ]
    return [
        f"a {a} above a {b}",
        f"a {a} on top of a {b}",
        f"a {b} below a {a}",
        f"a {b} under a {a}",
        f"a {a} over a {b}",
    ]


def write_generated_captions(
    folder: str | Path,
    train: int = 2000,
    val: int = 200,
    test: int = 200,
    size: int = 64,
    seed: int = 0,
    colours: int = 7,
    shapes: int = 4,
) -> Path:
    """Write ``train``/``val``/``test`` generated scenes as PNGs and a Karpathy-layout ``dataset_coco.json``.

    Image ``i`` of the whole set (train first, then val, then test) is rendered from
    ``default_rng([seed, i])`` with the first ``colours`` colours and ``shapes`` shapes (the defaults
    give the scenes of earlier versions, pixel for pixel). A folder already written with the same
    arguments is returned as it is; files are written into a temporary sibling and moved into place.

    Returns:
        ``folder``; its ``dataset_coco.json`` is what :func:`~recur_vision.data.captions.read_karpathy_json` reads.

    Raises:
        ValueError: a split count below 1, ``colours``/``shapes`` out of range, or ``folder`` exists, is not
            empty and was not written with these arguments.
    """
    if min(train, val, test) < 1:
        raise ValueError(f"every split needs at least one image, got train={train}, val={val}, test={test}")
    folder = Path(folder)
    check_scene_space(colours, shapes)
    options = dict(
        format=GENERATED_FORMAT, train=train, val=val, test=test, size=size, seed=seed, colours=colours, shapes=shapes
    )

    def write(tmp: Path) -> None:
        (tmp / "images").mkdir(parents=True)
        entries, sentence_id = [], 0
        splits = ["train"] * train + ["val"] * val + ["test"] * test
        for i, split in enumerate(splits):
            image, scene = render_scene(np.random.default_rng([seed, i]), size, colours, shapes)
            filename = f"{split}_{i:05d}.png"
            # light compression: the files are small and written by the thousand
            Image.fromarray(image).save(tmp / "images" / filename, compress_level=1)
            sentences = []
            for raw in scene_captions(scene):
                sentences.append({"tokens": raw.split(), "raw": raw, "imgid": i, "sentid": sentence_id})
                sentence_id += 1
            entries.append(
                {
                    "filepath": "images",
                    "filename": filename,
                    "split": split,
                    "imgid": i,
                    "cocoid": i,
                    "sentids": [s["sentid"] for s in sentences],
                    "sentences": sentences,
                    "scene": scene,
                }
            )
        (tmp / "dataset_coco.json").write_text(json.dumps({"images": entries, "dataset": "generated-shapes"}))

    return write_once(folder, options, "write_generated_captions", write)


def scene_subsets(entries: list[dict]) -> dict[str, list[int]]:
    """The test images of a written set grouped for scoring: indices into its test images (file order) per scene kind,
    and the two-object ones whose combination of kind and objects a training image shows ("relation, seen") or none
    does ("relation, unseen"); empty groups left out.

    Args:
        entries: the ``"images"`` of the ``dataset_coco.json`` :func:`write_generated_captions` wrote (each keeps
            its ``"scene"``).
    """

    def combination(scene: dict) -> tuple:
        return scene["kind"], tuple((o["colour"], o["shape"]) for o in scene["objects"])

    train = {combination(e["scene"]) for e in entries if e["split"] == "train"}
    groups: dict[str, list[int]] = {name: [] for name in (*SCENE_KINDS, "relation, seen", "relation, unseen")}
    for index, scene in enumerate(e["scene"] for e in entries if e["split"] == "test"):
        groups[scene["kind"]].append(index)
        if scene["kind"] in ("left", "above"):
            groups["relation, " + ("seen" if combination(scene) in train else "unseen")].append(index)
    return {name: indices for name, indices in groups.items() if indices}
