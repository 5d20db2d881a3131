"""``recur-vision extract``: per-frame CNN feature matrices ``[N, D, T]`` of a video set, written as files.

TS-LSTM and Temporal-Inception (Ma et al. 2019, https://arxiv.org/abs/1703.10667) read videos as
feature matrices: D CNN features at T = 25 equally spaced frames, stored by the official code as
``data_feat_{train,test}_RGB_centerCrop_25f_sp{1,2,3}.t7`` (``featMats [N, 2048, 25]``, ``labels``).
This writes the same matrices as ``.pt`` (or ``.npy``) files, from any UCF101-layout video set
(the generated videos, UCF101 under the data root, or any folder in that layout) and any frame
CNN: ``small``, ``caffenet``, a torchvision classifier by name (randomly initialised with a fixed
seed: nothing is downloaded), or the trained frame CNN of a recur-vision video checkpoint
(``--ckpt``, e.g. ``lrcn/single_frame``'s).

.. code-block:: bash

    recur-vision extract --out feats/                                    # the generated videos, small CNN
    recur-vision extract --dataset ucf101 --split 1 --backbone resnet18 \\
        --resize 256 340 --crop_size 224 --out feats/                     # UCF101 under the data root
    recur-vision extract --folder my_videos/ --ckpt runs/.../last.ckpt --out feats/

Files (``<subset>`` is ``train`` or ``test``, N videos of the split list, in its order):

- ``feat_<subset>_<tag>_<T>f_sp<split>.pt``: a dict ``features`` float32 ``[N, D, T]``, ``labels``
  int64 ``[N]``, ``names`` (``<Class>/<video>`` of each row), ``classes``, ``backbone``;
- with ``--format npy``: ``feat_..._sp<split>.npy`` (the features), ``....labels.npy`` and
  ``....json`` (``names``, ``classes``, ``backbone``).

A feature is the CNN's output before any fully connected layer (for ``small``/``caffenet``: the
last feature map pooled to a small grid and flattened; for a torchvision classifier: its pooled
features, the paper's "pre-FC" features).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from recur_vision.data.video import VideoClips, VideoEntry, read_ucf101_split

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "extract_features",
    "feature_file_name",
    "frame_feature_extractor",
    "main",
    "read_feature_file",
    "write_feature_file",
    "write_split_features",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def frame_feature_extractor(backbone: str = "small", seed: int = 0, ckpt: str | Path | None = None) -> nn.Module:
    """The frame CNN ``[N, 3, H, W] -> [N, D]`` in eval mode: ``backbone`` randomly initialised from ``seed``,
    or the CNN of a recur-vision video checkpoint ``ckpt`` (its model's ``encoder.cnn``).

    Raises:
        FileNotFoundError: no file at ``ckpt``.
        ValueError: an unknown backbone, or a checkpoint that is not a recur-vision video classifier.
    """
    if ckpt is not None:
        return _checkpoint_cnn(Path(ckpt)).eval()
    from recur_vision.models.lrcn import frame_cnn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        cnn, _ = frame_cnn(backbone)
    return cnn.eval()


def _checkpoint_cnn(path: Path) -> nn.Module:
    if not path.is_file():
        raise FileNotFoundError(f"--ckpt {path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        hparams, state = checkpoint["hyper_parameters"], checkpoint["state_dict"]
    except Exception as err:
        raise ValueError(f"--ckpt {path}: not a recur checkpoint") from err
    if not any(k.startswith("net.encoder.cnn.") for k in state):
        raise ValueError(
            f"--ckpt {path}: not a recur-vision video classifier (lrcn or lrcn_single_frame); no frame CNN"
        )
    from recur_core.registry import get_model

    net = get_model(hparams["model"], num_classes=hparams["num_classes"], **(hparams.get("model_kwargs") or {}))
    net.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")})
    return net.encoder.cnn


@torch.no_grad()
def extract_features(
    entries: Sequence[VideoEntry],
    cnn: nn.Module,
    num_frames: int = 25,
    resize: tuple[int, int] | None = None,
    crop_size: int | None = None,
    mean: Sequence[float] | None = IMAGENET_MEAN,
    std: Sequence[float] | None = IMAGENET_STD,
    batch_frames: int = 256,
    progress: bool = False,
) -> Tensor:
    """float32 ``[N, D, T]``: ``cnn`` on T = ``num_frames`` equally spaced, centre-cropped frames of each video.

    Frames of several videos go through the CNN together (about ``batch_frames`` at a time).
    """
    clips = VideoClips(entries, "tslstm", num_frames=num_frames, crop_size=crop_size, resize=resize, mean=mean, std=std)
    per_batch = max(1, batch_frames // num_frames)
    rows: list[Tensor] = []
    for start in range(0, len(clips), per_batch):
        frames = torch.cat([clips[i][0] for i in range(start, min(start + per_batch, len(clips)))])
        features = cnn(frames).float()
        rows.append(features.view(-1, num_frames, features.shape[-1]).transpose(1, 2))
        if progress:
            print(f"\r{min(start + per_batch, len(clips))}/{len(clips)} videos", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return torch.cat(rows).contiguous()


def feature_file_name(subset: str, tag: str, num_frames: int = 25, split: int = 1, fmt: str = "pt") -> str:
    """``feat_<subset>_<tag>_<T>f_sp<split>.<fmt>`` (TS-LSTM's ``data_feat_train_RGB_centerCrop_25f_sp1.t7``)."""
    return f"feat_{subset}_{tag}_{num_frames}f_sp{split}.{fmt}"


def write_feature_file(
    path: str | Path,
    features: Tensor,
    labels: Sequence[int],
    names: Sequence[str],
    classes: Sequence[str],
    backbone: str,
) -> Path:
    """Write one feature file (``.pt``, or ``.npy`` + ``.labels.npy`` + ``.json``), atomically."""
    path = Path(path)
    if features.dim() != 3 or features.shape[0] != len(labels) or len(labels) != len(names):
        raise ValueError(
            f"features [N, D, T] with N labels and names, got {tuple(features.shape)}, {len(labels)}, {len(names)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"names": list(names), "classes": list(classes), "backbone": backbone}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if path.suffix == ".pt":
        torch.save({"features": features.float(), "labels": torch.as_tensor(labels, dtype=torch.int64), **meta}, tmp)
        os.replace(tmp, path)
    elif path.suffix == ".npy":
        stem = path.with_suffix("")
        with open(tmp, "wb") as f:
            np.save(f, features.float().numpy())
        np.save(stem.with_suffix(".labels.npy"), np.asarray(labels, dtype=np.int64))
        stem.with_suffix(".json").write_text(json.dumps(meta) + "\n")
        os.replace(tmp, path)
    else:
        raise ValueError(f"{path}: a feature file ends in .pt or .npy")
    return path


def read_feature_file(path: str | Path) -> dict[str, Any]:
    """A feature file as written by :func:`write_feature_file`: ``features`` [N, D, T], ``labels`` [N], names, classes.

    Raises:
        FileNotFoundError: the file (or a ``.npy`` file's companions) is missing.
        ValueError: not a feature file, or shapes that disagree.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"feature file not found: {path}; write it with 'recur-vision extract'")
    try:
        if path.suffix == ".npy":
            stem = path.with_suffix("")
            meta = json.loads(stem.with_suffix(".json").read_text())
            content = {
                "features": torch.from_numpy(np.load(path)),
                "labels": torch.from_numpy(np.load(stem.with_suffix(".labels.npy"))),
                **meta,
            }
        else:
            content = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"{path}: {err.filename} is missing; a .npy feature file comes with .labels.npy and .json"
        ) from None
    except Exception as err:
        raise ValueError(
            f"{path}: not a feature file written by 'recur-vision extract' ({type(err).__name__})"
        ) from None
    if not isinstance(content, dict) or not {"features", "labels", "classes"} <= content.keys():
        raise ValueError(f"{path}: not a feature file (expected features, labels and classes)")
    features, labels = content["features"], content["labels"]
    if features.dim() != 3 or labels.dim() != 1 or len(features) != len(labels):
        raise ValueError(
            f"{path}: features must be [N, D, T] with N labels, got {tuple(features.shape)} and {tuple(labels.shape)}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= len(content["classes"])):
        raise ValueError(f"{path}: labels outside 0..{len(content['classes']) - 1} (the file's classes)")
    content["features"], content["labels"] = features.float(), labels.long()
    return content


def write_split_features(
    folder: str | Path,
    out: str | Path,
    cnn: nn.Module,
    tag: str,
    split: int = 1,
    num_frames: int = 25,
    resize: tuple[int, int] | None = None,
    crop_size: int | None = None,
    fmt: Literal["pt", "npy"] = "pt",
    progress: bool = False,
) -> dict[str, Path]:
    """Feature files of the train and test lists of one split of a UCF101-layout ``folder``; ``{subset: path}``."""
    written = {}
    for subset in ("train", "test"):
        videos = read_ucf101_split(folder, split, subset)
        features = extract_features(videos.entries, cnn, num_frames, resize, crop_size, progress=progress)
        path = Path(out) / feature_file_name(subset, tag, num_frames, split, fmt)
        names = [e.name for e in videos.entries]
        written[subset] = write_feature_file(path, features, videos.labels.tolist(), names, videos.classes, tag)
    return written


# ---------------------------------------------------------------------------------------------
# the command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recur-vision extract",
        description="Write per-frame CNN feature matrices [N, D, T] of a UCF101-layout set (train and test lists).",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset", choices=("generated", "ucf101"), default="generated", help="video set (default: generated)"
    )
    source.add_argument("--folder", help="any folder in the UCF101 layout (UCF-101/<Class>/..., ucfTrainTestlist/)")
    parser.add_argument("--root", help="data root for --dataset ucf101 (default: $RECUR_DATA, else the user cache)")
    parser.add_argument("--split", type=int, default=1, help="official split 1, 2 or 3 (default 1)")
    parser.add_argument(
        "--backbone", default="small", help="small, caffenet or a torchvision classifier (default small)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the backbone's random initialisation (default 0)")
    parser.add_argument("--ckpt", help="use the frame CNN of this recur-vision video checkpoint instead of --backbone")
    parser.add_argument("--num_frames", type=int, default=25, help="equally spaced frames per video (default 25)")
    parser.add_argument("--resize", type=int, nargs=2, metavar=("H", "W"), help="resize frames before cropping")
    parser.add_argument("--crop_size", type=int, help="centre crop side (default: the whole frame)")
    parser.add_argument("--format", choices=("pt", "npy"), default="pt", help="file format (default pt)")
    parser.add_argument("--out", required=True, help="folder the feature files are written to")
    parser.add_argument(
        "--videos_per_class",
        type=int,
        default=200,
        help="generated videos per class (default 200, the feature recipes')",
    )
    return parser


def run(args: argparse.Namespace) -> dict[str, Path]:
    """Run ``recur-vision extract`` with parsed ``args``; returns the files written."""
    if args.num_frames < 1:
        raise ValueError(f"--num_frames must be >= 1, got {args.num_frames}")
    if args.folder is not None:
        folder = Path(args.folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"--folder {folder}: no such folder")
    elif args.dataset == "ucf101":
        from recur_core.data import dataset_dir

        folder = dataset_dir("ucf101", args.root, label="UCF101")
    else:
        from recur_vision.datamodules import generated_video_folder

        folder = generated_video_folder(videos_per_class=args.videos_per_class)
    cnn = frame_feature_extractor(args.backbone, args.seed, args.ckpt)
    tag = "ckpt" if args.ckpt else args.backbone
    resize = tuple(args.resize) if args.resize else None
    return write_split_features(
        folder, args.out, cnn, tag, args.split, args.num_frames, resize, args.crop_size, args.format, progress=True
    )


def main(argv: list[str] | None = None) -> int:
    """``recur-vision extract ...``: a user's mistake is one line on stderr and exit status 2."""
    args = _parser().parse_args(argv)
    try:
        written = run(args)
    except (ValueError, FileNotFoundError) as err:
        if os.environ.get("RECUR_DEBUG", "") not in ("", "0"):
            raise
        print(f"recur-vision extract: error: {err}", file=sys.stderr)
        return 2
    for subset, path in written.items():
        print(f"{subset}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
