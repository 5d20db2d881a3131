"""Procedural action videos whose classes are defined by motion, written as real video files in the UCF101 layout.

The embedded default for the video models (no download): :func:`write_generated_ucf101` renders
``videos_per_class`` videos of each of the 13 :data:`ACTION_CLASSES`, encodes them with PyAV into
``.mp4`` files (MPEG-4 Part 2, the codec of UCF101's own clips, by default; H.264 on request, about
ten times slower to encode) and writes the split files, so the UCF101 reader of
:mod:`recur_vision.data.video` reads them exactly as it reads the real set::

    <folder>/UCF-101/<Class>/v_<Class>_gGG_c01.mp4     one group GG per video
    <folder>/ucfTrainTestlist/classInd.txt             "1 MoveLeft" ...
    <folder>/ucfTrainTestlist/trainlist01.txt          "MoveLeft/v_MoveLeft_g04_c01.mp4 1"
    <folder>/ucfTrainTestlist/testlist01.txt           "MoveLeft/v_MoveLeft_g01_c01.mp4"
    <folder>/generated.json                            the generator's arguments (a complete folder is reused)

Each video: a random textured background (gratings + smooth noise), one or two foreground shapes
(circle, square, triangle, ellipse, plus; each with an off-centre marker so that rotation shows),
an optional static distractor shape, camera jitter (a random walk of the whole view, up to 3 px),
per-frame brightness flicker and pixel noise. Every frame is drawn at once with numpy broadcasting.

Motion, not appearance, defines the class. Six classes are the **time reversal** of another:
``MoveRight`` is ``MoveLeft`` played backwards, likewise ``MoveDown``/``MoveUp``,
``RotateAnticlockwise``/``RotateClockwise``, ``Shrink``/``Grow``, ``Separate``/``Approach`` and
``OrbitAnticlockwise``/``OrbitClockwise`` (:func:`render_action_video` renders them so, noise and
jitter included). A pair's videos therefore hold exactly the same set of frames, so no single
frame can tell the two apart: only the order does, which is what a recurrent head adds over a
single-frame classifier (LRCN's claim, Donahue et al. 2015). ``Bounce`` (a falling, bouncing
shape) is its own reversal.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from recur_core.data.generated import write_once
from recur_vision.data.render import SHAPES, composite, shape_alpha, textured_background

__all__ = [
    "ACTION_CLASSES",
    "REVERSED_CLASSES",
    "render_action_video",
    "write_generated_ucf101",
    "write_video",
]

ACTION_CLASSES: tuple[str, ...] = (
    "MoveLeft",
    "MoveRight",
    "MoveUp",
    "MoveDown",
    "RotateClockwise",
    "RotateAnticlockwise",
    "Grow",
    "Shrink",
    "Approach",
    "Separate",
    "OrbitClockwise",
    "OrbitAnticlockwise",
    "Bounce",
)

# class -> the class it is the time reversal of
REVERSED_CLASSES: dict[str, str] = {
    "MoveRight": "MoveLeft",
    "MoveDown": "MoveUp",
    "RotateAnticlockwise": "RotateClockwise",
    "Shrink": "Grow",
    "Separate": "Approach",
    "OrbitAnticlockwise": "OrbitClockwise",
}

_PALETTE = np.array(
    [
        [0.90, 0.15, 0.15],
        [0.15, 0.75, 0.20],
        [0.15, 0.30, 0.90],
        [0.95, 0.85, 0.10],
        [0.85, 0.20, 0.85],
        [0.10, 0.85, 0.85],
        [0.98, 0.55, 0.10],
        [0.95, 0.95, 0.95],
        [0.08, 0.08, 0.08],
    ],
    dtype=np.float32,
)
_JITTER = 3  # the camera's largest offset, pixels
_FORMAT_VERSION = 1


def _appearance(rng: np.random.Generator) -> tuple[str, np.ndarray, np.ndarray]:
    """A shape, its colour (a palette colour, jittered) and its marker's colour (the complement)."""
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    colour = np.clip(_PALETTE[int(rng.integers(len(_PALETTE)))] + rng.uniform(-0.08, 0.08, 3), 0, 1)
    return shape, colour.astype(np.float32), (1.0 - colour).astype(np.float32)


def _motion(action: str, t: np.ndarray, size: int, rng: np.random.Generator) -> list[dict]:
    """Poses of the moving object(s) over time ``t`` in [0, 1]: centre, radius and angle per frame."""
    s = float(size)
    ones = np.ones_like(t)
    radius = rng.uniform(0.09, 0.12) * s
    margin = radius + 2.0
    angle = rng.uniform(0.0, 2 * np.pi) * ones
    if action in ("MoveLeft", "MoveUp"):
        travel = rng.uniform(0.35, 0.5) * s
        along = rng.uniform(margin + travel, s - margin) - travel * t
        across = rng.uniform(margin, s - margin) * ones
        cx, cy = (along, across) if action == "MoveLeft" else (across, along)
        return [dict(cx=cx, cy=cy, radius=radius * ones, angle=angle)]
    if action == "RotateClockwise":
        radius = rng.uniform(0.16, 0.22) * s
        turns = rng.uniform(0.5, 1.0)
        cx, cy = rng.uniform(0.38, 0.62, size=2) * s
        return [dict(cx=cx * ones, cy=cy * ones, radius=radius * ones, angle=angle + 2 * np.pi * turns * t)]
    if action == "Grow":
        start = rng.uniform(0.06, 0.09) * s
        end = min(start * rng.uniform(2.0, 2.8), 0.28 * s)
        cx, cy = rng.uniform(0.4, 0.6, size=2) * s
        return [dict(cx=cx * ones, cy=cy * ones, radius=start + (end - start) * t, angle=angle)]
    if action == "Approach":
        direction = rng.uniform(0.0, np.pi)
        # centre distance from far apart to nearly touching (two radii are at most 0.2 * size)
        far, near = rng.uniform(0.6, 0.72) * s, rng.uniform(0.24, 0.3) * s
        gap = far - (far - near) * t
        mx, my = s / 2 + rng.uniform(-0.05, 0.05, size=2) * s
        offset_x, offset_y = np.cos(direction) * gap / 2, np.sin(direction) * gap / 2
        r1, r2 = rng.uniform(0.08, 0.1, size=2) * s
        return [
            dict(cx=mx - offset_x, cy=my - offset_y, radius=r1 * ones, angle=angle),
            dict(cx=mx + offset_x, cy=my + offset_y, radius=r2 * ones, angle=rng.uniform(0.0, 2 * np.pi) * ones),
        ]
    if action == "OrbitClockwise":
        orbit = rng.uniform(0.2, 0.28) * s
        phase = rng.uniform(0.0, 2 * np.pi) + 2 * np.pi * rng.uniform(0.5, 0.9) * t
        mx, my = s / 2 + rng.uniform(-0.05, 0.05, size=2) * s
        return [dict(cx=mx + orbit * np.cos(phase), cy=my + orbit * np.sin(phase), radius=radius * ones, angle=angle)]
    if action == "Bounce":
        floor = s - margin
        height = rng.uniform(0.4, 0.6) * s
        bounces = rng.uniform(1.5, 2.5)
        cy = floor - height * np.abs(np.sin(np.pi * bounces * t + rng.uniform(0.0, np.pi)))
        x0 = rng.uniform(0.3, 0.7) * s
        cx = x0 + rng.uniform(-0.15, 0.15) * s * t
        return [dict(cx=cx, cy=cy, radius=radius * ones, angle=angle)]
    raise ValueError(f"unknown action {action!r}; valid classes: {', '.join(ACTION_CLASSES)}")


def render_action_video(
    action: str, frames: int = 32, size: int = 64, seed: int | np.random.Generator | None = 0, clean: bool = False
) -> np.ndarray:
    """One procedural video of class ``action``: ``uint8 [frames, size, size, 3]`` RGB.

    A class of :data:`REVERSED_CLASSES` is the video of its partner class for the same ``seed``,
    played backwards (``render("MoveRight", seed=s) == render("MoveLeft", seed=s)[::-1]``).
    ``clean`` drops the camera jitter, flicker and pixel noise but keeps every other draw, so the
    scene and its motion are those of the noisy video (for figures and tests).
    """
    if action not in ACTION_CLASSES:
        raise ValueError(f"unknown action {action!r}; valid classes: {', '.join(ACTION_CLASSES)}")
    if frames < 2 or size < 16:
        raise ValueError(f"frames must be >= 2 and size >= 16, got frames={frames}, size={size}")
    if action in REVERSED_CLASSES:
        return np.ascontiguousarray(render_action_video(REVERSED_CLASSES[action], frames, size, seed, clean)[::-1])
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    side = size + 2 * _JITTER
    canvas = np.broadcast_to(textured_background(rng, side, side), (frames, side, side, 3)).copy()
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) + 0.5
    t = np.linspace(0.0, 1.0, frames)
    if rng.random() < 0.5:
        # a static distractor, drawn first so the moving objects pass over it
        shape, colour, _ = _appearance(rng)
        dx, dy = rng.uniform(0.15, 0.85, size=2) * size + _JITTER
        radius, angle = rng.uniform(0.05, 0.07) * size, rng.uniform(0.0, 2 * np.pi)
        composite(canvas, shape_alpha(shape, xs, ys, dx, dy, radius, angle), colour)
    for pose in _motion(action, t, size, rng):
        shape, colour, marker = _appearance(rng)
        cx, cy = pose["cx"] + _JITTER, pose["cy"] + _JITTER
        composite(canvas, shape_alpha(shape, xs, ys, cx, cy, pose["radius"], pose["angle"]), colour)
        # the marker sits half a radius out along the shape's own x axis, so rotation is visible
        mx = cx + 0.5 * pose["radius"] * np.cos(pose["angle"])
        my = cy + 0.5 * pose["radius"] * np.sin(pose["angle"])
        composite(canvas, shape_alpha("circle", xs, ys, mx, my, 0.22 * pose["radius"]), marker)
    # camera jitter: a clipped random walk of the view inside the padded canvas
    offsets = np.clip(np.cumsum(rng.integers(-1, 2, size=(frames, 2)), axis=0), -_JITTER, _JITTER) + _JITTER
    flicker = rng.uniform(-0.03, 0.03, size=(frames, 1, 1, 1)).astype(np.float32)
    noise = rng.normal(0.0, 0.02, size=(frames, size, size, 3)).astype(np.float32)
    if clean:
        offsets[:] = _JITTER
    rows = offsets[:, 0, None] + np.arange(size)
    cols = offsets[:, 1, None] + np.arange(size)
    video = canvas[np.arange(frames)[:, None, None], rows[:, :, None], cols[:, None, :]]
    if not clean:
        video += flicker + noise
    return (np.clip(video, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_video(path: str | Path, frames: np.ndarray, fps: int = 25, codec: str = "mpeg4") -> Path:
    """Encode ``uint8 [T, H, W, 3]`` RGB frames into a video file with PyAV (even H and W; yuv420p).

    ``mpeg4`` (the default) uses a high bit rate and one encoder thread, and writes the same bytes
    every time. ``libx264`` uses a near-lossless constant quality (crf 12) and one x264 thread, but
    is not bit-exact from run to run: now and then a frame is coded differently (a few grey levels),
    so use ``mpeg4`` where files must be reproducible.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {list(frames.shape)}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"frame height and width must be even for yuv420p, got {frames.shape[1]}x{frames.shape[2]}")
    if codec not in ("libx264", "mpeg4"):
        raise ValueError(f"codec must be 'libx264' or 'mpeg4', got {codec!r}")
    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "12", "preset": "veryfast", "x264-params": "threads=1:lookahead-threads=1"}
        else:
            stream.codec_context.thread_count = 1
            stream.bit_rate = 4_000_000
        for index, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _video_name(action: str, group: int, suffix: str) -> str:
    return f"{action}/v_{action}_g{group:02d}_c01{suffix}"


def write_generated_ucf101(
    folder: str | Path,
    videos_per_class: int = 10,
    frames: int = 32,
    size: int = 64,
    seed: int = 0,
    test_fraction: float = 0.3,
    codec: str = "mpeg4",
) -> Path:
    """Write the generated action videos and their split files in the UCF101 layout (see the module docstring).

    Video ``k`` of class ``c`` is group ``k + 1`` and is rendered from ``default_rng([seed, c, k])``
    (with the default ``mpeg4`` codec, the same arguments write the same bytes);
    the first ``round(test_fraction * videos_per_class)`` groups (at least one) form ``testlist01``,
    the rest ``trainlist01``. A folder already written with the same arguments is returned as it is;
    the files are written into a temporary sibling and moved into place, so an interrupted run leaves
    no half-written folder.

    Returns:
        ``folder``, ready for :func:`recur_vision.data.video.read_ucf101_split`.

    Raises:
        ValueError: bad arguments, or ``folder`` exists, is not empty and was not written with these arguments.
    """
    if videos_per_class < 2:
        raise ValueError(f"videos_per_class must be >= 2 (one test and one training video), got {videos_per_class}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    folder = Path(folder)
    options = dict(
        format=_FORMAT_VERSION,
        videos_per_class=videos_per_class,
        frames=frames,
        size=size,
        seed=seed,
        test_fraction=test_fraction,
        codec=codec,
    )
    n_test = min(max(1, round(test_fraction * videos_per_class)), videos_per_class - 1)

    def write(tmp: Path) -> None:
        lists = tmp / "ucfTrainTestlist"
        lists.mkdir(parents=True)
        train, test = [], []
        for c, action in enumerate(ACTION_CLASSES):
            (tmp / "UCF-101" / action).mkdir(parents=True)
            for k in range(videos_per_class):
                name = _video_name(action, k + 1, ".mp4")
                video = render_action_video(action, frames, size, np.random.default_rng([seed, c, k]))
                write_video(tmp / "UCF-101" / name, video, codec=codec)
                (test.append(name) if k < n_test else train.append(f"{name} {c + 1}"))
        (lists / "classInd.txt").write_text("".join(f"{c + 1} {a}\n" for c, a in enumerate(ACTION_CLASSES)))
        (lists / "trainlist01.txt").write_text("".join(f"{line}\n" for line in train))
        (lists / "testlist01.txt").write_text("".join(f"{line}\n" for line in test))

    return write_once(folder, options, "write_generated_ucf101", write)
